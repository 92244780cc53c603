"""The CIFAR-10 reader on small folders written in the real on-disk format: reading, integrity, refusing code,
download and extraction, and the splits load_dataset applies."""

from __future__ import annotations

import dataclasses
import functools
import http.server
import os
import pickle
import threading
from pathlib import Path

import numpy as np
import pytest
import torch

from explorer.config.run import DataConfig
from explorer.data.cifar import load_cifar10
from explorer.data.cifar_spec import default_data_dir
from explorer.data.errors import DatasetError
from explorer.data.loading import load_dataset
from explorer.data import cifar, cifar_spec
from tests.cifar_fixture import LABEL_NAMES, batch_images, dumps_py2, write_cifar_archive, write_cifar_dir

N = 20  # images per batch file in the fixture


@pytest.fixture
def cifar_dir(tmp_path: Path) -> Path:
    write_cifar_dir(tmp_path, N)
    return tmp_path


def batch_path(root: Path, name: str) -> Path:
    return root / "cifar-10-batches-py" / name


def test_reads_the_real_format(cifar_dir: Path) -> None:
    dataset = load_cifar10(cifar_dir, download=False)

    assert dataset.name == "cifar10" and dataset.classes == LABEL_NAMES
    assert dataset.train_images.shape == (5 * N, 3, 32, 32) and dataset.train_images.dtype == torch.uint8
    assert dataset.test_images.shape == (N, 3, 32, 32) and dataset.test_labels.dtype == torch.int64
    rows, labels = batch_images(N, seed=0, index=2)  # data_batch_3
    image = dataset.train_images[2 * N + 4]
    # Row layout: 1024 red bytes, then green, then blue, each plane row-major.
    assert image[0, 0, 0] == rows[4, 0]
    assert image[1, 5, 7] == rows[4, 1024 + 5 * 32 + 7]
    assert image[2, 31, 30] == rows[4, 2048 + 31 * 32 + 30]
    assert dataset.train_labels[2 * N : 3 * N].tolist() == labels
    test_rows, test_labels = batch_images(N, seed=0, index=5)
    assert torch.equal(dataset.test_images.reshape(N, -1), torch.from_numpy(test_rows))
    assert dataset.test_labels.tolist() == test_labels


@pytest.mark.parametrize("ours, theirs", [("CIFAR10", "CIFAR10"), ("CIFAR100", "CIFAR100")])
def test_published_checksums_and_names_are_torchvisions(ours, theirs) -> None:
    import torchvision.datasets

    spec, reference = getattr(cifar_spec, ours), getattr(torchvision.datasets, theirs)
    published = dict(reference.train_list + reference.test_list)
    published[reference.meta["filename"]] = reference.meta["md5"]
    published[reference.filename] = reference.tgz_md5
    assert dict(spec.checksums) == published
    assert (spec.url, spec.folder, spec.archive) == (reference.url, reference.base_folder, reference.filename)


def test_files_that_are_not_the_published_ones_fail_the_published_checksums(tmp_path: Path) -> None:
    write_cifar_dir(tmp_path, N, manifest=False)
    with pytest.raises(DatasetError, match="data_batch_1 is corrupt \\(checksum mismatch\\); delete it"):
        load_cifar10(tmp_path, download=False)


def test_second_load_trusts_the_stamp_until_a_file_changes(cifar_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    load_cifar10(cifar_dir, download=False)
    assert batch_path(cifar_dir, ".verified").is_file()

    def no_hashing(path: Path) -> str:
        raise AssertionError(f"{path} hashed again")

    with monkeypatch.context() as m:
        m.setattr(cifar, "_md5", no_hashing)
        load_cifar10(cifar_dir, download=False)

    path = batch_path(cifar_dir, "data_batch_4")
    payload = bytearray(path.read_bytes())
    payload[-100] ^= 0xFF  # same size, new mtime: the stamp no longer vouches for it
    path.write_bytes(bytes(payload))
    with pytest.raises(DatasetError, match="data_batch_4 is corrupt"):
        load_cifar10(cifar_dir, download=False)


def test_flipped_byte_is_refused_naming_the_file(cifar_dir: Path) -> None:
    path = batch_path(cifar_dir, "data_batch_3")
    payload = bytearray(path.read_bytes())
    payload[len(payload) // 2] ^= 0x01
    path.write_bytes(bytes(payload))

    with pytest.raises(DatasetError) as caught:
        load_cifar10(cifar_dir, download=False)
    assert str(caught.value) == (
        f"CIFAR-10 file {path} is corrupt (checksum mismatch); delete it and download again"
    )


def test_truncated_file_is_refused_naming_the_file(cifar_dir: Path) -> None:
    path = batch_path(cifar_dir, "data_batch_2")
    path.write_bytes(path.read_bytes()[:5000])
    with pytest.raises(DatasetError, match=f"{path} is corrupt"):
        load_cifar10(cifar_dir, download=False)
    # Without a checksum to catch it, the reader itself refuses the cut-off pickle.
    with pytest.raises(DatasetError, match=f"{path} is truncated or damaged"):
        load_cifar10(cifar_dir, download=False, verify=False)


def test_wrong_shape_is_refused(cifar_dir: Path) -> None:
    path = batch_path(cifar_dir, "test_batch")
    rows, labels = batch_images(N, seed=0, index=5)
    path.write_bytes(dumps_py2({b"data": rows[:, :3000], b"labels": labels}))
    with pytest.raises(DatasetError, match=f"{path} does not hold CIFAR-10 images"):
        load_cifar10(cifar_dir, download=False, verify=False)


class _RunsCode:
    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return os.system, (f"touch {self.marker}",)


def test_a_pickle_that_runs_code_is_refused_and_never_run(cifar_dir: Path, tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    payload = dumps_py2({b"data": _RunsCode(marker), b"labels": []})
    path = batch_path(cifar_dir, "data_batch_2")
    path.write_bytes(payload)

    with pytest.raises(DatasetError) as caught:
        load_cifar10(cifar_dir, download=False, verify=False)
    message = str(caught.value)
    assert message.startswith(f"CIFAR-10 file {path} was refused: it asks to run code (")
    assert "system)" in message and message.endswith("delete it and download again")
    assert not marker.exists()

    pickle.loads(payload)  # the payload is live: an ordinary unpickler runs it
    assert marker.exists()


def test_missing_folder_without_download_says_what_to_do(tmp_path: Path) -> None:
    with pytest.raises(DatasetError) as caught:
        load_cifar10(tmp_path, download=False)
    assert str(caught.value) == (
        f"CIFAR-10 is not in {tmp_path}; put cifar-10-python.tar.gz there, allow the download, "
        "or choose the synthetic dataset"
    )


def test_offline_download_fails_with_one_sentence(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    spec = dataclasses.replace(cifar.CIFAR10, url="http://127.0.0.1:9/cifar-10-python.tar.gz")
    with pytest.raises(DatasetError) as caught:
        cifar.load_cifar(spec, tmp_path / "data", download=True)
    message = str(caught.value)
    assert message.startswith(f"could not download CIFAR-10 to {tmp_path / 'data'}: ")
    assert message.endswith("; put cifar-10-python.tar.gz there or choose the synthetic dataset")
    assert "\n" not in message and "Traceback" not in message


def test_archive_already_present_is_checked_and_extracted(tmp_path: Path) -> None:
    checksums = write_cifar_archive(tmp_path, N)
    assert not batch_path(tmp_path, "data_batch_1").exists()

    dataset = load_cifar10(tmp_path, download=False, checksums=checksums)
    assert dataset.train_images.shape == (5 * N, 3, 32, 32)
    assert batch_path(tmp_path, "data_batch_1").is_file()


def test_corrupt_archive_is_refused(tmp_path: Path) -> None:
    checksums = write_cifar_archive(tmp_path, N)
    archive = tmp_path / "cifar-10-python.tar.gz"
    archive.write_bytes(archive.read_bytes()[:-10])
    with pytest.raises(DatasetError, match=f"archive {archive} is corrupt \\(checksum mismatch\\)"):
        load_cifar10(tmp_path, download=False, checksums=checksums)


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args: object) -> None:
        pass


def test_download_reports_progress_and_extracts(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    served = tmp_path / "server"
    checksums = write_cifar_archive(served, N)
    size = (served / "cifar-10-python.tar.gz").stat().st_size
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_QuietHandler, directory=served))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        spec = dataclasses.replace(
            cifar.CIFAR10, url=f"http://127.0.0.1:{server.server_address[1]}/cifar-10-python.tar.gz")
        calls: list[tuple[int, int]] = []
        dataset = cifar.load_cifar(spec, tmp_path / "data", checksums=checksums,
                                   progress=lambda d, t: calls.append((d, t)))
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
    assert dataset.test_images.shape == (N, 3, 32, 32)
    assert calls and calls[-1] == (size, size)
    assert [d for d, _ in calls] == sorted(d for d, _ in calls)


def test_default_data_dir(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("RESNET_EXPLORER_DATA", str(tmp_path / "mine"))
    assert default_data_dir() == tmp_path / "mine"
    monkeypatch.delenv("RESNET_EXPLORER_DATA")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    assert default_data_dir() == tmp_path / "cache" / "resnet-explorer" / "cifar10"
    monkeypatch.delenv("XDG_CACHE_HOME")
    assert default_data_dir() == Path.home() / ".cache" / "resnet-explorer" / "cifar10"


def test_load_dataset_reads_the_fixture_with_its_manifest(cifar_dir: Path) -> None:
    dataset = load_dataset(DataConfig(dataset="cifar10", data_dir=str(cifar_dir)))
    assert len(dataset.train_labels) == 5 * N and len(dataset.test_labels) == N


def test_validation_split_is_fixed_and_held_out(cifar_dir: Path) -> None:
    full = load_dataset(DataConfig(data_dir=str(cifar_dir)))
    val = load_dataset(DataConfig(data_dir=str(cifar_dir), split="val"), seed=1)
    again = load_dataset(DataConfig(data_dir=str(cifar_dir), split="val"), seed=2)

    assert len(val.train_labels) == 90 and len(val.test_labels) == 10
    assert torch.equal(val.test_images, again.test_images)  # independent of the run's seed
    rows = {bytes(image.flatten().tolist()) for image in full.train_images}
    train_rows = {bytes(image.flatten().tolist()) for image in val.train_images}
    test_rows = {bytes(image.flatten().tolist()) for image in val.test_images}
    assert train_rows | test_rows == rows and not train_rows & test_rows


def test_train_subset_is_seeded(cifar_dir: Path) -> None:
    config = DataConfig(data_dir=str(cifar_dir), train_subset=30)
    a, b = load_dataset(config, seed=3), load_dataset(config, seed=3)
    c = load_dataset(config, seed=4)
    assert a.train_images.shape == (30, 3, 32, 32) and len(a.test_labels) == N
    assert torch.equal(a.train_images, b.train_images) and torch.equal(a.train_labels, b.train_labels)
    assert not torch.equal(a.train_images, c.train_images)
    with pytest.raises(ValueError, match="train-subset 101 is larger than the 100 training images"):
        load_dataset(DataConfig(data_dir=str(cifar_dir), train_subset=101))


def test_a_batch_file_holds_no_more_images_than_the_published_one(cifar_dir: Path) -> None:
    path = batch_path(cifar_dir, "test_batch")
    rows = np.zeros((10_001, 3072), dtype=np.uint8)
    path.write_bytes(dumps_py2({b"data": rows, b"labels": [0] * 10_001}))
    with pytest.raises(DatasetError) as caught:
        load_cifar10(cifar_dir, download=False, verify=False)
    assert str(caught.value) == (f"CIFAR-10 file {path} holds 10,001 images, more than the 10,000 of the published "
                                 "test_batch; delete it and download again")


def test_a_file_larger_than_any_copy_is_refused_before_it_is_hashed_or_read(cifar_dir: Path,
                                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    load_cifar10(cifar_dir, download=False)  # stamped: the other files are not hashed again
    path = batch_path(cifar_dir, "data_batch_2")
    os.truncate(path, 64 << 30)  # sparse: 64 GiB that take no disk, vouched for by the folder's own list
    limit = cifar.CIFAR10.max_bytes("data_batch_2")
    sentence = (f"CIFAR-10 file {path} is {64 << 30:,} bytes, more than the {limit:,} a CIFAR-10 file of that name "
                "can have; delete it and download again")

    def no_hashing(path: Path, spec: object) -> str:
        raise AssertionError(f"{path} hashed")

    with monkeypatch.context() as m:
        m.setattr(cifar, "_md5", no_hashing)
        with pytest.raises(DatasetError) as caught:
            load_cifar10(cifar_dir, download=False)
    assert str(caught.value) == sentence
    with pytest.raises(DatasetError) as caught:  # and the reader bounds what it reads on its own
        load_cifar10(cifar_dir, download=False, verify=False)
    assert str(caught.value) == sentence


class _Array:
    """Pickles as ``numpy.ndarray(shape, dtype)``: an uninitialised array of any shape, from a few bytes."""

    def __init__(self, shape: tuple[int, ...]) -> None:
        self.shape = shape

    def __reduce__(self):
        return np.ndarray, (self.shape, np.dtype("u1"))


@pytest.mark.parametrize("data, asks", [
    (_Array((10, 3072)), "for an array of shape (10, 3072) without the data to fill it"),
    # A file holds one array; a crafted one could fill many byte-swapped arrays (each a copy) from one string.
    ([np.zeros(1024, ">u4") for _ in range(3)], "for more than one array"),
])
def test_the_reader_makes_no_array_the_file_does_not_hold(cifar_dir: Path, data: object, asks: str) -> None:
    path = batch_path(cifar_dir, "data_batch_1")
    path.write_bytes(pickle.dumps({b"data": data, b"labels": list(range(10))}, protocol=2))
    with pytest.raises(DatasetError) as caught:
        load_cifar10(cifar_dir, download=False, verify=False)
    assert str(caught.value) == (f"CIFAR-10 file {path} was refused: it asks {asks}, which no CIFAR-10 file does; "
                                 "delete it and download again")


def test_the_bounds_admit_the_largest_faithful_copy(cifar_dir: Path) -> None:
    """A full test batch re-pickled by Python 3 with protocol 2 at its largest: every pixel byte above 127, which
    UTF-8 spells with two bytes, and long file names; the published files are smaller still (31,035,704 bytes
    for data_batch_1)."""
    path = batch_path(cifar_dir, "test_batch")
    rows = np.full((10_000, 3072), 200, dtype=np.uint8)
    names = [f"leptodactylus_pentadactylus_s_{i:06d}_{'x' * 60}.png".encode() for i in range(10_000)]
    path.write_bytes(pickle.dumps({b"batch_label": b"testing batch 1 of 1", b"labels": [9] * 10_000, b"data": rows,
                                   b"filenames": names}, protocol=2))
    assert 2 * rows.size < path.stat().st_size <= cifar.CIFAR10.max_bytes("test_batch")
    assert 31_035_999 <= cifar.CIFAR10.max_bytes("data_batch_3")
    dataset = load_cifar10(cifar_dir, download=False, verify=False)
    assert dataset.test_images.shape == (10_000, 3, 32, 32) and int(dataset.test_images[-1, 2, 31, 31]) == 200

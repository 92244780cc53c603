"""CIFAR-100 as torchvision publishes it (one ``train`` and one ``test`` pickle, ``meta``, fine and coarse labels),
read by the same safe reader as CIFAR-10 from small folders written in the real format; its 100 classes reach
the paper-style nets' last layer."""

from __future__ import annotations

import dataclasses
import functools
import http.server
import threading
from pathlib import Path

import pytest
import torch

from explorer.analysis.inputs import networks
from explorer.config.run import DataConfig, RunConfig, TrainConfig
from explorer.data import cifar
from explorer.data.cifar_spec import CIFAR100
from explorer.data.errors import DatasetError
from explorer.data.loading import load_dataset
from explorer.data.location import DOWNLOAD, READY, VERIFY, data_state
from tests.cifar_fixture import FINE_NAMES, FOLDER_100, batch_images, dumps_py2, write_cifar100_dir, write_cifar_archive
from tests.test_cli_train import only_run, train

N_TRAIN, N_TEST = 60, 20


@pytest.fixture
def cifar100_dir(tmp_path: Path) -> Path:
    write_cifar100_dir(tmp_path, N_TRAIN, N_TEST)
    return tmp_path


def test_reads_the_real_format_with_the_fine_labels(cifar100_dir: Path) -> None:
    dataset = load_dataset(DataConfig(dataset="cifar100", data_dir=str(cifar100_dir)))
    assert dataset.name == "cifar100" and dataset.classes == FINE_NAMES and len(dataset.classes) == 100
    assert dataset.train_images.shape == (N_TRAIN, 3, 32, 32) and dataset.train_images.dtype == torch.uint8
    rows, fine = batch_images(N_TRAIN, seed=0, index=0, classes=100)
    assert dataset.train_labels.tolist() == fine and max(fine) >= 20  # fine labels, not the 20 coarse ones
    image = dataset.train_images[7]
    assert image[0, 0, 0] == rows[7, 0] and image[1, 3, 9] == rows[7, 1024 + 3 * 32 + 9]
    assert image[2, 31, 31] == rows[7, 3071]
    test_rows, test_fine = batch_images(N_TEST, seed=0, index=5, classes=100)
    assert torch.equal(dataset.test_images.reshape(N_TEST, -1), torch.from_numpy(test_rows))
    assert dataset.test_labels.tolist() == test_fine


def test_a_label_beyond_the_hundred_classes_is_refused_naming_the_file(cifar100_dir: Path) -> None:
    folder = cifar100_dir / FOLDER_100
    rows, fine = batch_images(N_TEST, seed=0, index=5, classes=100)
    fine[3] = 100
    (folder / "test").write_bytes(dumps_py2({b"data": rows, b"fine_labels": fine, b"coarse_labels": fine}))
    with pytest.raises(DatasetError, match=r"CIFAR-100 file .*test does not hold CIFAR-100 images"):
        cifar.load_cifar(CIFAR100, cifar100_dir, verify=False)


def test_a_changed_file_fails_its_checksum(cifar100_dir: Path) -> None:
    path = cifar100_dir / FOLDER_100 / "train"
    data = bytearray(path.read_bytes())
    data[-100] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(DatasetError, match="train"):
        load_dataset(DataConfig(dataset="cifar100", data_dir=str(cifar100_dir)))


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args: object) -> None:
        pass


def test_downloads_checks_and_extracts_the_archive(tmp_path: Path) -> None:
    served = tmp_path / "server"
    checksums = write_cifar_archive(served, N_TEST, hundred=True)
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_QuietHandler, directory=served))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    data = tmp_path / "data"
    assert data_state(DataConfig(dataset="cifar100", data_dir=str(data))) == DOWNLOAD
    try:
        spec = dataclasses.replace(CIFAR100, url=f"http://127.0.0.1:{server.server_address[1]}/{CIFAR100.archive}")
        dataset = cifar.load_cifar(spec, data, checksums=checksums)
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
    assert len(dataset.train_labels) == 3 * N_TEST and len(dataset.classes) == 100
    assert sorted(p.name for p in (data / FOLDER_100).iterdir() if not p.name.startswith(".")) == ["meta", "test",
                                                                                                   "train"]
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / CIFAR100.archive).write_bytes((served / CIFAR100.archive).read_bytes()[:-10])
    assert data_state(DataConfig(dataset="cifar100", data_dir=str(bad))) == VERIFY
    with pytest.raises(DatasetError, match="corrupt"):
        cifar.load_cifar(CIFAR100, bad, download=False)


def test_the_nets_last_layer_follows_the_data() -> None:
    config = RunConfig(data=DataConfig(dataset="cifar100"), train=TrainConfig(depths=(20,)))
    assert config.num_classes == 100 and {m.num_classes for m in config.model_configs()} == {100}


def test_a_cifar100_run_trains_a_hundred_way_classifier(tmp_path: Path) -> None:
    write_cifar100_dir(tmp_path / "c100", N_TRAIN, N_TEST)
    done = train(tmp_path, "--dataset", "cifar100", "--data-dir", str(tmp_path / "c100"), "--iterations", "4",
                 "--batch-size", "8", "--depths", "8", "--compare", "residual", "--log-every", "2")
    assert done.returncode == 0, done.stderr
    run = only_run(tmp_path)
    events, _ = run.read_events()
    assert events[0]["dataset"] == "cifar100" and events[-1]["status"] == "finished"
    (network,) = networks(run, 4, torch.device("cpu"))
    assert network.model.fc.out_features == 100
    assert data_state(DataConfig(dataset="cifar100", data_dir=str(tmp_path / "c100"))) == READY  # stamped

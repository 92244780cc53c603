"""An untrusted data folder stays a data folder: crafted archives, planted links, partial checksum lists,
files changed behind the stamp's back, a folder that is a file or cannot be read, and Python 3 pickles; and a
small file, vouched for or not, never turns into a large memory or a full disk.
Each case runs the real `resnet-explorer data` / `train` process on real files."""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
import pickle
import resource
import subprocess
import sys
import tarfile
from pathlib import Path

import numpy as np
import pytest

from explorer.data.archive import MAX_MEMBERS
from explorer.data.cifar_spec import CIFAR10
from tests.cifar_fixture import write_cifar_archive, write_cifar_dir
from tests.faults.harness import TINY, cli, env, one_line

FOLDER = "cifar-10-batches-py"
FILES = [*(f"data_batch_{i}" for i in range(1, 6)), "test_batch", "batches.meta"]


def _manifest_without_archive(data: Path) -> None:
    """A checksum list for the batch files (whatever they will be) that says nothing of the archive: the
    archive is then extracted, so the extraction itself must be safe."""
    (data / FOLDER).mkdir(parents=True)
    (data / FOLDER / "md5sums.json").write_text(json.dumps({name: "0" * 32 for name in FILES}))


def _md5(path: Path) -> str:
    return hashlib.md5(path.read_bytes()).hexdigest()


def _archive(data: Path, members: list[tuple[tarfile.TarInfo, bytes | None]]) -> None:
    with tarfile.open(data / "cifar-10-python.tar.gz", "w:gz") as tar:
        for info, payload in members:
            if payload is not None:
                info.size = len(payload)
            tar.addfile(info, io.BytesIO(payload) if payload is not None else None)


def _file(name: str, payload: bytes = b"export EVIL=1\n") -> tuple[tarfile.TarInfo, bytes]:
    return tarfile.TarInfo(name), payload


def _link(name: str, target: str, kind: bytes = tarfile.SYMTYPE) -> tuple[tarfile.TarInfo, None]:
    info = tarfile.TarInfo(name)
    info.type, info.linkname = kind, target
    return info, None


def _device(name: str) -> tuple[tarfile.TarInfo, None]:
    info = tarfile.TarInfo(name)
    info.type, info.devmajor, info.devminor = tarfile.CHRTYPE, 1, 3
    return info, None


@pytest.mark.parametrize("case", ["dot-dot", "absolute", "symlink-then-write", "hardlink", "device"])
def test_a_crafted_archive_writes_nothing_outside_the_data_folder(tmp_path, case):
    data = tmp_path / "data"
    _manifest_without_archive(data)
    home = tmp_path / "home"
    outside = tmp_path / "outside.txt"
    members = {
        "dot-dot": [_file(f"{FOLDER}/../../home/.bashrc")],
        "absolute": [_file(str(outside))],
        "symlink-then-write": [_link(f"{FOLDER}/data_batch_1", str(home / ".bashrc")), _file(f"{FOLDER}/data_batch_1")],
        "hardlink": [_link(f"{FOLDER}/data_batch_1", str(home / ".profile"), tarfile.LNKTYPE)],
        "device": [_device(f"{FOLDER}/data_batch_1")],
    }[case]
    _archive(data, members)
    (home).mkdir()
    (home / ".profile").write_text("mine\n")

    done = cli(tmp_path, "data", "--dataset", "cifar10", "--data-dir", str(data))

    assert done.returncode == 1
    line = one_line(done.stderr)
    assert f"archive {data / 'cifar-10-python.tar.gz'} was refused: its member" in line
    assert line.endswith("which no genuine archive has; delete it and download again")
    assert not (home / ".bashrc").exists() and not outside.exists()
    assert (home / ".profile").read_text() == "mine\n"
    assert sorted(p.name for p in (data / FOLDER).iterdir()) == ["md5sums.json"]  # nothing extracted


def test_a_link_where_the_dataset_folder_belongs_is_refused(tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (data / FOLDER).symlink_to(elsewhere)
    write_cifar_dir(tmp_path / "staging")
    with tarfile.open(data / "cifar-10-python.tar.gz", "w:gz") as tar:
        tar.add(tmp_path / "staging" / FOLDER, arcname=FOLDER)
    done = cli(tmp_path, "data", "--dataset", "cifar10", "--data-dir", str(data))
    assert done.returncode == 1
    assert one_line(done.stderr).endswith(f"{data / FOLDER} is a link, not a folder; the CIFAR-10 folder must hold "
                                          "its files itself - remove the link and try again")
    assert list(elsewhere.iterdir()) == []


@pytest.mark.parametrize("planted", [".verified.tmp", ".verified"])
def test_the_checksum_stamp_never_writes_through_a_planted_link(tmp_path, planted):
    data = tmp_path / "data"
    write_cifar_dir(data)
    victim = tmp_path / "victim.txt"
    victim.write_text("precious\n")
    (data / FOLDER / planted).symlink_to(victim)
    done = cli(tmp_path, "data", "--dataset", "cifar10", "--data-dir", str(data))
    assert done.returncode == 0, done.stderr
    assert victim.read_text() == "precious\n"
    stamp = data / FOLDER / ".verified"
    assert not stamp.is_symlink() and set(json.loads(stamp.read_text())) == set(FILES)


def test_a_fifo_planted_in_the_data_folder_neither_hangs_nor_is_read(tmp_path):
    data = tmp_path / "data"
    write_cifar_dir(data)
    os.mkfifo(data / FOLDER / ".verified")  # the stamp: a reader that opened it would wait forever
    done = cli(tmp_path, "data", "--dataset", "cifar10", "--data-dir", str(data), timeout=60)
    assert done.returncode == 0, done.stderr  # no stamp to trust: every file hashed, and the data is fine
    os.mkfifo(data / FOLDER / "data_batch_9")
    (data / FOLDER / "data_batch_3").unlink()
    os.mkfifo(data / FOLDER / "data_batch_3")
    done = cli(tmp_path, "data", "--dataset", "cifar10", "--data-dir", str(data), timeout=60)
    assert done.returncode == 1
    assert one_line(done.stderr).endswith(f"{data / FOLDER / 'data_batch_3'} is not a regular file; remove it and "
                                          "try again")


def test_a_link_where_the_archive_belongs_is_refused_before_any_download(tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    victim = tmp_path / "home" / ".bashrc"
    victim.parent.mkdir()
    victim.write_text("mine\n")
    (data / "cifar-10-python.tar.gz").symlink_to(victim)  # a download would write through it
    done = cli(tmp_path, "data", "--dataset", "cifar10", "--data-dir", str(data))
    assert done.returncode == 1
    assert one_line(done.stderr).endswith(f"{data / 'cifar-10-python.tar.gz'} is a link or not a regular file, "
                                          "where the CIFAR-10 archive belongs; remove it and try again")
    assert victim.read_text() == "mine\n"


@pytest.mark.parametrize("sums, missing", [({}, "data_batch_1"), ("drop test_batch", "test_batch")])
def test_a_checksum_list_that_leaves_files_out_is_refused(tmp_path, sums, missing):
    data = tmp_path / "data"
    checksums = write_cifar_dir(data)
    if sums != {}:
        sums = {k: v for k, v in checksums.items() if k != "test_batch"}
    manifest = data / FOLDER / "md5sums.json"
    manifest.write_text(json.dumps(sums))
    done = cli(tmp_path, "data", "--dataset", "cifar10", "--data-dir", str(data))
    assert done.returncode == 1
    assert one_line(done.stderr) == (f"resnet-explorer data: checksum list {manifest} has no md5 sum for {missing}; "
                                     "add one for every file, or delete the list to check against the published sums")


def test_a_file_changed_with_its_size_and_mtime_kept_is_hashed_again(tmp_path):
    data = tmp_path / "data"
    write_cifar_dir(data)
    assert cli(tmp_path, "data", "--dataset", "cifar10", "--data-dir", str(data)).returncode == 0  # stamped
    batch = data / FOLDER / "data_batch_2"
    before = batch.stat()
    payload = bytearray(batch.read_bytes())
    payload[len(payload) // 2] ^= 0xFF
    with open(batch, "r+b") as f:  # the same file, the same size
        f.write(payload)
    os.utime(batch, ns=(before.st_atime_ns, before.st_mtime_ns))  # and the mtime put back
    assert (batch.stat().st_size, batch.stat().st_mtime_ns) == (before.st_size, before.st_mtime_ns)
    done = cli(tmp_path, "data", "--dataset", "cifar10", "--data-dir", str(data))
    assert done.returncode == 1
    assert one_line(done.stderr).endswith(f"CIFAR-10 file {batch} is corrupt (checksum mismatch); delete it and "
                                          "download again")


def test_a_data_folder_that_is_a_file_is_named_as_such_and_leaves_no_run(tmp_path):
    not_a_folder = tmp_path / "cifar.txt"
    not_a_folder.write_text("")
    done = cli(tmp_path, "train", *TINY[2:], "--dataset", "cifar10", "--data-dir", str(not_a_folder),
               "--iterations", "5")
    assert done.returncode == 1
    assert one_line(done.stderr) == (f"resnet-explorer train: the data folder {not_a_folder} is a file, not a folder; "
                                     "choose a folder for CIFAR-10")
    assert not (tmp_path / "runs").exists()


def _as_nobody():
    os.setgid(65534)
    os.setuid(65534)


def test_an_unreadable_data_folder_is_named_as_such(tmp_path):
    data = tmp_path / "data"
    write_cifar_dir(data)
    data.chmod(0)
    tmp_path.chmod(0o755)
    try:
        if os.geteuid() == 0:  # root reads anything: the person this protects is an ordinary user
            try:
                subprocess.run([sys.executable, "-c", "import explorer"], preexec_fn=_as_nobody, check=True,
                               capture_output=True)
            except (OSError, subprocess.SubprocessError):
                pytest.skip("root reads any folder, and an ordinary user cannot run this Python here")
            done = cli(tmp_path, "data", "--dataset", "cifar10", "--data-dir", str(data), preexec_fn=_as_nobody,
                       env={**env(tmp_path), "HOME": "/nonexistent"})
        else:
            done = cli(tmp_path, "data", "--dataset", "cifar10", "--data-dir", str(data))
    finally:
        data.chmod(0o755)
    assert done.returncode == 1
    assert one_line(done.stderr) == (f"resnet-explorer data: the data folder {data} cannot be read (permission "
                                     "denied); choose another folder or fix its permissions")


def test_batch_files_pickled_by_python3_with_protocol_2_are_read(tmp_path):
    data = tmp_path / "data"
    write_cifar_dir(data, python3=True)
    raw = (data / FOLDER / "data_batch_1").read_bytes()
    assert b"_codecs" in raw and b"encode" in raw  # bytes spelled as Python 3 spells them in protocol 2
    assert pickle.loads(raw, encoding="bytes")[b"labels"][:3] == [0, 1, 2]
    done = cli(tmp_path, "data", "--dataset", "cifar10", "--data-dir", str(data))
    assert done.returncode == 0, done.stderr
    assert "cifar10: 100 training and 20 test images ready" in done.stdout


class _Uninitialised:
    """Pickles as a call that makes an array of 300,000 images out of nothing: ``numpy.ndarray(shape, dtype)``,
    or numpy's own ``_reconstruct`` asked for the full shape instead of an empty one."""

    def __init__(self, how: str) -> None:
        self.how = how

    def __reduce__(self):
        if self.how == "ndarray":
            return np.ndarray, ((300_000, 3072), np.dtype("u1"))
        from numpy._core.multiarray import _reconstruct

        return _reconstruct, (np.ndarray, (300_000, 3072), b"B")


@pytest.mark.parametrize("how", ["ndarray", "reconstruct"])
def test_a_vouched_batch_file_cannot_ask_for_memory_its_bytes_do_not_hold(tmp_path, how):
    """0.6 MB asking for 300,000 × 3072 bytes (1.4 GB at its peak was the answer), vouched for by the folder's
    own checksum list: a converted folder is content to bound, not to trust."""
    data = tmp_path / "data"
    sums = write_cifar_dir(data)
    batch = data / FOLDER / "data_batch_1"
    batch.write_bytes(pickle.dumps({b"data": _Uninitialised(how), b"labels": [0] * 300_000}, protocol=2))
    assert batch.stat().st_size < 700_000
    (data / FOLDER / "md5sums.json").write_text(json.dumps({**sums, batch.name: _md5(batch)}))
    done = cli(tmp_path, "data", "--dataset", "cifar10", "--data-dir", str(data))
    assert done.returncode == 1
    assert one_line(done.stderr) == (f"resnet-explorer data: CIFAR-10 file {batch} was refused: it asks for an array "
                                     "of shape (300000, 3072) without the data to fill it, which no CIFAR-10 file "
                                     "does; delete it and download again")


class _Zeros(io.RawIOBase):
    def __init__(self, size: int) -> None:
        self.left = size

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        n = min(len(buffer), self.left)
        buffer[:n] = bytes(n)
        self.left -= n
        return n


@pytest.mark.parametrize("case", ["a batch file", "another member", "too many members"])
def test_an_archive_cannot_fill_the_disk(tmp_path, case):
    """A small archive whose member inflates beyond what the dataset's file of that name can be (400 MB of zeros
    filled the disk) is refused by the member's header, before a byte is written."""
    data = tmp_path / "data"
    _manifest_without_archive(data)
    size = CIFAR10.max_bytes("data_batch_1") + 1
    name = {"a batch file": f"{FOLDER}/data_batch_1", "another member": f"{FOLDER}/readme.html"}.get(case)
    archive = data / "cifar-10-python.tar.gz"
    with tarfile.open(archive, "w:gz", compresslevel=1) as tar:
        if name:
            info = tarfile.TarInfo(name)
            info.size = size
            tar.addfile(info, io.BufferedReader(_Zeros(size)))
        else:
            for i in range(MAX_MEMBERS + 1):
                info = tarfile.TarInfo(f"{FOLDER}/note_{i}")
                tar.addfile(info, io.BytesIO(b""))
    assert archive.stat().st_size < 1_000_000
    done = cli(tmp_path, "data", "--dataset", "cifar10", "--data-dir", str(data))
    assert sorted(p.name for p in (data / FOLDER).iterdir()) == ["md5sums.json"]  # nothing written
    assert done.returncode == 1
    what = (f"it has more than {MAX_MEMBERS} members" if not name else
            f"its member {name!r} is {size:,} bytes, more than the {size - 1:,} a file of that name can have")
    assert one_line(done.stderr) == (f"resnet-explorer data: archive {archive} was refused: {what}, which no genuine "
                                     "archive has; delete it and download again")


def _fixture_archive(data: Path) -> bytes:
    write_cifar_archive(data)
    return (data / "cifar-10-python.tar.gz").read_bytes()


@pytest.mark.parametrize("case, why", [
    ("text", "not a gzip file"),  # a web server's error page saved under the archive's name
    ("empty", "empty file"),
    ("gzip, not tar", "invalid header"),
    ("truncated", "Compressed file ended before the end-of-stream marker was reached"),
    ("garbage after the gzip header", "zlib error: Error -3 while decompressing data: invalid block type"),
])
def test_an_archive_that_is_damaged_or_no_tar_gz_is_one_sentence(tmp_path, case, why):
    data = tmp_path / "data"
    _manifest_without_archive(data)
    archive = data / "cifar-10-python.tar.gz"
    real = _fixture_archive(data) if case == "truncated" else b""
    page = b"<html>Not found</html>\n" * 40
    archive.write_bytes({
        "text": page,
        "empty": b"",
        "gzip, not tar": gzip.compress(page),
        "truncated": real[: len(real) // 2],
        "garbage after the gzip header": gzip.compress(b"")[:10] + bytes([0xFF] * 2000),
    }[case])
    done = cli(tmp_path, "data", "--dataset", "cifar10", "--data-dir", str(data))
    assert done.returncode == 1
    assert one_line(done.stderr) == (f"resnet-explorer data: CIFAR-10 archive {archive} is damaged or is not a .tar.gz "
                                     f"archive ({why}); delete it and download again, or put the genuine "
                                     "cifar-10-python.tar.gz there")
    assert [p.name for p in (data / FOLDER).iterdir() if p.name.endswith(".tmp")] == []  # no half-written file


def _small_files_only():
    resource.setrlimit(resource.RLIMIT_FSIZE, (4096, 4096))  # Python ignores SIGXFSZ: a write gets EFBIG


def test_a_disk_that_cannot_take_the_files_is_not_called_a_damaged_archive(tmp_path):
    data = tmp_path / "data"
    _manifest_without_archive(data)
    _fixture_archive(data)
    done = cli(tmp_path, "data", "--dataset", "cifar10", "--data-dir", str(data), preexec_fn=_small_files_only)
    assert done.returncode == 1
    batch = data / FOLDER / "data_batch_1"  # the first member of more than 4096 bytes
    assert one_line(done.stderr) == (f"resnet-explorer data: could not write CIFAR-10 file {batch} (file too large); "
                                     "free some space or choose another data folder")
    assert sorted(p.name for p in (data / FOLDER).iterdir()) == ["batches.meta", "md5sums.json"]  # no partial file

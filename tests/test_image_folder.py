"""A folder of one's own images (ImageFolder layout), read from PNG and JPEG files written for the test: the
classes, the held-out split, the resize, the recorded class count, and one sentence for every folder that
cannot be used - before any run folder exists."""

from __future__ import annotations

import os
import re
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from explorer.config.run import DataConfig, RunConfig, TrainConfig
from explorer.data.errors import DatasetError
from explorer.data.folder_layout import list_folder
from explorer.data.image_folder import decode
from explorer.data.loading import load_dataset
from explorer.data.location import VERIFY, counted, data_state
from explorer.config.model import ModelConfig
from tests.folder_fixture import CLASSES, write_image, write_image_folder
from tests.test_cli_train import only_run, train


def folder_config(root: Path, size: int = 32) -> DataConfig:
    """The data of a run made from ``root``: its classes counted as whoever makes a run counts them."""
    return counted(RunConfig(data=DataConfig(dataset="folder", data_dir=str(root)),
                             model=ModelConfig(input_size=size))).data


def test_classes_split_and_images(tmp_path: Path) -> None:
    write_image_folder(tmp_path, per_class=10)
    data = folder_config(tmp_path)
    assert (data.classes, data.image_size) == (3, 32) and data_state(data) == VERIFY
    dataset = load_dataset(data)
    assert dataset.classes == CLASSES and dataset.name == "folder"
    assert dataset.train_images.shape == (24, 3, 32, 32) and dataset.train_images.dtype == torch.uint8
    assert dataset.test_images.shape == (6, 3, 32, 32)
    assert torch.bincount(dataset.test_labels).tolist() == [2, 2, 2]  # a fifth of each class held out
    listing = list_folder(tmp_path)
    files = [p for p, _ in listing.train] + [p for p, _ in listing.test]
    assert len(set(files)) == 30 and {p.suffix for p in files} == {".png", ".jpg"}
    assert list_folder(tmp_path) == listing  # the same held-out images every time, whatever the run's seed
    assert all(p.parent.name == CLASSES[label] for p, label in listing.train + listing.test)


def test_a_known_image_is_resized_on_its_shorter_side_and_cut_to_the_centre(tmp_path: Path) -> None:
    pixels = np.zeros((40, 80, 3), dtype=np.uint8)  # 80 wide, 40 high: left sixth red, the rest blue
    pixels[:, :13] = (255, 0, 0)
    pixels[:, 13:] = (0, 0, 255)
    Image.fromarray(pixels).save(tmp_path / "wide.png")
    image = decode(tmp_path / "wide.png", 20)  # 40 -> 20 high, 80 -> 40 wide, the centre 20 columns kept
    assert image.shape == (3, 20, 20) and image.dtype == np.uint8
    assert (image[2] == 255).all() and (image[0] == 0).all()  # the red sixth is cut away
    Image.fromarray(pixels[:, :, 0]).save(tmp_path / "grey.png")
    assert decode(tmp_path / "grey.png", 16).shape == (3, 16, 16)


def test_the_folders_own_train_and_test_split_is_used(tmp_path: Path) -> None:
    write_image_folder(tmp_path / "train", per_class=4)
    write_image_folder(tmp_path / "val", per_class=2, classes=CLASSES[:2])  # a class may lack test images
    dataset = load_dataset(folder_config(tmp_path, 24))
    assert len(dataset.train_labels) == 12 and torch.bincount(dataset.test_labels).tolist() == [2, 2]
    assert dataset.train_images.shape[1:] == (3, 24, 24)


def test_the_recorded_classes_make_the_classifier_and_outlive_the_folder(tmp_path: Path) -> None:
    write_image_folder(tmp_path / "images", per_class=3, classes=("a", "b", "c", "d", "e"))
    draft = RunConfig(data=DataConfig(dataset="folder", data_dir=str(tmp_path / "images")),
                      train=TrainConfig(depths=(8,)))
    assert draft.data.classes is None  # a config never reads the disk: making the run counts them
    config = counted(draft)
    assert config.num_classes == 5 and {m.num_classes for m in config.model_configs()} == {5}
    (tmp_path / "images" / "f").mkdir()
    write_image(tmp_path / "images" / "f" / "1.png", 1)
    write_image(tmp_path / "images" / "f" / "2.png", 2)
    with pytest.raises(DatasetError, match="now has 6 classes; the run was made with 5"):
        load_dataset(config.data)
    (tmp_path / "images").rename(tmp_path / "moved")
    assert RunConfig.from_dict(config.to_dict()).num_classes == 5  # a run reopens without its folder


def _garbage(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"not an image at all" * 10)


@pytest.mark.parametrize("make, sentence", [
    (lambda r: (r / "a").mkdir(parents=True) or write_image_folder(r, 3, ("b", "c")),
     r"class folder .*/a has no images"),
    (lambda r: write_image_folder(r, 3) and _garbage(r / "dog" / "broken.jpg"),
     r"image .*/dog/broken.jpg cannot be read \(it is not an image, or it is damaged\); replace it or remove it$"),
    (lambda r: write_image_folder(r, 3) and (r / "cat" / "000.png").write_bytes(
        (r / "cat" / "000.png").read_bytes()[:60]), r"image .*/cat/000.png cannot be read"),
    (lambda r: write_image_folder(r, 3, ("only",)), r"has one class \(only\); a classifier needs at least two"),
    (lambda r: write_image_folder(r, 1), r"class folder .*/cat has one image; each class needs at least two"),
    (lambda r: r.mkdir() or write_image(r / "loose.png", 0), r"has no class subfolders"),
    (lambda r: write_image_folder(r / "train", 2) and write_image_folder(r / "test", 1, ("cat", "owl")),
     r"test folder .* has a class that .*train lacks \(owl\)"),
])
def test_a_folder_that_cannot_be_used_is_one_sentence_and_no_run(tmp_path: Path, make, sentence) -> None:
    root = tmp_path / "images"
    make(root)
    with pytest.raises((DatasetError, ValueError), match=sentence):
        load_dataset(folder_config(root))
    done = train(tmp_path, "--dataset", "folder", "--data-dir", str(root), "--iterations", "2", "--depths", "8",
                 "--batch-size", "2")
    last = done.stderr.strip().splitlines()[-1]
    assert done.returncode != 0 and re.search(sentence, last), done.stderr
    assert not (tmp_path / "runs").exists() or not any((tmp_path / "runs").iterdir())


def test_a_missing_folder_a_file_and_a_fifo_are_refused_without_hanging(tmp_path: Path) -> None:
    with pytest.raises(DatasetError, match="does not exist"):
        folder_config(tmp_path / "nowhere")
    (tmp_path / "file").write_text("x")
    with pytest.raises(DatasetError, match="is a file, not a folder"):
        folder_config(tmp_path / "file")
    with pytest.raises(ValueError, match="data-dir must name the image folder"):
        DataConfig(dataset="folder")
    write_image_folder(tmp_path / "images", 3)
    os.mkfifo(tmp_path / "images" / "cat" / "pipe.png")  # never opened: a FIFO is not an image file
    assert len(load_dataset(folder_config(tmp_path / "images")).train_labels) == 6


def test_a_folder_of_images_trains_end_to_end(tmp_path: Path) -> None:
    write_image_folder(tmp_path / "images", per_class=6)
    done = train(tmp_path, "--dataset", "folder", "--data-dir", str(tmp_path / "images"), "--iterations", "4",
                 "--batch-size", "4", "--depths", "8", "--compare", "residual", "--log-every", "2")
    assert done.returncode == 0, done.stderr
    run = only_run(tmp_path)
    config = run.config()
    assert (config.data.classes, config.data.image_size, config.num_classes) == (3, 32, 3)
    events, _ = run.read_events()
    assert events[-1]["status"] == "finished"
    from explorer.analysis.inputs import networks

    (network,) = networks(run, 4, torch.device("cpu"))
    assert network.model.fc.out_features == 3


def test_a_folder_is_decoded_once_and_again_only_when_an_image_changes(tmp_path: Path, monkeypatch) -> None:
    """The check, the training process and a resume each load the folder: the images are decoded the first
    time only, from then on read from the cache - until an image is changed (even with its size and mtime put
    back), added, or moved to another class; a damaged cache file is passed over."""
    from explorer.data import decoded_cache, image_folder

    monkeypatch.setenv("RESNET_EXPLORER_CACHE", str(tmp_path / "cache"))
    root = write_image_folder(tmp_path / "images", per_class=5)
    assert decoded_cache.KEEP >= 3  # the three entries below are all kept
    decoded: list[Path] = []
    real = image_folder.decode
    monkeypatch.setattr(image_folder, "decode", lambda path, size: decoded.append(path) or real(path, size))
    progress: list[tuple[int, int]] = []
    first = image_folder.load_image_folder(root, 32, progress=lambda done, total: progress.append((done, total)))
    assert len(decoded) == 15 and progress[-1] == (15, 15)
    again = image_folder.load_image_folder(root, 32)
    assert len(decoded) == 15  # nothing decoded the second time
    assert torch.equal(again.train_images, first.train_images) and torch.equal(again.test_labels, first.test_labels)
    assert len(list((tmp_path / "cache").glob("*.npy"))) == 1
    image_folder.load_image_folder(root, 24)  # another input size is another entry
    assert len(decoded) == 30

    # An uncompressed image changed in place: same size in bytes, same mtime put back; only its ctime says so.
    changed = root / "dog" / "zz.bmp"
    write_image(changed, seed=7, size=(32, 32))
    image_folder.load_image_folder(root, 32)
    stat, raw = changed.stat(), bytearray(changed.read_bytes())
    raw[-3 * 32:] = bytes(255 - b for b in raw[-3 * 32:])  # one row of pixels inverted
    changed.write_bytes(bytes(raw))
    os.utime(changed, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    assert (changed.stat().st_size, changed.stat().st_mtime_ns) == (stat.st_size, stat.st_mtime_ns)
    decoded.clear()
    renewed = image_folder.load_image_folder(root, 32)
    assert len(decoded) == 16  # every image again: the folder's entry is one
    listing = list_folder(root)
    where = [p for p, _ in listing.train + listing.test].index(changed)
    images = torch.cat([renewed.train_images, renewed.test_images])
    assert torch.equal(images[where], torch.from_numpy(real(changed, 32).copy()))  # the new pixels, not the cached ones
    (root / "dog" / "001.jpg").rename(root / "cat" / "moved.jpg")  # relabelled
    decoded.clear()
    moved = image_folder.load_image_folder(root, 32)
    assert len(decoded) == 16
    assert torch.bincount(torch.cat([moved.train_labels, moved.test_labels])).tolist() == [6, 5, 5]

    for entry in (tmp_path / "cache").glob("*.npy"):
        entry.write_bytes(entry.read_bytes()[:200])  # damaged: read as a miss, decoded, written again
    decoded.clear()
    assert torch.equal(image_folder.load_image_folder(root, 32).train_images, moved.train_images)
    assert len(decoded) == 16
    (tmp_path / "cache" / "notes.npy").write_bytes(b"someone else's")  # not of the cache's own names: kept
    monkeypatch.setattr(decoded_cache, "KEEP", 1)
    image_folder.load_image_folder(root, 24)
    assert sorted(p.name for p in (tmp_path / "cache").iterdir() if not decoded_cache.ENTRY.fullmatch(p.name)) == [
        "notes.npy"]


def test_a_cache_folder_that_refuses_writes_only_costs_the_decoding(tmp_path: Path, monkeypatch) -> None:
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the cache folder would be")
    monkeypatch.setenv("RESNET_EXPLORER_CACHE", str(blocker / "cache"))
    root = write_image_folder(tmp_path / "images", per_class=5)
    assert load_dataset(folder_config(root)).train_images.shape == (12, 3, 32, 32)
    assert blocker.read_text().startswith("a file")


def test_the_cache_keeps_the_most_recently_used_folders(tmp_path: Path, monkeypatch) -> None:
    import time

    from explorer.data import decoded_cache, image_folder

    monkeypatch.setenv("RESNET_EXPLORER_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(decoded_cache, "KEEP", 2)
    decoded: list[Path] = []
    real = image_folder.decode
    monkeypatch.setattr(image_folder, "decode", lambda path, size: decoded.append(path) or real(path, size))
    roots = [write_image_folder(tmp_path / f"images{i}", per_class=2) for i in range(3)]
    for root in (roots[0], roots[1], roots[0], roots[2]):  # images1 is now the least recently used
        image_folder.load_image_folder(root, 32)
        time.sleep(0.05)  # file times tick coarsely
    assert len(list((tmp_path / "cache").glob("*.npy"))) == 2 and len(decoded) == 18
    image_folder.load_image_folder(roots[0], 32)
    assert len(decoded) == 18  # kept
    image_folder.load_image_folder(roots[1], 32)
    assert len(decoded) == 24  # forgotten, decoded again


def _resized_whole_then_cut(path: Path, size: int) -> np.ndarray:
    """How every image was decoded before strips were cut first: the reference the decoder must still match."""
    with Image.open(path) as image:
        image.draft("RGB", (size, size))
        image = image.convert("RGB")
        scale = size / min(image.size)
        width, height = max(size, round(image.width * scale)), max(size, round(image.height * scale))
        image = image.resize((width, height), Image.Resampling.BILINEAR, reducing_gap=3.0)
        left, top = (width - size) // 2, (height - size) // 2
        return np.asarray(image.crop((left, top, left + size, top + size))).transpose(2, 0, 1)


def test_images_up_to_the_stretch_bound_decode_exactly_as_before(tmp_path: Path) -> None:
    """The decoded cache and the runs made from it must see the same pixels: every image that is not a strip is
    still resized whole and then cut (resizing only the kept box differs by a level or a few in half of these)."""
    from explorer.data.image_folder import MAX_STRETCH

    rng = np.random.default_rng(5)
    shapes = [(48, 40), (40, 48), (7, 5), (640, 480), (1, 1), (3, 2 * MAX_STRETCH), (MAX_STRETCH * 20, 20)]
    shapes += [(int(w), int(h)) for w, h in rng.integers(1, 300, size=(40, 2)) if max(w, h) <= MAX_STRETCH * min(w, h)]
    for i, shape in enumerate(shapes):
        path = tmp_path / f"{i}{'.jpg' if i % 3 == 0 else '.png'}"
        write_image(path, seed=i, size=shape, mode=("RGB", "L", "P")[i % 3])
        for size in (16, 32, 56):
            assert np.array_equal(decode(path, size), _resized_whole_then_cut(path, size)), (shape, size)


def test_a_strip_beyond_the_stretch_bound_keeps_the_centre_it_had(tmp_path: Path) -> None:
    """Beyond the bound only the kept box is resized: the same centre of the same image, within a level or two
    of resizing it whole (a smooth image; 2×200 at 8 px would be 8×800 resized whole)."""
    from explorer.data.image_folder import MAX_STRETCH

    across = np.linspace(0, 255, 200)
    pixels = np.stack([np.tile(across, (2, 1)), np.tile(across[::-1], (2, 1)), np.full((2, 200), 90.0)], axis=-1)
    Image.fromarray(pixels.astype(np.uint8)).save(tmp_path / "strip.png")
    assert 200 * 8 // 2 > MAX_STRETCH * 8
    boxed, whole = decode(tmp_path / "strip.png", 8), _resized_whole_then_cut(tmp_path / "strip.png", 8)
    assert np.abs(boxed.astype(int) - whole.astype(int)).max() <= 2
    assert 120 <= boxed[0].mean() <= 135  # the middle of the red ramp, not an end of it

"""A folder of one's own images in torchvision's ``ImageFolder`` layout, as lists of files: no torch, no decoding,
so the configuration can count the classes and the GUI can check a folder without loading anything.

Two layouts. ``DIR/<class>/<image>``: every image is in one pool and a fixed, stratified fifth of each class is
held out as the test set. ``DIR/train/<class>/…`` beside ``DIR/test/<class>/…`` (or ``DIR/val/…``): the split
is the folder's own. Classes are the subfolders' names in sorted order, as ``ImageFolder`` numbers them; images
are the files with torchvision's image extensions, case aside; hidden files and folders are skipped. Every
folder that cannot be used is refused with one sentence (``DatasetError``).
"""

from __future__ import annotations

import os
import random
from dataclasses import dataclass
from pathlib import Path

from explorer.data.errors import DatasetError, reason
from explorer.config.limits import MAX_NUM_CLASSES

# torchvision.datasets.folder.IMG_EXTENSIONS, minus the formats Pillow reads only with plug-ins
EXTENSIONS = (".jpg", ".jpeg", ".png", ".ppm", ".bmp", ".pgm", ".tif", ".tiff", ".webp")
HOLD_OUT = 5  # one image in five of each class is the test set when the folder gives none
SPLIT_SEED = 20160627  # the held-out images do not depend on the run's seed
MAX_FOLDER_IMAGES = 2_000_000
TRAIN_NAMES, TEST_NAMES = ("train",), ("test", "val")


@dataclass(frozen=True)
class Listing:
    """The images of a folder: the class names, and (file, label) pairs for training and for testing."""

    classes: tuple[str, ...]
    train: tuple[tuple[Path, int], ...]
    test: tuple[tuple[Path, int], ...]
    given_split: bool


def _visible(entries) -> list[os.DirEntry]:
    return sorted((e for e in entries if not e.name.startswith(".")), key=lambda e: e.name)


def _subfolders(folder: Path) -> list[str]:
    try:
        with os.scandir(folder) as entries:
            return [e.name for e in _visible(entries) if e.is_dir()]
    except OSError as exc:
        raise DatasetError(f"the image folder {folder} cannot be read ({reason(exc)}); choose another folder or fix "
                           "its permissions") from None


def _split_folders(root: Path) -> tuple[Path, Path] | None:
    """``(train, test)`` when ``root`` holds exactly a train folder and a test (or val) folder, else None."""
    names = _subfolders(root)
    train = [n for n in names if n.lower() in TRAIN_NAMES]
    test = [n for n in names if n.lower() in TEST_NAMES]
    if len(names) == 2 and len(train) == 1 and len(test) == 1:
        return root / train[0], root / test[0]
    return None


def _class_names(folder: Path) -> list[str]:
    names = _subfolders(folder)
    if not names:
        raise DatasetError(f"the image folder {folder} has no class subfolders; put each class's images in a "
                           "subfolder named for the class (e.g. cats/1.jpg, dogs/1.jpg)")
    if len(names) == 1:
        raise DatasetError(f"the image folder {folder} has one class ({names[0]}); a classifier needs at least two "
                           "class subfolders")
    if len(names) > MAX_NUM_CLASSES:
        raise DatasetError(f"the image folder {folder} has {len(names)} class subfolders; at most {MAX_NUM_CLASSES} "
                           "are allowed")
    return names


def check_root(root: Path) -> Path:
    """Raise DatasetError unless ``root`` is a readable folder; returns it."""
    try:
        if not root.exists():
            raise DatasetError(f"the image folder {root} does not exist; choose a folder with one subfolder of "
                               "images per class")
        if not root.is_dir():
            raise DatasetError(f"the image folder {root} is a file, not a folder; choose a folder with one "
                               "subfolder of images per class")
    except OSError as exc:
        raise DatasetError(f"the image folder {root} cannot be used ({reason(exc)}); choose another folder") from None
    return root


def holds_images(folder: Path, look_at: int = 200) -> bool:
    """Whether ``folder`` has images in it or in its subfolders (a folder of one's own pictures), looking at no
    more than ``look_at`` entries of each: a CIFAR download must never go into such a folder."""
    def images_in(path: Path, depth: int) -> bool:
        try:
            with os.scandir(path) as entries:
                for n, entry in enumerate(entries):
                    if n >= look_at:
                        return False
                    if entry.name.lower().endswith(EXTENSIONS) and entry.is_file(follow_symlinks=False):
                        return True
                    if depth and entry.is_dir(follow_symlinks=False) and images_in(Path(entry.path), depth - 1):
                        return True
        except OSError:
            return False
        return False

    return images_in(Path(folder), 2)


def count_classes(root: str | os.PathLike) -> int:
    """How many classes the folder has (its class subfolders, of ``train/`` in the split layout): a listing of
    one or two folders, cheap enough to do whenever a configuration is made."""
    root = check_root(Path(root).expanduser())
    split = _split_folders(root)
    return len(_class_names(split[0] if split else root))


def _images(folder: Path, limit: int) -> list[Path]:
    try:
        with os.scandir(folder) as entries:
            found = []
            for entry in _visible(entries):
                if entry.name.lower().endswith(EXTENSIONS) and entry.is_file():  # a FIFO is no image: never opened
                    found.append(Path(entry.path))
                    if len(found) > limit:
                        break
            return found
    except OSError as exc:
        raise DatasetError(f"the class folder {folder} cannot be read ({reason(exc)}); fix its permissions or "
                           "remove it") from None


def _class_images(folder: Path, classes: list[str], limit: int) -> list[list[Path]]:
    found = []
    for name in classes:
        images = _images(folder / name, limit)
        if not images:
            raise DatasetError(f"the class folder {folder / name} has no images ({', '.join(EXTENSIONS[:3])}, …); "
                               "add some or remove the folder")
        found.append(images)
        limit -= len(images)
        if limit < 0:
            raise DatasetError(f"the image folder {folder} has more than {MAX_FOLDER_IMAGES} images; use a smaller "
                               "folder")
    return found


def list_folder(root: str | os.PathLike) -> Listing:
    """Every image of the folder with its label, split into training and test images. Raises DatasetError."""
    root = check_root(Path(root).expanduser())
    split = _split_folders(root)
    if split:
        train_dir, test_dir = split
        classes = _class_names(train_dir)
        train = _class_images(train_dir, classes, MAX_FOLDER_IMAGES)
        strangers = [n for n in _subfolders(test_dir) if n not in classes]
        if strangers:
            raise DatasetError(f"the test folder {test_dir} has a class that {train_dir} lacks ({strangers[0]}); "
                               "give both the same class subfolders")
        present = [n for n in classes if (test_dir / n).is_dir()]
        tested = dict(zip(present, _class_images(test_dir, present, MAX_FOLDER_IMAGES)))
        test = [(path, classes.index(name)) for name in present for path in tested[name]]
        pairs = [(path, label) for label, paths in enumerate(train) for path in paths]
        return Listing(tuple(classes), tuple(pairs), tuple(test), True)
    classes = _class_names(root)
    pools = _class_images(root, classes, MAX_FOLDER_IMAGES)
    train, test = [], []
    for label, (name, paths) in enumerate(zip(classes, pools)):
        if len(paths) < 2:
            raise DatasetError(f"the class folder {root / name} has one image; each class needs at least two when "
                               "the folder has no test subfolder (one to train on, one to test), or add train/ and "
                               "test/ subfolders")
        order = list(paths)
        random.Random(f"{SPLIT_SEED}-{name}").shuffle(order)
        held = max(1, len(order) // HOLD_OUT)
        test += [(path, label) for path in sorted(order[:held])]
        train += [(path, label) for path in sorted(order[held:])]
    return Listing(tuple(classes), tuple(train), tuple(test), False)

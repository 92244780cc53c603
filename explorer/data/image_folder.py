"""A folder of one's own images read into the same in-memory Dataset as CIFAR: each image decoded once (Pillow),
converted to RGB, its shorter side resized to the network's input size and the centre cut square, kept as uint8
[N, 3, S, S]; from there it is moved to the device and augmented like CIFAR-10. The folder's files and split come
from :mod:`explorer.data.folder_layout`; an image that cannot be read is refused naming the file."""

from __future__ import annotations

import os
import warnings
from pathlib import Path
from typing import Callable

import numpy as np
import torch

from explorer.data import decoded_cache
from explorer.data.dataset import Dataset
from explorer.data.errors import DatasetError, reason
from explorer.data.folder_layout import list_folder
from explorer.system.files import open_regular

MAX_PIXELS = 64_000_000  # larger images are refused rather than decoded (decompression bombs)
MAX_DATASET_BYTES = 16 << 30
MAX_STRETCH = 16  # an image resized whole is at most this many times as long as the square cut from it


def decode(path: Path, size: int) -> np.ndarray:
    """The image at ``path`` as uint8 [3, size, size]: RGB, shorter side resized to ``size``, centre square."""
    from PIL import Image

    try:
        with open_regular(path) as f, warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(f)
            if image.width * image.height > MAX_PIXELS:
                raise DatasetError(f"image {path} has {image.width}×{image.height} pixels, more than "
                                   f"{MAX_PIXELS // 1_000_000} million; make it smaller or remove it")
            image.draft("RGB", (size, size))  # JPEG: decode at a reduced scale when that is still large enough
            image = image.convert("RGB")
            return np.asarray(_resize_and_crop(image, size), dtype=np.uint8).transpose(2, 0, 1)
    except DatasetError:
        raise
    except Image.UnidentifiedImageError:  # its own words were "cannot identify image file <_io.BufferedReader …>"
        raise DatasetError(f"image {path} cannot be read (it is not an image, or it is damaged); replace it or "
                           "remove it") from None
    except (OSError, ValueError, SyntaxError, EOFError, Image.DecompressionBombError,
            Image.DecompressionBombWarning) as exc:
        raise DatasetError(f"image {path} cannot be read ({reason(exc)}); replace it or remove it") from None


def _resize_and_crop(image, size: int):
    """The centre ``size``×``size`` square of ``image`` resized so that its shorter side is ``size``.

    Resized whole, a strip of 1×400,000 pixels (a 467-byte PNG) would be 12.8 million × 32 before the crop: 7 s
    and 2.5 GB. Beyond :data:`MAX_STRETCH` only the part the crop keeps is resized (Pillow's ``box``). Every
    other image is resized whole, then cut, exactly as always: resizing a box places the filter by other
    arithmetic, which moves some pixels by a level or a few (in half of a set of random images), and the decoded
    cache and the runs made from it must see the pixels they saw."""
    from PIL import Image

    scale = size / min(image.size)
    width, height = max(size, round(image.width * scale)), max(size, round(image.height * scale))
    left, top = (width - size) // 2, (height - size) // 2
    if max(width, height) <= MAX_STRETCH * size:
        image = image.resize((width, height), Image.Resampling.BILINEAR, reducing_gap=3.0)
        return image.crop((left, top, left + size, top + size))
    across, down = image.width / width, image.height / height
    box = (left * across, top * down, (left + size) * across, (top + size) * down)
    return image.resize((size, size), Image.Resampling.BILINEAR, box=box, reducing_gap=3.0)


def _decode_all(items, size: int, progress: Callable[[int, int], None] | None) -> np.ndarray:
    """Every image of ``items`` decoded, from the cache when it holds them; ``progress(done, total)``."""
    name = decoded_cache.entry_name(items, size)
    images = decoded_cache.load(name, len(items), size) if name else None
    if images is not None:
        return images
    images = np.empty((len(items), 3, size, size), dtype=np.uint8)
    step = max(1, len(items) // 200)
    for i, (path, _label) in enumerate(items):
        images[i] = decode(path, size)
        if progress is not None and (i % step == 0 or i + 1 == len(items)):
            progress(i + 1, len(items))
    if name:
        decoded_cache.store(name, images)
    return images


def load_image_folder(root: str | os.PathLike, size: int, *, classes: int | None = None,
                      progress: Callable[[int, int], None] | None = None) -> Dataset:
    """The folder's images at ``size``×``size``; ``classes``, when a run recorded it, must still be what the folder
    has; ``progress(images_done, images_total)`` while decoding (not called when the decoded cache holds them).
    Raises DatasetError."""
    listing = list_folder(root)
    if classes is not None and len(listing.classes) != classes:
        raise DatasetError(f"the image folder {root} now has {len(listing.classes)} classes; the run was made with "
                           f"{classes}; restore the folder or start a new run")
    if not listing.test:
        raise DatasetError(f"the test folder of {root} has no images; add some, or remove it so that a fifth of "
                           "each class is held out")
    needed = (len(listing.train) + len(listing.test)) * 3 * size * size
    if needed > MAX_DATASET_BYTES:
        raise DatasetError(f"the image folder {root} holds {len(listing.train) + len(listing.test)} images: "
                           f"{needed / 2**30:.1f} GiB at {size}×{size}, more than {MAX_DATASET_BYTES >> 30} GiB; "
                           "use fewer images or a smaller input size")
    items = listing.train + listing.test
    images = torch.from_numpy(_decode_all(items, size, progress))
    labels = torch.tensor([label for _path, label in items], dtype=torch.int64)
    cut = len(listing.train)
    # The test part is its own copy, so that a training subset (a copy) frees the whole decoded buffer.
    return Dataset(train_images=images[:cut], train_labels=labels[:cut], test_images=images[cut:].clone(),
                   test_labels=labels[cut:], classes=listing.classes, name="folder")

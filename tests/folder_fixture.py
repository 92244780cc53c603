"""Writes a small folder of one's own images in torchvision's ImageFolder layout: PNG and JPEG files of several
sizes and colour modes (RGB, greyscale, RGBA, palette), as a person's photos come."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

CLASSES = ("cat", "dog", "fox")  # sorted, as ImageFolder numbers them
MODES = ("RGB", "L", "RGBA", "P")


def write_image(path: Path, seed: int, size: tuple[int, int] = (48, 40), mode: str = "RGB") -> None:
    """A random image of ``size`` (width, height) saved at ``path``; the suffix chooses the format."""
    rng = np.random.default_rng(seed)
    pixels = rng.integers(0, 256, size=(size[1], size[0], 3), dtype=np.uint8)
    image = Image.fromarray(pixels).convert(mode)
    if path.suffix.lower() in (".jpg", ".jpeg") and mode in ("RGBA", "P"):
        image = image.convert("RGB")
    path.parent.mkdir(parents=True, exist_ok=True)
    image.save(path)


def write_image_folder(root: Path, per_class: int = 10, classes: tuple[str, ...] = CLASSES) -> Path:
    """``root/<class>/<i>.png|.jpg`` for each class: every other image a JPEG, sizes and modes varying."""
    for c, name in enumerate(classes):
        for i in range(per_class):
            suffix = ".jpg" if i % 2 else ".png"
            write_image(root / name / f"{i:03d}{suffix}", seed=100 * c + i, size=(40 + 3 * i, 36 + 2 * c),
                        mode=MODES[i % len(MODES)])
    return root

"""An offline stand-in for CIFAR-10: ten classes of drawn shapes and textures, generated from a seed.

Each 32x32 image holds one light object of its class, drawn at a random position, scale, tilt, stroke width
and colour over a dark, noisy, shaded background, with a smaller decoy shape of another class and a few specks as
clutter. Colour and position say nothing about the class; only the shape of the biggest object does (a disc
and a ring differ by a hole, a square and a frame too, stripes by their direction), so a network has to
combine edges into parts and parts into objects, and compare sizes across the image: easy for a ResNet-20
to learn, too hard for a linear model. Same shapes and dtypes as CIFAR-10; tensor ops only, so 10k images
take about a second.
"""

from __future__ import annotations

import math

import torch

from explorer.data.dataset import Dataset

CLASSES = (
    "disc", "ring", "square", "frame", "cross", "x-cross", "triangle", "stripes-h", "stripes-v", "checker",
)
SIZE = 32
SPECKS = 3
# The knobs of difficulty, set so that a ResNet-20 (batch 128) errs on about half the images after 100 steps
# and few after 300, while a plain-56 is still near chance after 200 steps of 32 images.
OBJECT_SIZES = (7.0, 12.0)  # half-sizes in pixels: objects 14 to 24 pixels across
DECOY_SIZES = (3.0, 5.0)
TILT = 10.0  # largest turn of an object, in degrees
NOISE = 0.06
DARK, LIGHT = 0.4, 0.6  # background channels below DARK, object channels above LIGHT


def make_synthetic(train_size: int, test_size: int, seed: int) -> Dataset:
    """A training and a test set of the ten shape classes; the same seed always gives the same images."""
    # Separate streams so the test set does not depend on how many training images were drawn.
    train_images, train_labels = _draw(train_size, torch.Generator().manual_seed(2 * seed))
    test_images, test_labels = _draw(test_size, torch.Generator().manual_seed(2 * seed + 1))
    return Dataset(train_images, train_labels, test_images, test_labels, classes=CLASSES, name="synthetic")


def _draw(n: int, g: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    labels = (torch.arange(n) % len(CLASSES))[torch.randperm(n, generator=g)]
    # A smaller shape of another class sits somewhere in the picture too: the class is the big one.
    decoy = (labels + torch.randint(1, len(CLASSES), (n,), generator=g)) % len(CLASSES)
    # Paint by numbers: each pixel first gets the index of what covers it (0 background, 1 object, 2 decoy,
    # 3... specks), then one lookup in a per-image palette colours all of them; few full-size float ops.
    layer = torch.zeros(n, SIZE, SIZE, dtype=torch.uint8)
    for index, classes, sizes in ((2, decoy, DECOY_SIZES), (1, labels, OBJECT_SIZES)):
        u, v = _object_coordinates(n, sizes, g)
        stroke = torch.rand(n, 1, 1, generator=g)
        layer[_shapes(classes, u, v, stroke)] = index
    layer = _add_specks(layer, g)
    palette = _palette(n, SPECKS + 3, g)
    canvas = palette[torch.arange(n).view(n, 1, 1), layer.long()]  # [n, 32, 32, 3]
    canvas += _shading(n, g) + NOISE * torch.randn(n, SIZE, SIZE, 1, generator=g)
    images = canvas.clamp_(0, 1).mul_(255).round_().to(torch.uint8)
    return images.permute(0, 3, 1, 2).contiguous(), labels


def _shapes(classes: torch.Tensor, u: torch.Tensor, v: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """The pixels [n, 32, 32] each image's shape of class ``classes[i]`` covers; ``t`` varies stroke widths."""
    inside = torch.zeros(len(classes), SIZE, SIZE, dtype=torch.bool)
    for label, shape in enumerate(_SHAPES):
        chosen = classes == label
        inside[chosen] = shape(u[chosen], v[chosen], t[chosen])
    return inside


def _object_coordinates(n: int, sizes: tuple[float, float], g: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """Pixel coordinates relative to each image's object, turned by up to TILT degrees: the object spans about
    [-1, 1] in both directions, with a half-size in pixels drawn from ``sizes``."""
    scale = sizes[0] + (sizes[1] - sizes[0]) * torch.rand(n, 1, 1, generator=g)
    margin = scale - 2  # a little of the object may leave the frame
    x = margin + (SIZE - 1 - 2 * margin) * torch.rand(n, 1, 1, generator=g)
    y = margin + (SIZE - 1 - 2 * margin) * torch.rand(n, 1, 1, generator=g)
    angle = math.radians(TILT) * (2 * torch.rand(n, 1, 1, generator=g) - 1)
    pixels = torch.arange(SIZE, dtype=torch.float32)
    dx, dy = (pixels.view(1, 1, SIZE) - x) / scale, (pixels.view(1, SIZE, 1) - y) / scale
    return angle.cos() * dx + angle.sin() * dy, angle.cos() * dy - angle.sin() * dx


def _palette(n: int, layers: int, g: torch.Generator) -> torch.Tensor:
    """Colours [n, layers, 3]: a dark background, a light object, and random decoy and speck colours."""
    palette = torch.rand(n, layers, 3, generator=g)
    # The object is always lighter than its background, in every channel: with the polarity of its edges
    # random too, no net left chance within a few hundred steps of a small batch.
    palette[:, 0] *= DARK
    palette[:, 1] = LIGHT + (1 - LIGHT) * palette[:, 1]
    return palette


def _shading(n: int, g: torch.Generator) -> torch.Tensor:
    """A gentle linear colour gradient over the whole image [n, 32, 32, 3], as uneven light would give."""
    slope = 0.25 * (torch.rand(n, 2, 1, 1, 3, generator=g) - 0.5)
    ramp = torch.linspace(-1, 1, SIZE)
    return slope[:, 0] * ramp.view(1, 1, SIZE, 1) + slope[:, 1] * ramp.view(1, SIZE, 1, 1)


def _add_specks(layer: torch.Tensor, g: torch.Generator) -> torch.Tensor:
    """Small squares at random places, layers 3, 4, ...: clutter the network must learn to ignore."""
    n = layer.shape[0]
    pixels = torch.arange(SIZE).view(1, SIZE)
    for index in range(3, SPECKS + 3):
        corner = torch.randint(0, SIZE - 2, (n, 2, 1), generator=g)
        side = torch.randint(1, 4, (n, 1), generator=g)
        rows = (pixels >= corner[:, 0]) & (pixels < corner[:, 0] + side)
        cols = (pixels >= corner[:, 1]) & (pixels < corner[:, 1] + side)
        layer = torch.where(rows[:, :, None] & cols[:, None, :], index, layer)
    return layer


def _disc(u: torch.Tensor, v: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    return u**2 + v**2 <= 1


def _ring(u: torch.Tensor, v: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    r2 = u**2 + v**2
    return (r2 <= 1) & (r2 >= 0.3 + 0.3 * t)


def _square(u: torch.Tensor, v: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    return torch.maximum(u.abs(), v.abs()) <= 0.85


def _frame(u: torch.Tensor, v: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    d = torch.maximum(u.abs(), v.abs())
    return (d <= 0.85) & (d >= 0.45 + 0.2 * t)


def _cross(u: torch.Tensor, v: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    a, b, half_width = u.abs(), v.abs(), 0.2 + 0.15 * t
    return ((a <= half_width) & (b <= 1)) | ((b <= half_width) & (a <= 1))


def _x_cross(u: torch.Tensor, v: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    return _cross((u + v) / math.sqrt(2), (u - v) / math.sqrt(2), t)


def _triangle(u: torch.Tensor, v: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    # Apex up: v runs down the image, so the width grows with v.
    return (v >= -0.85) & (v <= 0.85) & (u.abs() <= (v + 0.85) * 0.6)


def _stripes(s: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    return torch.floor((s + 1) * (2 + t)).remainder(2) == 0


def _stripes_h(u: torch.Tensor, v: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    return _square(u, v, t) & _stripes(v, t)


def _stripes_v(u: torch.Tensor, v: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    return _square(u, v, t) & _stripes(u, t)


def _checker(u: torch.Tensor, v: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    return _square(u, v, t) & (_stripes(u, t) ^ _stripes(v, t))


_SHAPES = (_disc, _ring, _square, _frame, _cross, _x_cross, _triangle, _stripes_h, _stripes_v, _checker)

"""The device-resident batch stream: shapes, normalisation, augmentation as translated and mirrored copies,
one visit per image per epoch, and bit-identical resumption."""

from __future__ import annotations

import io

import pytest
import torch
import torch.nn.functional as F

from explorer.data.batches import DeviceBatches
from explorer.data.synthetic import make_synthetic
from explorer.data.batches import PAD, pixel_stats

CPU = torch.device("cpu")


@pytest.fixture(scope="module")
def images() -> torch.Tensor:
    return make_synthetic(100, 10, seed=0).train_images


def steps_per_epoch(batches) -> int:
    n = len(batches.labels)
    return n // batches.batch_size if batches.drop_last else -(-n // batches.batch_size)


def index_labels(n: int) -> torch.Tensor:
    """Labels that name each image's index, so a batch says which images it holds."""
    return torch.arange(n)


def stream(images: torch.Tensor, **options) -> DeviceBatches:
    settings = dict(batch_size=16, device=CPU, augment=True, seed=0)
    settings.update(options)
    return DeviceBatches(images, index_labels(len(images)), **settings)


def take(batches: DeviceBatches, count: int) -> list[tuple[torch.Tensor, torch.Tensor]]:
    return [next(batches) for _ in range(count)]


def test_shapes_dtypes_and_layout(images: torch.Tensor) -> None:
    x, y = next(stream(images))
    assert x.shape == (16, 3, 32, 32) and x.dtype == torch.float32 and y.dtype == torch.int64
    assert x.is_contiguous(memory_format=torch.channels_last)
    x, _ = next(stream(images, channels_last=False))
    assert x.is_contiguous()


def test_normalised_with_per_pixel_statistics(images: torch.Tensor) -> None:
    batches = stream(images, augment=False, batch_size=20)
    x = torch.cat([next(batches)[0] for _ in range(steps_per_epoch(batches))])
    assert x.mean((0,)).abs().max() < 1e-4  # every pixel of every channel: per-pixel mean removed
    assert (x.std((0,), unbiased=False) - 1).abs().max() < 1e-3
    mean, std = pixel_stats(images)
    assert mean.shape == std.shape == (3, 32, 32)
    assert torch.allclose(mean, images.float().mean(0)) and torch.allclose(std, images.float().std(0, unbiased=False))


def test_given_statistics_are_used(images: torch.Tensor) -> None:
    mean, std = torch.full((3, 32, 32), 100.0), torch.full((3, 32, 32), 50.0)
    x, y = next(stream(images, augment=False, mean=mean, std=std))
    assert torch.allclose(x, (images[y].float() - 100) / 50, atol=1e-5)


def test_eval_batches_are_plain_normalised_images_in_order(images: torch.Tensor) -> None:
    batches = stream(images)
    test = make_synthetic(20, 23, seed=1).test_images
    labels = torch.arange(23)
    seen = list(batches.eval_batches(test, labels, 10))
    assert [len(y) for _, y in seen] == [10, 10, 3]
    x = torch.cat([x for x, _ in seen])
    assert torch.allclose(x, (test.float() - batches.mean) / batches.std, atol=1e-5)
    assert torch.equal(torch.cat([y for _, y in seen]), labels)
    assert seen[0][0].is_contiguous(memory_format=torch.channels_last)


def test_every_image_once_per_epoch(images: torch.Tensor) -> None:
    batches = stream(images[:64], augment=False)
    first = torch.cat([y for _, y in take(batches, 4)])
    second = torch.cat([y for _, y in take(batches, 4)])
    assert sorted(first.tolist()) == list(range(64)) == sorted(second.tolist())
    assert not torch.equal(first, second)
    assert batches.epoch == 2.0


def test_drop_last_skips_the_ragged_end(images: torch.Tensor) -> None:
    batches = stream(images[:70], augment=False)
    assert steps_per_epoch(batches) == 4
    epoch = torch.cat([y for _, y in take(batches, 4)])
    assert len(set(epoch.tolist())) == 64 and batches.epoch == pytest.approx(64 / 70)

    keep = stream(images[:70], augment=False, drop_last=False)
    sizes = [len(y) for _, y in take(keep, 6)]
    assert steps_per_epoch(keep) == 5 and sizes == [16, 16, 16, 16, 6, 16]


def test_batch_larger_than_the_data_is_refused(images: torch.Tensor) -> None:
    with pytest.raises(ValueError, match="batch-size 128 is larger than the 100 training images"):
        stream(images, batch_size=128)


def _variants(original: torch.Tensor) -> list[torch.Tensor]:
    """The 162 images pad-crop-flip can make of one normalised image (zero padding, 9x9 shifts, 2 flips)."""
    padded = F.pad(original, (PAD,) * 4)
    crops = [padded[:, dy : dy + 32, dx : dx + 32] for dy in range(2 * PAD + 1) for dx in range(2 * PAD + 1)]
    return crops + [crop.flip(-1) for crop in crops]


def test_augmentation_makes_shifted_and_mirrored_copies(images: torch.Tensor) -> None:
    batches = stream(images, batch_size=50)
    plain = stream(images, augment=False)
    x, y = next(batches)
    originals = (images[y].float() - batches.mean) / batches.std
    changed, mirrored = 0, 0
    for augmented, original in zip(x, originals):
        matches = [i for i, v in enumerate(_variants(original)) if torch.allclose(augmented, v, atol=1e-5)]
        assert matches, "an augmented image is not a shifted or mirrored copy of its original"
        changed += not torch.allclose(augmented, original, atol=1e-5)
        mirrored += all(i >= 81 for i in matches)
    assert changed >= 40 and 10 <= mirrored <= 40
    assert torch.allclose(plain._normalise(images[:4]), (images[:4].float() - plain.mean) / plain.std, atol=1e-5)


def test_same_seed_same_stream_other_seed_other_stream(images: torch.Tensor) -> None:
    a, b, c = take(stream(images), 8), take(stream(images), 8), take(stream(images, seed=1), 8)
    assert all(torch.equal(xa, xb) and torch.equal(ya, yb) for (xa, ya), (xb, yb) in zip(a, b))
    assert not all(torch.equal(ya, yc) for (_, ya), (_, yc) in zip(a, c))


def test_resume_is_bit_identical(images: torch.Tensor) -> None:
    uninterrupted = stream(images, seed=7)
    take(uninterrupted, 9)  # past the first epoch boundary (6 batches per epoch)
    buffer = io.BytesIO()
    torch.save(uninterrupted.state_dict(), buffer)
    expected = take(uninterrupted, 10)

    resumed = stream(images, seed=7)
    buffer.seek(0)
    resumed.load_state_dict(torch.load(buffer))
    assert resumed.epoch == uninterrupted.epoch - 10 * 16 / 100
    for (x, y), (ex, ey) in zip(take(resumed, 10), expected):
        assert torch.equal(x, ex) and torch.equal(y, ey)


def test_resume_into_a_different_stream_is_refused(images: torch.Tensor) -> None:
    state = stream(images).state_dict()
    with pytest.raises(ValueError, match="saved data stream is for 100 images in batches of 16"):
        stream(images[:50]).load_state_dict(state)

"""The offline synthetic set: CIFAR-10's shapes and dtypes, deterministic per seed, balanced, and wired into
load_dataset with the same splits as CIFAR-10."""

from __future__ import annotations

import torch

from explorer.config.run import DataConfig
from explorer.data.loading import load_dataset
from explorer.data.synthetic import make_synthetic
from explorer.data.synthetic import CLASSES


def test_shapes_and_dtypes_match_cifar() -> None:
    dataset = make_synthetic(200, 50, seed=0)
    assert dataset.name == "synthetic" and dataset.classes == CLASSES and len(CLASSES) == 10
    assert dataset.train_images.shape == (200, 3, 32, 32) and dataset.train_images.dtype == torch.uint8
    assert dataset.test_images.shape == (50, 3, 32, 32) and dataset.test_images.dtype == torch.uint8
    assert dataset.train_labels.dtype == torch.int64 and dataset.test_labels.dtype == torch.int64
    assert dataset.train_images.is_contiguous()
    assert 0 <= int(dataset.train_labels.min()) and int(dataset.train_labels.max()) <= 9


def test_same_seed_same_images_other_seed_other_images() -> None:
    a, b, c = make_synthetic(100, 20, seed=5), make_synthetic(100, 20, seed=5), make_synthetic(100, 20, seed=6)
    assert torch.equal(a.train_images, b.train_images) and torch.equal(a.train_labels, b.train_labels)
    assert torch.equal(a.test_images, b.test_images) and torch.equal(a.test_labels, b.test_labels)
    assert not torch.equal(a.train_images, c.train_images)
    assert not torch.equal(a.train_images[:20], a.test_images)  # the test set is not a copy of the training set


def test_test_set_does_not_depend_on_the_training_size() -> None:
    assert torch.equal(make_synthetic(100, 20, seed=1).test_images, make_synthetic(300, 20, seed=1).test_images)


def test_classes_are_balanced() -> None:
    counts = make_synthetic(503, 20, seed=0).train_labels.bincount(minlength=10)
    assert int(counts.min()) >= 50 and int(counts.max()) <= 51


def test_class_is_not_given_away_by_colour() -> None:
    # Objects and backgrounds take random hues: a class's mean hue is the set's, within sampling noise. Not its
    # brightness: a light object on a dark background makes a filled disc brighter than a ring, a shape cue.
    dataset = make_synthetic(1000, 20, seed=0)
    colours = dataset.train_images.float().mean((2, 3))  # [n, 3]
    colours = colours / colours.sum(1, keepdim=True)
    overall, spread = colours.mean(0), colours.std(0)
    for label in range(10):
        of_class = colours[dataset.train_labels == label]
        assert ((of_class.mean(0) - overall).abs() < 4 * spread / len(of_class) ** 0.5).all()


def test_images_use_the_whole_pixel_range() -> None:
    images = make_synthetic(200, 20, seed=0).train_images
    assert int(images.min()) == 0 and int(images.max()) == 255
    assert images.float().std() > 40


def test_load_dataset_synthetic_sizes_and_splits() -> None:
    dataset = load_dataset(DataConfig(dataset="synthetic", synthetic_size=100), seed=2)
    assert len(dataset.train_labels) == 100 and len(dataset.test_labels) == 20
    assert torch.equal(dataset.train_images, make_synthetic(100, 20, seed=2).train_images)

    val = load_dataset(DataConfig(dataset="synthetic", synthetic_size=100, split="val"), seed=2)
    assert len(val.train_labels) == 90 and len(val.test_labels) == 10

    subset = load_dataset(DataConfig(dataset="synthetic", synthetic_size=100, train_subset=40), seed=2)
    assert len(subset.train_labels) == 40 and len(subset.test_labels) == 20

"""The in-memory dataset every loader returns, and the two ways a run narrows it: the paper's train/validation
split and a seeded training subset.

Images stay uint8 NCHW on the CPU here; ``explorer.data.batches`` moves them to the device once.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import torch
from explorer.config.errors import ConfigError

# The paper's validation split holds out 5k of CIFAR-10's 50k training images (§4.2); smaller sets keep the ratio.
VALIDATION_FRACTION = 10
# The held-out images must not depend on the run's seed: every run of a 'val' experiment sees the same 5k.
VALIDATION_SEED = 20160627


@dataclass(frozen=True)
class Dataset:
    """Training and test images (uint8, [N, 3, 32, 32], CPU) with int64 labels and the class names."""

    train_images: torch.Tensor
    train_labels: torch.Tensor
    test_images: torch.Tensor
    test_labels: torch.Tensor
    classes: tuple[str, ...]
    name: str

    def with_validation_split(self) -> "Dataset":
        """The paper's split: a fixed 9/10 of the training set to train on, the other 1/10 as the test set."""
        n = len(self.train_labels)
        held_out = n // VALIDATION_FRACTION
        if held_out < 1:
            raise ConfigError("split", f"'val' needs at least {VALIDATION_FRACTION} training images; this set has {n}")
        order = torch.randperm(n, generator=torch.Generator().manual_seed(VALIDATION_SEED))
        train, val = order[held_out:], order[:held_out]
        return dataclasses.replace(
            self,
            train_images=self.train_images[train],
            train_labels=self.train_labels[train],
            test_images=self.train_images[val],
            test_labels=self.train_labels[val],
        )

    def with_train_subset(self, size: int, *, seed: int) -> "Dataset":
        """The first ``size`` images of a permutation of the training set drawn from ``seed``."""
        n = len(self.train_labels)
        if size > n:
            raise ConfigError("train-subset", f"{size} is larger than the {n} training images; use at most {n}")
        chosen = torch.randperm(n, generator=torch.Generator().manual_seed(seed))[:size]
        return dataclasses.replace(self, train_images=self.train_images[chosen], train_labels=self.train_labels[chosen])

"""The training data path: the whole dataset resident on the device, batches drawn and augmented there.

In airbench's style: the uint8 images are copied to the device once; each epoch is one ``randperm`` drawn from
a device-side generator; each batch is one gather, one fused normalisation and one more gather that does the
paper's augmentation (pad 4, random 32x32 crop, random horizontal flip) for the whole batch at once. No
DataLoader, no PIL, no per-image Python. The generator state, the epoch's permutation and the position in it
are the whole state of the stream, so a resumed run sees bit-identical batches.
"""

from __future__ import annotations

from typing import Iterator

import torch
import torch.nn.functional as F
from explorer.config.errors import ConfigError

PAD = 4  # pixels of padding before the random crop (§4.2)
MIN_STD = 1.0  # in pixel units: a pixel that never changes (possible in tiny sets) must not divide by zero


def pixel_stats(images: torch.Tensor, chunk: int = 2048) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-channel-per-pixel mean and standard deviation [3, H, W] (float32, pixel units) of uint8 images.

    Summed exactly in integers on the CPU, a chunk at a time (no float copy of the whole set), so the result
    is the same on every device (MPS has no float64) and for every resumption.
    """
    images = images.cpu()
    total = torch.zeros(images.shape[1:], dtype=torch.int64)
    squares = torch.zeros(images.shape[1:], dtype=torch.int64)
    for part in images.split(chunk):
        part = part.int()  # a square is at most 255**2; sums of int32 accumulate in int64
        total += part.sum(0)
        squares += (part * part).sum(0)
    mean = total.double() / len(images)
    std = (squares.double() / len(images) - mean.square()).clamp_min(0).sqrt().clamp_min(MIN_STD)
    return mean.float(), std.float()


def normalisation(data, train_images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """The mean and std [3, H, W] (pixel units) every network of a run is fed with: the ones its config records
    (pretrained weights' per-channel preprocessing) or else the training set's per-pixel statistics (the
    paper's). One rule for the trainer and the analyses."""
    if data.mean is None:
        return pixel_stats(train_images)
    shape = (len(data.mean), 1, 1)
    mean = torch.tensor(data.mean, dtype=torch.float32).view(shape).expand(train_images.shape[1:])
    std = torch.tensor(data.std, dtype=torch.float32).view(shape).expand(train_images.shape[1:])
    return 255.0 * mean, 255.0 * std


def resized(x: torch.Tensor, size: int | None) -> torch.Tensor:
    """Images ``x`` [B, C, H, W] at ``size`` pixels a side (bilinear), as a run records it; as they are when None
    or already that size (CIFAR's 32 px upsampled for weights trained at ImageNet's sizes)."""
    if size is None or x.shape[-2:] == (size, size):
        return x
    return F.interpolate(x, size=(size, size), mode="bilinear", align_corners=False)


def check_batch_size(batch_size: int, images: int) -> None:
    """Every batch is a full one: a batch larger than the training set is the person's to change."""
    if images < batch_size:
        raise ConfigError("batch-size", f"{batch_size} is larger than the {images} training images; "
                         f"use a batch size of at most {images}")


class DeviceBatches:
    """An endless stream of normalised, augmented training batches ``(x float32 [B, 3, 32, 32], y int64 [B])``,
    resized on the device to ``resize`` pixels a side where a run asks for it (after the augmentation).

    ``mean``/``std`` ([3, H, W], pixel units) default to the statistics of ``images``: the paper subtracts the
    per-pixel mean; dividing by the per-pixel std as well keeps the inputs at unit scale. Padding is zero after
    normalisation, i.e. the mean pixel, as in fb.resnet.torch's CIFAR pipeline.
    """

    def __init__(
        self,
        images: torch.Tensor,
        labels: torch.Tensor,
        *,
        batch_size: int,
        device: torch.device | str,
        augment: bool,
        seed: int,
        mean: torch.Tensor | None = None,
        std: torch.Tensor | None = None,
        channels_last: bool = True,
        drop_last: bool = True,
        resize: int | None = None,
    ) -> None:
        if images.dtype != torch.uint8 or images.ndim != 4 or len(images) != len(labels):
            raise ValueError(f"images must be uint8 [N, C, H, W] with one label each, not {images.dtype} "
                             f"{list(images.shape)} with {len(labels)} labels")
        if drop_last:
            check_batch_size(batch_size, len(images))
        self.device = torch.device(device)
        self.batch_size, self.augment, self.resize = batch_size, augment, resize
        self.channels_last, self.drop_last = channels_last, drop_last
        if mean is None or std is None:
            stats = pixel_stats(images)
            mean = stats[0] if mean is None else mean
            std = stats[1] if std is None else std
        self.mean, self.std = mean.float().cpu(), std.float().cpu()
        # (x - mean) / std as one fused multiply-add: x * scale + shift.
        self._scale = (1 / self.std).to(self.device)
        self._shift = (-self.mean / self.std).to(self.device)
        self.images = _to_device(images, self.device)
        self.labels = _to_device(labels.to(torch.int64), self.device)
        self._generator = torch.Generator(device=self.device).manual_seed(seed)
        self._order: torch.Tensor | None = None  # this epoch's permutation, drawn when the epoch starts
        self._position = 0
        self._seen = 0

    @property
    def epoch(self) -> float:
        """Training images served so far, in epochs."""
        return self._seen / len(self.labels)

    def __iter__(self) -> "DeviceBatches":
        return self

    def __next__(self) -> tuple[torch.Tensor, torch.Tensor]:
        n = len(self.labels)
        left = n - self._position
        if self._order is None or left == 0 or (self.drop_last and left < self.batch_size):
            self._order = torch.randperm(n, generator=self._generator, device=self.device)
            self._position = 0
        chosen = self._order[self._position : self._position + self.batch_size]
        self._position += len(chosen)
        self._seen += len(chosen)
        x = self._normalise(self.images[chosen])
        if self.augment:
            x = self._crop_and_flip(x)
        return self._layout(resized(x, self.resize)), self.labels[chosen]

    def eval_batches(
        self, images: torch.Tensor, labels: torch.Tensor, batch_size: int
    ) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        """Test batches in order, normalised with the training statistics, not augmented."""
        images, labels = _to_device(images, self.device), _to_device(labels.to(torch.int64), self.device)
        for start in range(0, len(labels), batch_size):
            x = self._normalise(images[start : start + batch_size])
            yield self._layout(resized(x, self.resize)), labels[start : start + batch_size]

    def state_dict(self) -> dict:
        """Everything needed to continue the stream exactly where it is (CPU tensors, for a checkpoint)."""
        return {
            "dataset_size": len(self.labels),
            "batch_size": self.batch_size,
            "images_seen": self._seen,
            "position": self._position,
            "order": None if self._order is None else self._order.cpu(),
            "generator": self._generator.get_state(),
        }

    def load_state_dict(self, state: dict) -> None:
        if state["dataset_size"] != len(self.labels) or state["batch_size"] != self.batch_size:
            raise ValueError(
                f"the saved data stream is for {state['dataset_size']} images in batches of {state['batch_size']}, "
                f"but this one has {len(self.labels)} in batches of {self.batch_size}; "
                "resume with the same data options"
            )
        # A checkpoint loaded with map_location="cuda" brings the state to the GPU; generators take a CPU
        # ByteTensor on every device.
        self._generator.set_state(state["generator"].cpu())
        self._order = None if state["order"] is None else state["order"].to(self.device)
        self._position, self._seen = state["position"], state["images_seen"]

    def _normalise(self, images: torch.Tensor) -> torch.Tensor:
        return torch.addcmul(self._shift, images.float(), self._scale)

    def _crop_and_flip(self, x: torch.Tensor) -> torch.Tensor:
        """A random window of each zero-padded image, mirrored for a random half: one gather for the batch."""
        b, c, h, w = x.shape
        padded = F.pad(x, (PAD, PAD, PAD, PAD))
        shift = torch.randint(0, 2 * PAD + 1, (2, b, 1), generator=self._generator, device=self.device)
        flip = torch.randint(0, 2, (b, 1), generator=self._generator, device=self.device).bool()
        rows = shift[0] + torch.arange(h, device=self.device)
        across = torch.arange(w, device=self.device)
        cols = shift[1] + torch.where(flip, w - 1 - across, across)
        # Index into each flattened padded plane: torch.gather is 3x faster on CPU than 3-tensor advanced indexing.
        where = (rows[:, :, None] * (w + 2 * PAD) + cols[:, None, :]).view(b, 1, h * w).expand(b, c, h * w)
        return torch.gather(padded.view(b, c, -1), 2, where).view(b, c, h, w)

    def _layout(self, x: torch.Tensor) -> torch.Tensor:
        return x.contiguous(memory_format=torch.channels_last if self.channels_last else torch.contiguous_format)


def _to_device(tensor: torch.Tensor, device: torch.device) -> torch.Tensor:
    """One copy to the device; from pinned memory on CUDA so the copy does not stall the host."""
    if device.type == "cuda" and tensor.device.type == "cpu":
        return tensor.pin_memory().to(device, non_blocking=True)
    return tensor.to(device)

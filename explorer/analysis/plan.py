"""What an analysis uses unless told otherwise and where its result goes: no torch here, so the Analysis tab can
show the sizes and find the results without loading it."""

from __future__ import annotations

from pathlib import Path

from explorer.runs.folder import RunDir

WHAT = ("responses", "lesion", "landscape")
ANALYSIS_DIR = "analysis"
# (images, points along a direction) by analysis and device, sized so that depth ≤ 56 finishes in minutes on a
# 2-core CPU (a ResNet-56 forward pass of 1,000 images takes ~2.6 s there): lesions of ResNet-56 ~3 min a net,
# its 1D landscape ~1 min, its 2D one (11 × 11) ~3 min; on a GPU, the paper-sized versions.
SIZES = {
    "cpu": {"responses": (1000, None), "lesion": (1000, None), "landscape": (1000, 21), "landscape-2d": (500, 11)},
    "gpu": {"responses": (2000, None), "lesion": (2000, None), "landscape": (2000, 41), "landscape-2d": (2000, 41)},
}


def default_size(what: str, two_d: bool, device_type: str) -> tuple[int, int | None]:
    """The images and points an analysis uses unless told otherwise, on a device of ``device_type``."""
    key = "landscape-2d" if two_d and what == "landscape" else what
    return SIZES["cpu" if device_type == "cpu" else "gpu"][key]


def result_path(run: RunDir, what: str, iteration: int, two_d: bool = False) -> Path:
    name = f"{what}{'-2d' if two_d and what == 'landscape' else ''}-iter-{iteration:08d}.json"
    return run.path / ANALYSIS_DIR / name

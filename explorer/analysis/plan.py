"""What an analysis uses unless told otherwise and where its result goes: no torch here, so the Analysis tab can
show the sizes and find the results without loading it."""

from __future__ import annotations

from pathlib import Path

from explorer.config.errors import ConfigError
from explorer.config.limits import MAX_ANALYSIS_IMAGES, MAX_LANDSCAPE_GRID, MAX_LANDSCAPE_POINTS, MAX_SEED, whole
from explorer.runs.folder import ANALYSIS_DIR, RunDir

WHAT = ("responses", "lesion", "landscape")
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


def check_options(what: str, *, subset: int | None, points: int | None, two_d: bool, seed: int,
                  iteration: int | None) -> None:
    """Every number an analysis takes, bounded before any work (the landscape's grid by the evaluations it costs:
    ``points`` per direction, squared on a plane); ConfigError names the option."""
    if what not in WHAT:
        raise ConfigError("what", f"{what!r} is not an analysis; choose one of {', '.join(WHAT)}")
    if subset is not None:
        whole("subset", subset, 10, MAX_ANALYSIS_IMAGES)
    if points is not None:
        whole("points", points, 3, MAX_LANDSCAPE_POINTS)
        if two_d and points > MAX_LANDSCAPE_GRID:
            raise ConfigError("points", f"{points} on a plane ({{two-d}}) is {points * points:,} evaluations of every "
                              f"network; use at most {MAX_LANDSCAPE_GRID} ({MAX_LANDSCAPE_GRID ** 2:,})",
                              others=("two-d",))
    whole("seed", seed, 0, MAX_SEED)
    if iteration is not None:
        whole("checkpoint", iteration, 0, 10**8)


def result_path(run: RunDir, what: str, iteration: int, two_d: bool = False) -> Path:
    name = f"{what}{'-2d' if two_d and what == 'landscape' else ''}-iter-{iteration:08d}.json"
    return run.path / ANALYSIS_DIR / name

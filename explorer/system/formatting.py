"""Numbers as a person reads them, one helper per job, shared by the CLI, the trainer's progress line and the
GUI: counts with K/M/G, the paper's parameter millions, bytes, durations, percentages, shapes."""

from __future__ import annotations

import math


def count(value: float, unit: str = "") -> str:
    """Three significant figures with K/M/G: 40551040 -> '40.6 M'."""
    for factor, prefix in ((1e9, "G"), (1e6, "M"), (1e3, "K")):
        if abs(value) >= factor:
            return f"{value / factor:.3g} {prefix}{unit}".rstrip()
    return f"{value:.0f} {unit}".rstrip()


def params(value: int) -> str:
    """Parameters in millions as the paper writes them: 269722 -> '0.27 M', 25557032 -> '25.6 M'."""
    millions = value / 1e6
    return f"{millions:.2f} M" if millions < 10 else f"{millions:.1f} M"


def size(value: int) -> str:
    """Bytes in binary units: 6439000 -> '6.1 MiB'."""
    for factor, unit in ((2**40, "TiB"), (2**30, "GiB"), (2**20, "MiB"), (2**10, "KiB")):
        if value >= factor:
            return f"{value / factor:.1f} {unit}"
    return f"{value} B"


def duration(seconds: float) -> str:
    """'45 s', '3 min 07 s', '2 h 05 min'; '?' when not known."""
    if not isinstance(seconds, (int, float)) or not math.isfinite(seconds):
        return "?"
    seconds = int(max(0, seconds))
    if seconds >= 3600:
        return f"{seconds // 3600} h {seconds % 3600 // 60:02d} min"
    if seconds >= 60:
        return f"{seconds // 60} min {seconds % 60:02d} s"
    return f"{seconds} s"


def percent(fraction: float | None, digits: int = 2) -> str:
    """An error fraction as percent: 0.0725 -> '7.25%'; '-' when missing or not finite."""
    if fraction is None or not isinstance(fraction, (int, float)) or not math.isfinite(fraction):
        return "-"
    return f"{100 * fraction:.{digits}f}%"


def shape(output: tuple[int, ...]) -> str:
    """The output of one image, batch dimension dropped: (1, 16, 32, 32) -> '16 × 32 × 32'."""
    return " × ".join(map(str, output[1:] or output))


def networks(models) -> str:
    """``plain-20/56, ResNet-20/56``: networks (ModelConfigs) grouped by kind, depths in order."""
    groups: dict[str, list[str]] = {}
    for model in models:
        kind = model.label.rpartition("-")[0]
        groups.setdefault(kind, []).append(str(model.depth))
    return ", ".join(f"{kind}-{'/'.join(depths)}" for kind, depths in groups.items())

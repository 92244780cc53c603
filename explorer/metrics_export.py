"""A run's metrics as CSV, read from its run directory (the single source of truth), not from what a window
happens to hold: every effective training and test point of every network, one row each, errors in percent."""

from __future__ import annotations

import csv
import io
from pathlib import Path

from explorer.files import atomic_write
from explorer.runs import RunDir, effective_events

CSV_COLUMNS = ("run", "model", "seed", "iteration", "epoch", "kind", "error_percent", "loss", "lr", "images_per_sec")


def _percent(value) -> object:
    return "" if value is None else 100.0 * value


def metric_rows(run: RunDir) -> list[tuple]:
    """The rows of ``run``: training points as logged, test points with the epoch of the nearest training point."""
    events, _ = run.read_events()
    name = run.config().name
    rows, epochs_per_iteration = [], 0.0
    for event in effective_events(events):
        kind = event["type"]
        if kind == "train":
            it, epoch = event["iteration"], event.get("epoch")
            if not epochs_per_iteration and isinstance(epoch, (int, float)) and it:
                epochs_per_iteration = epoch / it
            rows.append((name, event["model"], event.get("seed", ""), it, epoch, "train",
                         _percent(event.get("error")), event.get("loss"), event.get("lr"),
                         event.get("images_per_sec")))
        elif kind == "eval":
            it = event["iteration"]
            rows.append((name, event["model"], event.get("seed", ""), it,
                         round(it * epochs_per_iteration, 4) if epochs_per_iteration else "", "test",
                         _percent(event.get("test_error")), event.get("test_loss"), "", ""))
    return rows


def write_metrics_csv(runs: list[Path], path: Path) -> int:
    """Write the rows of every run in ``runs`` to ``path``; returns the number of rows. Raises OSError."""
    rows = [row for run in runs for row in metric_rows(RunDir(run))]
    text = io.StringIO()
    writer = csv.writer(text)
    writer.writerow(CSV_COLUMNS)
    writer.writerows(rows)
    atomic_write(path, text.getvalue())
    return len(rows)

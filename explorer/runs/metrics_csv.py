"""A run's metrics as CSV, read from its run directory (the single source of truth), not from what a window
happens to hold: every effective training and test point of every network, one row each, errors in percent.
A run of several seeds also gets, per network and kind, rows of seed "mean" with the seeds' mean, their sample
std and how many seeds had the point (from :mod:`explorer.runs.seed_stats`, as the curves' bands)."""

from __future__ import annotations

import csv
import io
from pathlib import Path

from explorer.system.files import atomic_write
from explorer.runs.events import effective_events
from explorer.runs.folder import RunDir
from explorer.runs.seed_stats import band

CSV_COLUMNS = ("run", "model", "seed", "iteration", "epoch", "kind", "error_percent", "loss", "lr", "images_per_sec",
               "std_percent", "seeds")


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
                         event.get("images_per_sec"), "", ""))
        elif kind == "eval":
            it = event["iteration"]
            rows.append((name, event["model"], event.get("seed", ""), it,
                         round(it * epochs_per_iteration, 4) if epochs_per_iteration else "", "test",
                         _percent(event.get("test_error")), event.get("test_loss"), "", "", "", ""))
    return rows + _mean_rows(rows, epochs_per_iteration)


def _mean_rows(rows: list[tuple], epochs_per_iteration: float) -> list[tuple]:
    curves: dict[tuple, dict] = {}
    for row in rows:
        run, model, seed, it, _epoch, kind, error = row[:7]
        if seed != "" and isinstance(error, float):
            points = curves.setdefault((run, model, kind), {}).setdefault(seed, ([], []))
            points[0].append(it)
            points[1].append(error)
    means = []
    for (run, model, kind), seeds in curves.items():
        if len(seeds) < 2:
            continue
        numbers = band(list(seeds.values()))
        for it, mean, std, count in zip(numbers.x, numbers.mean, numbers.std, numbers.count):
            epoch = round(it * epochs_per_iteration, 4) if epochs_per_iteration else ""
            means.append((run, model, "mean", int(it), epoch, kind, float(mean), "", "", "", float(std), int(count)))
    return means


def write_metrics_csv(runs: list[Path], path: Path) -> int:
    """Write the rows of every run in ``runs`` to ``path``; returns the number of rows. Raises OSError."""
    rows = [row for run in runs for row in metric_rows(RunDir(run))]
    write_rows(path, CSV_COLUMNS, rows)
    return len(rows)


def write_rows(path: Path, header: tuple, rows: list[tuple]) -> None:
    """A CSV file of ``header`` and ``rows``, written atomically. Raises OSError."""
    text = io.StringIO()
    writer = csv.writer(text)
    writer.writerow(header)
    writer.writerows(rows)
    atomic_write(path, text.getvalue())

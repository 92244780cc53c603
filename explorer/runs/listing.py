"""The runs list (``resnet-explorer runs``, the GUI's Runs tab): one row per run folder, never failing as a whole.

A folder whose config is missing, corrupt or invalid, whose status has the wrong types, or that cannot be read
at all, still gets a row: its state reads "unreadable" and its message says what is wrong, so a person sees it
and every other run lists normally. No torch here.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

from explorer.runs.checkpoints import checkpoint_disk_bytes, latest_iteration
from explorer.system.formatting import percent
from explorer.runs.events import effective_events, stepping_of, where_and_how
from explorer.runs.folder import CONFIG_FILE, METRICS_FILE, RunDir, RunDirError, os_reason
from explorer.runs.seed_stats import spread
from explorer.runs.state import RunState


@dataclass(frozen=True)
class RunInfo:
    """One line of the runs list."""

    path: Path
    name: str
    created: float
    state: RunState
    message: str
    models: tuple[str, ...]
    iteration: int
    iterations: int
    best_test_error: dict[str, float]  # per model, the best over every iteration (and every seed)
    device: str
    precision: str
    dataset: str = ""
    busy: bool = False
    pid: int | None = None
    checkpoint_iteration: int | None = None
    checkpoint_bytes: int = 0
    problem: str = ""
    seed_best_test_error: dict[str, list[float]] = field(default_factory=dict)  # per model, each seed's best
    stepping: str = ""  # how its steps were launched ("fused, CUDA graphs"), from its last start event
    model_configs: tuple = field(default=(), compare=False, repr=False)

    def best_text(self, model: str) -> str:
        """"6.43%", or for several seeds the mean ± std of the seeds' best errors first, then the best seed's,
        each said for what it is: "6.61 ± 0.16% over 5 seeds (best seed 6.43%)" (the paper's "6.43 (6.61±0.16)"
        read as one number with a typo)."""
        best = percent(self.best_test_error.get(model))
        found = spread(self.seed_best_test_error.get(model, []))
        if found is None or found.count < 2:
            return best
        return f"{100 * found.mean:.2f} ± {100 * found.std:.2f}% over {found.count} seeds (best seed {best})"

    @property
    def how(self) -> str:
        """Where and how it trained: "cpu / bf16", "cuda / bf16, fused, CUDA graphs"."""
        return where_and_how(self.device, self.precision, self.stepping)

    def to_json(self) -> dict:
        data = {k: v for k, v in self.__dict__.items() if k != "model_configs"}
        return {**data, "path": str(self.path), "models": list(self.models)}


def _created(path: Path) -> float:
    for candidate in (path / CONFIG_FILE, path):
        try:
            return candidate.stat().st_mtime
        except OSError:
            continue
    return 0.0


def _unreadable(path: Path, problem: str) -> RunInfo:
    return RunInfo(path=path, name=path.name, created=_created(path), state=RunState.UNREADABLE, message=problem,
                   models=(), iteration=0, iterations=0, best_test_error={}, device="", precision="",
                   problem=problem)


def run_info(run: RunDir) -> RunInfo:
    """The row of one run folder; a folder that cannot be read as a run gets a row saying why."""
    try:
        return _run_info(run)
    except Exception as exc:  # noqa: BLE001 - one folder, however broken, never fails the list
        return _unreadable(run.path, f"cannot read {run.path}: {type(exc).__name__}: {exc}")


def _run_info(run: RunDir) -> RunInfo:
    try:
        config = run.config()
    except RunDirError as exc:
        return _unreadable(run.path, str(exc))
    try:
        status = run.status()
        events, _ = run.read_events(skip=b'"type": "train"')
    except OSError as exc:
        return _unreadable(run.path, f"cannot read {run.path}: {os_reason(exc)}")
    best: dict[str, float] = {}
    by_seed: dict[str, dict[int, float]] = {}
    device, precision, dataset = config.train.device, config.train.precision, config.data.dataset
    how = ""
    for event in effective_events(events):
        if event["type"] == "start":
            device = event.get("device", device)
            precision = event.get("precision", precision)
            how = stepping_of(event)
        elif event["type"] == "eval" and event.get("test_error") is not None:
            model, error = event["model"], float(event["test_error"])
            best[model] = min(best.get(model, math.inf), error)
            if isinstance(event.get("seed"), int):
                seeds = by_seed.setdefault(model, {})
                seeds[event["seed"]] = min(seeds.get(event["seed"], math.inf), error)
    checkpoint = latest_iteration(run.checkpoint_dir)
    iteration = status.iteration
    if checkpoint is not None and not status.busy:
        iteration = max(iteration, checkpoint)  # what a resume continues from, never 0 for a run with progress
    return RunInfo(
        path=run.path, name=config.name, created=_created(run.path), state=status.state,
        message=status.message, models=tuple(m.name for m in config.model_configs()),
        iteration=int(iteration), iterations=config.train.iterations, best_test_error=best, device=device,
        precision=precision, dataset=dataset, busy=status.busy, pid=status.pid,
        checkpoint_iteration=checkpoint, checkpoint_bytes=checkpoint_disk_bytes(run.checkpoint_dir),
        problem=status.problem, model_configs=tuple(config.model_configs()),
        seed_best_test_error={m: [v for _, v in sorted(seeds.items())] for m, seeds in by_seed.items()},
        stepping=how,
    )


def _looks_like_run(path: Path) -> bool:
    """A run folder, or what is left of one: any of the files a run folder holds."""
    try:
        return path.is_dir() and any((path / name).exists() for name in (CONFIG_FILE, METRICS_FILE, "status.json"))
    except OSError:
        return False


def training_now(runs_dir: str | Path) -> list[Path]:
    """The run folders of ``runs_dir`` a trainer holds now (whoever started it): cheap, one lock probe each."""
    try:
        entries = list(Path(runs_dir).expanduser().iterdir())
    except OSError:
        return []
    return sorted(p for p in entries if not p.is_symlink() and RunDir(p).trainer_pid() is not None)


def list_runs(runs_dir: str | Path) -> list[RunInfo]:
    """The runs in ``runs_dir``, newest first; [] when the folder does not exist. Raises RunDirError (one
    sentence) when the runs folder itself cannot be read, or is a file."""
    runs_dir = Path(runs_dir).expanduser()
    try:
        entries = list(runs_dir.iterdir())
    except FileNotFoundError:
        return []
    except NotADirectoryError:
        raise RunDirError(f"the runs folder {runs_dir} is a file, not a folder; choose the folder your runs are in") \
            from None
    except OSError as exc:
        raise RunDirError(f"cannot read the runs folder {runs_dir}: {os_reason(exc)}; choose another one") from None
    infos = []
    for path in entries:
        try:
            if path.is_symlink() and path.is_dir() and _looks_like_run(path):
                infos.append(_unreadable(path, f"{path} is a link to a run folder, not one; open its target instead"))
                continue
            readable = path.is_dir() and not path.is_symlink()
            if readable and not _looks_like_run(path):
                try:
                    next(path.iterdir(), None)
                    continue  # an ordinary folder that is not a run
                except PermissionError:
                    infos.append(_unreadable(path, f"cannot read {path}: permission denied"))
                    continue
        except OSError as exc:
            infos.append(_unreadable(path, f"cannot read {path}: {os_reason(exc)}"))
            continue
        if readable:
            infos.append(run_info(RunDir(path)))
    return sorted(infos, key=lambda info: (info.created, info.path.name), reverse=True)

"""What a training run tells the world: event lines in ``metrics.jsonl``, ``status.json``, and a progress
line on stderr for a person at a terminal (``\\r``-updated on a TTY, one plain line per update otherwise).

Event types (docs/architecture.md, "The run folder"): ``start`` (also ``milestones``, ``batch_size``, ``dataset``,
``resumed_from``, ``threads`` and why; written each time a trainer starts), ``threads`` (the count changed),
``resume``, ``download``, ``train``, ``eval``,
``diverged``, ``end``. ``images_per_sec`` in ``train`` events counts training images taken from the data
stream per second, each of them fed to every model of the run: the remaining time is
``(iterations - iteration) * batch_size / images_per_sec``.
"""

from __future__ import annotations

import math
import os
import sys
import threading
import time
from typing import IO, Sequence

from explorer.system.formatting import duration, percent
from explorer.system.progress import show
from explorer.runs.folder import RunDir
from explorer.training.tensorboard_log import mirrored

DOWNLOAD_EVENT_INTERVAL_S = 0.5


class _NoRun:
    """Where the other ranks of a torchrun job write: nowhere (rank 0 writes the run folder)."""

    def __init__(self, run: RunDir) -> None:
        self.path = run.path

    def append_event(self, event: dict) -> None:
        pass

    def write_status(self, *args, **kwargs) -> None:
        pass


class Reporter:
    """Writes the events of one trainer process and keeps ``status.json`` current."""

    def __init__(self, run: RunDir, iterations: int, stream: IO[str] | None = None, iteration: int = 0) -> None:
        self.run = mirrored(run, warn=lambda line: self.say(line))  # and into TensorBoard's files, where installed
        self.iterations = iterations
        self.stream = stream if stream is not None else sys.stderr
        self.tty = self.stream.isatty()
        self.pid = os.getpid()
        self.iteration = iteration  # where a resumed run stands before its first step: never 0 for one with progress
        self.images_per_sec = math.nan
        self.train_error: dict[str, float | None] = {}
        self.test_error: dict[str, float | None] = {}
        self._last_download = -math.inf
        self._batch_size = 0
        self._layers_sent: set = set()
        self._end_lock = threading.Lock()  # under torchrun rank 0's watch may end the run from its own thread
        self.ended = False

    # -- the line a person reads ---------------------------------------------------------------------------
    def say(self, text: str) -> None:
        """A stage before the first step ("loading data…"), or a final word; ends any ``\\r`` line."""
        self.stream.write(("\r\x1b[K" if self.tty else "") + text + "\n")
        self.stream.flush()

    def _progress(self) -> None:
        left = (self.iterations - self.iteration) * self._batch_size / self.images_per_sec \
            if self.images_per_sec and math.isfinite(self.images_per_sec) else math.nan
        speed = f"{self.images_per_sec:.0f}" if math.isfinite(self.images_per_sec) else "-"
        parts = [f"iteration {self.iteration}/{self.iterations}", f"ETA {duration(left)}", f"{speed} img/s"]
        for model, error in self.train_error.items():
            test = self.test_error.get(model)
            parts.append(f"{model} train {percent(error)}" + (f" test {percent(test)}" if test is not None else ""))
        line = "  ".join(parts)
        if self.tty:
            self.stream.write("\r\x1b[K" + line)
        else:
            self.stream.write(line + "\n")
        self.stream.flush()

    # -- events --------------------------------------------------------------------------------------------
    def start(self, *, models: Sequence[str], device: str, precision: str, milestones: Sequence[int],
              batch_size: int, dataset: str, resumed_from: int, threads=None, seeds: int = 1,
              world: int = 1, fused: bool = False, graphs: bool = False) -> None:
        self._batch_size = batch_size
        self.iteration = resumed_from
        self.train_error = {}
        self.run.append_event({
            "type": "start", "time": time.time(), "models": list(dict.fromkeys(models)), "device": device,
            "precision": precision, "iterations": self.iterations, "milestones": list(milestones),
            "batch_size": batch_size, "dataset": dataset, "resumed_from": resumed_from, "seeds": seeds,
            "world": world, "fused": fused, "graphs": graphs,
            "threads": threads.threads if threads else 0, "threads_reason": threads.reason if threads else "",
        })
        self.status("running", iteration=resumed_from)

    def threads(self, choice, iteration: int) -> None:
        """The trainer changed its thread count: another process started or ended."""
        self.run.append_event({"type": "threads", "iteration": iteration, "threads": choice.threads,
                               "reason": choice.reason, "time": time.time()})

    def resume(self, iteration: int) -> None:
        self.run.append_event({"type": "resume", "iteration": iteration, "time": time.time()})

    def download(self, done: int, total: int) -> None:
        """Bytes of the dataset downloaded so far."""
        self._progress_event("download", done, total)

    def decoding(self, done: int, total: int) -> None:
        """Images of a folder decoded so far."""
        self._progress_event("decode", done, total)

    def _progress_event(self, kind: str, done: int, total: int) -> None:
        """At most two events a second, plus the last one."""
        now = time.monotonic()
        if now - self._last_download < DOWNLOAD_EVENT_INTERVAL_S and done < total:
            return
        self._last_download = now
        self.run.append_event({"type": kind, "done": done, "total": total, "time": time.time()})
        show(self.stream, kind, done, total)

    def _append(self, event: dict, seed: int | None) -> None:
        self.run.append_event(event if seed is None else {**event, "seed": seed})

    def train(self, model: str, *, iteration: int, epoch: float, loss: float, error: float, lr: float,
              images_per_sec: float, seed: int | None = None) -> None:
        self.train_error[model if seed is None else f"{model}#{seed}"] = error
        self._append({
            "type": "train", "model": model, "iteration": iteration, "epoch": round(epoch, 4), "loss": loss,
            "error": error, "lr": lr, "images_per_sec": images_per_sec, "time": time.time(),
        }, seed)

    def grad(self, model: str, *, iteration: int, layers: list[str], norms: list[float],
             seed: int | None = None) -> None:
        """The mean gradient norm of each weighted layer over the interval; the names only in the first event of
        a network after a start (the readers keep them), so the lines stay short."""
        key = (model, seed)
        event = {"type": "grad", "model": model, "iteration": iteration,
                 "norms": [float(f"{n:.4g}") for n in norms], "time": time.time()}
        if key not in self._layers_sent:
            self._layers_sent.add(key)
            event["layers"] = list(layers)
        self._append(event, seed)

    def eval(self, model: str, *, iteration: int, test_loss: float, test_error: float,
             seed: int | None = None) -> None:
        self.test_error[model if seed is None else f"{model}#{seed}"] = test_error
        self._append({"type": "eval", "model": model, "iteration": iteration, "test_loss": test_loss,
                      "test_error": test_error, "time": time.time()}, seed)

    def diverged(self, model: str, *, iteration: int, message: str, seed: int | None = None) -> None:
        self.train_error.pop(model if seed is None else f"{model}#{seed}", None)
        self._append({"type": "diverged", "model": model, "iteration": iteration, "time": time.time(),
                      "message": message}, seed)
        self.say(f"{model}{'' if seed is None else f' (seed {seed})'}: {message}")

    def interval(self, iteration: int, images_per_sec: float) -> None:
        """After each logging interval: the status file and the progress line."""
        self.iteration = iteration
        self.images_per_sec = images_per_sec
        self.status("running", iteration=iteration)
        self._progress()

    def tick(self, iteration: int) -> None:
        """Between logging intervals, on a terminal only: move the iteration counter without a device sync."""
        if self.tty:
            self.iteration = iteration
            self._progress()

    def status(self, state: str, message: str = "", iteration: int | None = None) -> None:
        self.run.write_status(state, message, self.iteration if iteration is None else iteration, self.pid)

    def end(self, state: str, message: str = "", iteration: int | None = None) -> None:
        """The end event, then the status. A full disk may refuse the event line: the status is still written
        (in place if need be), and only an error writing that reaches the caller. A run ends once: a second
        end (the main thread after rank 0's watch, or the other way round) writes nothing."""
        with self._end_lock:
            if self.ended:
                return
            self.ended = True
        if iteration is not None:
            self.iteration = iteration
        try:
            self.run.append_event({"type": "end", "status": state, "message": message, "time": time.time()})
        except OSError:
            pass
        self.status(state, message)
        if self.tty:
            self.stream.write("\n")
        self.say(f"{state} at iteration {self.iteration}/{self.iterations}" + (f": {message}" if message else "")
                 + f" ({self.run.path})")


class SilentReporter(Reporter):
    """A rank other than 0 under torchrun: it trains, and reports nothing but its failure, which it leaves for
    rank 0 to report (:mod:`explorer.training.peers`)."""

    def __init__(self, run: RunDir, iterations: int, stream: IO[str] | None = None, iteration: int = 0,
                 rank: int = 1) -> None:
        super().__init__(_NoRun(run), iterations, stream, iteration)
        self.rank = rank

    def end(self, state: str, message: str = "", iteration: int | None = None) -> None:
        if state == "failed":
            from explorer.training.peers import tell_failure

            tell_failure(self.rank, message)
        super().end(state, message, iteration)

    def say(self, text: str) -> None:
        pass

    def _progress(self) -> None:
        pass

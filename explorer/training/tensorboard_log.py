"""TensorBoard beside us: each run also writes TensorBoard event files into its own run folder, so that
``tensorboard --logdir RUNS_DIR`` shows every run (one run of TensorBoard's per run folder), live, with no
export step. Written only where the ``tensorboard`` package is installed (the ``tensorboard`` extra).

What goes there mirrors ``metrics.jsonl`` (the run's single source of truth), event by event, as the trainer
writes it: per network (seeds as networks of their own, ``resnet-56-seed1``) the scalars ``train error %``,
``test error %``, ``train loss``, ``test loss``, ``lr`` and ``images per second``, each tag ``<scalar>/<network>``,
its step the iteration; the run's settings as hparams (the HParams dashboard's session) in the same folder, not
in a sub-run; how the run ended. One event file per trainer process, written synchronously with the event line
(one small ``write`` each, no thread, no buffer to lose), so what TensorBoard shows is what the run folder says.

**Resumes.** A trainer killed after it logged points past its last checkpoint left them in its event file, as in
``metrics.jsonl``, where a ``resume`` event supersedes them (:func:`explorer.runs.events.effective_events`). Here
the resumed trainer does the same twice over: it removes those points from the earlier event files of the run
(rewritten atomically, so a TensorBoard started later never sees them), and its own file starts with a
``SessionLog.START`` at the first superseded step, TensorBoard's own word for "a restart: drop what came after"
(for a TensorBoard that read them already; its newer data server drops a tag's points anyway when a smaller step
of that tag comes in).

**Never in the way of training.** A failure here - TensorBoard not importable, the folder refusing the file -
is one warning line on the trainer's stderr, after which the run goes on without TensorBoard files.
"""

from __future__ import annotations

import importlib.util
import os
import socket
import struct
import time
from pathlib import Path
from typing import Any, Callable

from explorer.config.run import network_key
from explorer.runs.folder import RunDir
from explorer.system.files import atomic_write, open_regular_fd, read_regular

FILE_PREFIX = "events.out.tfevents."
TRAIN_SCALARS = (("error", "train error %", 100.0), ("loss", "train loss", 1.0), ("lr", "lr", 1.0),
                 ("images_per_sec", "images per second", 1.0))
EVAL_SCALARS = (("test_error", "test error %", 100.0), ("test_loss", "test loss", 1.0))
ENDED = {"finished": "STATUS_SUCCESS", "failed": "STATUS_FAILURE"}  # a cancelled run may go on: no end yet


def mirrored(run, warn: Callable[[str], None]):
    """``run`` (a RunDir) with every event it takes mirrored into TensorBoard event files; ``run`` itself where
    the tensorboard package is not installed, or where ``run`` is not a run folder of this process's own (the
    other ranks of a torchrun job write nowhere)."""
    if not isinstance(run, RunDir) or importlib.util.find_spec("tensorboard") is None:
        return run
    return _MirroredRun(run, TensorBoardLog(run.path, run.config, warn))


class _MirroredRun:
    """A RunDir whose ``append_event`` also feeds the TensorBoard log (after the event line: the run folder's
    word comes first); everything else is the RunDir's."""

    def __init__(self, run, log: "TensorBoardLog") -> None:
        self._run, self.tensorboard = run, log

    def append_event(self, event: dict) -> None:
        self._run.append_event(event)
        self.tensorboard.add(event)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._run, name)


class TensorBoardLog:
    """The event file of one trainer process in ``folder``; :meth:`add` takes the run's events and never raises.
    ``config()`` gives the run's RunConfig (its hparams)."""

    def __init__(self, folder: Path, config: Callable[[], Any], warn: Callable[[str], None]) -> None:
        self.folder = Path(folder)
        self._config = config
        self._warn = warn
        self._fd: int | None = None
        self._path: Path | None = None  # this process's file, once opened
        self._failed = False
        self._proto = None  # tensorboard's protos and record framing, imported at the first write

    def add(self, event: dict) -> None:
        if self._failed:
            return
        try:
            self._add(event)
        except Exception as exc:  # noqa: BLE001 - whatever TensorBoard's side does, training goes on
            self._failed = True
            self.close()
            self._warn(f"TensorBoard: cannot write event files into {self.folder} ({type(exc).__name__}: {exc}); "
                       "the run goes on without them")

    def _add(self, event: dict) -> None:
        kind = event.get("type")
        if kind == "resume":
            self._supersede(event["iteration"])
        elif kind == "start":
            self._write_hparams(event)
        elif kind in ("train", "eval"):
            values = scalars(event)
            if values:
                self._write_scalars(event["iteration"], values, event.get("time"))
        elif kind == "end":
            if event.get("status") in ENDED:
                self._write_end(ENDED[event["status"]], event.get("time"))
            self.close()

    # -- the records ---------------------------------------------------------------------------------------------
    def _protos(self):
        if self._proto is None:
            from tensorboard.compat.proto import event_pb2, summary_pb2
            from tensorboard.compat.tensorflow_stub.pywrap_tensorflow import masked_crc32c
            from tensorboard.plugins.hparams import api_pb2, metadata, plugin_data_pb2

            self._proto = (event_pb2, summary_pb2, masked_crc32c, api_pb2, metadata, plugin_data_pb2)
        return self._proto

    def _write(self, **fields) -> None:
        event_pb2, _, masked_crc32c, *_ = self._protos()
        if self._fd is None:
            self._open()
        data = event_pb2.Event(wall_time=fields.pop("wall_time", None) or time.time(), **fields).SerializeToString()
        header = struct.pack("<Q", len(data))
        record = header + struct.pack("<I", masked_crc32c(header)) + data + struct.pack("<I", masked_crc32c(data))
        if os.write(self._fd, record) != len(record):
            raise OSError("the disk took only part of a record")

    def _open(self) -> None:
        """This process's event file, named to sort after every earlier one of the run (TensorBoard reads a run's
        files in name order, and a resumed trainer's records must come after the ones they supersede)."""
        stamp = max([int(time.time())] + [_stamp(p) + 1 for p in self._earlier_files()])
        path = self.folder / f"{FILE_PREFIX}{stamp:010d}.{socket.gethostname()}.{os.getpid()}.0"
        self._fd = open_regular_fd(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_APPEND)
        self._path = path
        event_pb2 = self._protos()[0]
        self._write(file_version="brain.Event:2",
                    source_metadata=event_pb2.SourceMetadata(writer="resnet-explorer"))

    def _write_scalars(self, step: int, values: list[tuple[str, float]], wall_time: float | None) -> None:
        summary_pb2 = self._protos()[1]
        summary = summary_pb2.Summary(value=[summary_pb2.Summary.Value(tag=tag, simple_value=value)
                                             for tag, value in values])
        self._write(step=step, summary=summary, wall_time=wall_time)

    def _write_plugin(self, tag: str, info: Any, wall_time: float | None) -> None:
        _, summary_pb2, _, _, metadata, _ = self._protos()
        value = summary_pb2.Summary.Value(tag=tag, metadata=metadata.create_summary_metadata(info),
                                          tensor=metadata.NULL_TENSOR)
        self._write(step=0, summary=summary_pb2.Summary(value=[value]), wall_time=wall_time)

    def _write_hparams(self, start: dict) -> None:
        _, _, _, _, metadata, plugin_data_pb2 = self._protos()
        session = plugin_data_pb2.SessionStartInfo(start_time_secs=start.get("time") or time.time())
        for name, value in hparams(self._config().to_dict(), start).items():
            if isinstance(value, bool):
                session.hparams[name].bool_value = value
            elif isinstance(value, (int, float)):
                session.hparams[name].number_value = value
            else:
                session.hparams[name].string_value = str(value)
        self._write_plugin(metadata.SESSION_START_INFO_TAG,
                           plugin_data_pb2.HParamsPluginData(session_start_info=session), start.get("time"))

    def _write_end(self, status: str, wall_time: float | None) -> None:
        _, _, _, api_pb2, metadata, plugin_data_pb2 = self._protos()
        end = plugin_data_pb2.SessionEndInfo(status=api_pb2.Status.Value(status), end_time_secs=wall_time or 0.0)
        self._write_plugin(metadata.SESSION_END_INFO_TAG, plugin_data_pb2.HParamsPluginData(session_end_info=end),
                           wall_time)

    # -- resumes -------------------------------------------------------------------------------------------------
    def _supersede(self, iteration: int) -> None:
        """The resume rule, in TensorBoard's files: points past ``iteration`` logged by a trainer that was killed
        before its next checkpoint are removed from the earlier files, and a restart is marked in this one."""
        event_pb2 = self._protos()[0]
        for path in self._earlier_files():
            prune(path, iteration, event_pb2)
        self._write(step=iteration + 1, session_log=event_pb2.SessionLog(status=event_pb2.SessionLog.START))

    def _earlier_files(self) -> list[Path]:
        """The event files of the run's earlier trainers (this process's own left out)."""
        return sorted(p for p in self.folder.glob(f"{FILE_PREFIX}*") if p.is_file() and p != self._path)

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None


def scalars(event: dict) -> list[tuple[str, float]]:
    """The (tag, value) pairs TensorBoard shows of a ``train`` or ``eval`` event (none of a value that is None:
    NaN in the run's terms)."""
    key = network_key(event["model"], event.get("seed"))
    fields = TRAIN_SCALARS if event["type"] == "train" else EVAL_SCALARS
    return [(f"{tag}/{key}", event[field] * scale) for field, tag, scale in fields
            if isinstance(event.get(field), (int, float))]


def hparams(config: dict, start: dict) -> dict[str, Any]:
    """The run's settings as flat hparams (``train.lr``, ``model.depth``, ``data.dataset``…) and what the trainer
    chose at its start (``run.device``, ``run.precision``); lists as text, unset values left out."""
    flat: dict[str, Any] = {}
    for section, values in config.items():
        if isinstance(values, dict):
            for name, value in values.items():
                if isinstance(value, (list, tuple)):
                    value = ",".join(map(str, value)) or None
                if value is not None:
                    flat[f"{section}.{name}"] = value
        elif values is not None:
            flat[section] = values
    for name in ("device", "precision", "world", "fused", "graphs"):
        if start.get(name) is not None:
            flat[f"run.{name}"] = start[name]
    return flat


def _stamp(path: Path) -> int:
    try:
        return int(path.name[len(FILE_PREFIX):].split(".", 1)[0])
    except ValueError:
        return 0


def records(data: bytes) -> list[tuple[int, int]]:
    """(start, end) of each whole record of an event file's bytes; a partial last one (a kill mid-write) is not."""
    found, position = [], 0
    while position + 12 <= len(data):
        (length,) = struct.unpack_from("<Q", data, position)
        end = position + 12 + length + 4
        if end > len(data):
            break
        found.append((position, end))
        position = end
    return found


def prune(path: Path, iteration: int, event_pb2) -> None:
    """Rewrite ``path`` without its points past ``iteration`` (and without a partial last record); untouched
    when it has none. Records are copied as they are, their checksums with them."""
    data = read_regular(path)
    kept, dropped = [], False
    spans = records(data)
    for start, end in spans:
        raw = data[start:end]
        try:
            event = event_pb2.Event.FromString(raw[12:-4])
        except Exception:  # noqa: BLE001 - a garbled record: no point of ours
            dropped = True
            continue
        if event.HasField("summary") and event.step > iteration and _is_point(event):
            dropped = True
            continue
        kept.append(raw)
    if dropped or (spans[-1][1] if spans else 0) != len(data):
        atomic_write(path, b"".join(kept), durable=False)


def _is_point(event) -> bool:
    """A scalar, not the hparams (written at step 0, they never pass an iteration anyway)."""
    return any(value.HasField("simple_value") for value in event.summary.value)

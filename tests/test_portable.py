"""Portable by design (explorer/system/host.py): every module imports where POSIX-only modules do not exist (as on
Windows), the run folder works without the POSIX-only calls of ``os``, the lock and the stop request behave across
real processes, and a trainer stopped through the request - the app's Stop on every system - checkpoints and ends
"cancelled" without any signal, also while it is still starting."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

from explorer.config.run import DataConfig, RunConfig, TrainConfig
from explorer.runs.checkpoints import complete_sets, latest_iteration
from explorer.runs.folder import STOP_FILE, RunDir
from explorer.system import host
from tests.faults.harness import TINY, env, only_run, start, wait_until

ROOT = Path(__file__).resolve().parents[1]
POSIX_ONLY = ("fcntl", "resource", "termios", "grp", "pwd")
# What Windows' os module lacks of what a POSIX one has, among the calls a run folder could make.
POSIX_ONLY_OS = ("pwrite", "pread", "O_NONBLOCK", "O_NOFOLLOW", "statvfs", "ST_RDONLY", "setpriority", "PRIO_PROCESS",
                 "sched_getaffinity", "set_blocking", "getuid", "geteuid", "fork", "setsid", "killpg", "mkfifo")

BLOCKER = f"""
import importlib.abc, sys
BLOCKED = {POSIX_ONLY!r}
class Blocker(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in BLOCKED:
            raise ModuleNotFoundError(f"No module named {{name!r}} (blocked: not on Windows)", name=name)
        return None
for name in BLOCKED:
    sys.modules.pop(name, None)
sys.meta_path.insert(0, Blocker())
"""


def _python(tmp_path: Path, code: str, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], cwd=tmp_path, capture_output=True,
                          text=True, timeout=timeout, env={**env(tmp_path), "QT_QPA_PLATFORM": "offscreen"})


def test_every_module_imports_without_the_posix_only_modules(tmp_path):
    """As on Windows: fcntl, resource, termios, grp and pwd do not exist. A module that imports one of them at
    its top fails to import here (runs/folder.py did, so the CLI and the app failed at start on Windows)."""
    done = _python(tmp_path, BLOCKER + """
import importlib, pkgutil, explorer
names = [m.name for m in pkgutil.walk_packages(explorer.__path__, "explorer.")]
failed = []
for name in names:
    try:
        importlib.import_module(name)
    except ImportError as exc:
        failed.append(f"{name}: {exc}")
print(len(names), failed)
""")
    assert done.returncode == 0, done.stderr[-3000:]
    count, failed = done.stdout.split(" ", 1)
    assert int(count) > 60 and failed.strip() == "[]", failed


def test_the_run_folder_works_without_the_posix_only_calls_of_os(tmp_path):
    """The run folder, its lock, its events, its status, its stop request, the metrics CSV, the thread count and
    the memory check with ``os`` as Windows has it (only the lock's own primitive stays: it is the one line that
    differs)."""
    done = _python(tmp_path, f"""
import os, sys
from pathlib import Path
from explorer.config.run import RunConfig
from explorer.runs.folder import RunDir, check_runs_dir
from explorer.runs.metrics_csv import write_metrics_csv
from explorer.system import files, host
from explorer.training import memory, threads
for name in {POSIX_ONLY_OS!r}:
    if hasattr(os, name):
        delattr(os, name)
runs = check_runs_dir(Path("runs"))
run = RunDir.create(runs, RunConfig(name="portable"))
lock = run.lock()
assert run.trainer_pid() == os.getpid(), run.trainer_pid()
run.append_event({{"type": "train", "model": "resnet-20", "iteration": 5, "epoch": 0.1, "loss": 2.0, "error": 0.8,
                  "lr": 0.1, "images_per_sec": 100.0, "time": 1.0}})
run.write_status("running", "", 5, os.getpid())
assert run.status().state == "running" and run.read_events()[0][0]["iteration"] == 5
assert files.overwrite_in_place(run.path / "status.json", b'{{"state": "cancelled"}}')
host.request_stop(run.stop_path, os.getpid())
assert host.stop_requested(run.stop_path, os.getpid()) and not host.stop_requested(run.stop_path, 1)
assert write_metrics_csv([run.path], Path("m.csv")) == 1
lock.release()
run.close()
assert run.trainer_pid() is None
print(threads.choose_threads(window_s=0.05).threads >= 1, memory.cpu_available_bytes() is not None)
""")
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.split() == ["True", "True"]
    assert (tmp_path / "m.csv").read_text().count("\n") == 2
    (run,) = (tmp_path / "runs").iterdir()
    assert (run / "metrics.jsonl").read_bytes().endswith(b"}\n")  # no text-mode translation, one line


def test_the_lock_across_processes_names_its_holder_and_dies_with_it(tmp_path):
    run = RunDir.create(tmp_path, RunConfig(name="lock"))
    holder = subprocess.Popen([sys.executable, "-c", "import sys, time; from explorer.runs.folder import RunDir\n"
                               "lock = RunDir(sys.argv[1]).lock(); print('held', flush=True); time.sleep(600)",
                               str(run.path)], stdout=subprocess.PIPE, text=True, env=env(tmp_path))
    try:
        assert holder.stdout.readline().strip() == "held"
        assert run.trainer_pid() == holder.pid
        assert host.take_lock(run.path / "trainer.lock", tries=2, retry_s=0.01) is None  # one trainer per run
        assert all(run.trainer_pid() == holder.pid for _ in range(200))  # probes do not disturb the holder
    finally:
        host.kill(holder.pid)  # however it dies, the lock goes with it
        holder.wait()
    assert run.trainer_pid() is None
    fd = host.take_lock(run.path / "trainer.lock", tries=1, retry_s=0)
    assert fd is not None and run.trainer_pid() == os.getpid()
    host.release_lock(fd)
    assert run.trainer_pid() is None


def test_a_stale_stop_request_does_not_stop_the_next_trainer(tmp_path):
    request = tmp_path / STOP_FILE
    host.request_stop(request, 999_999)  # for an earlier trainer of the run
    host.clear_stop_request(request, os.getpid(), only_others=True)
    assert not request.exists()
    host.request_stop(request, os.getpid())  # for this one, made before it looked: it stays
    host.clear_stop_request(request, os.getpid(), only_others=True)
    assert host.stop_requested(request, os.getpid())
    host.clear_stop_request(request, os.getpid())  # answered
    assert not request.exists()


ARGS = [*TINY, "--iterations", "4000", "--log-every", "5", "--eval-every", "1000", "--checkpoint-every", "1000"]


def test_a_stop_request_checkpoints_and_ends_cancelled_without_any_signal(tmp_path):
    runs = tmp_path / "runs"
    proc = start(tmp_path, "train", *ARGS, "--runs-dir", str(runs))
    run = RunDir(wait_until(lambda: runs.exists() and any(runs.iterdir()) and only_run(runs), proc))
    wait_until(lambda: any(e["type"] == "train" for e in run.read_events()[0]), proc)
    assert run.trainer_pid() == proc.pid
    host.request_stop(run.stop_path, proc.pid)  # no signal is sent: the app's Stop on every system
    _, stderr = proc.communicate(timeout=120)

    assert proc.returncode == 0, stderr
    status = run.status()
    assert status.state == "cancelled" and status.message.startswith(f"stopped at iteration {status.iteration}")
    assert 0 < status.iteration < 1000  # stopped at the next step, long before the run's own checkpoint
    assert latest_iteration(run.checkpoint_dir) == status.iteration in complete_sets(run.checkpoint_dir)
    assert [e["status"] for e in run.read_events()[0] if e["type"] == "end"] == ["cancelled"]
    assert not run.stop_path.exists()  # answered, so it cannot stop the run's next trainer


def test_a_stop_request_during_start_up_ends_it_at_once(tmp_path):
    """Before the first step nothing is to be saved: the request cuts start-up short, as a first signal does,
    instead of waiting for a step (loading a big data set can take minutes)."""
    config = RunConfig(data=DataConfig(dataset="synthetic", synthetic_size=60_000), train=TrainConfig(
        depths=(8,), iterations=4000, batch_size=16, precision="fp32"), name="starting")
    run = RunDir.create(tmp_path / "runs", config)
    proc = start(tmp_path, "train", "--run-dir", str(run.path))
    wait_until(lambda: run.status().message == "starting", proc, poll=0.005)
    host.request_stop(run.stop_path, proc.pid)
    asked = time.monotonic()
    _, stderr = proc.communicate(timeout=120)

    assert proc.returncode == 0, stderr
    status = run.status()
    assert status.state == "cancelled" and status.message == "stopped before training began; resume to start it"
    assert not any(e["type"] in ("train", "start") for e in run.read_events()[0])  # not one step was taken
    assert latest_iteration(run.checkpoint_dir) is None
    assert time.monotonic() - asked < 30

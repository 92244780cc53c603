"""The exit codes of every process of the app, named once: the CLI's commands, the trainer and the children the
app starts all end with one of these, and the app reads a child's code by these names."""

from __future__ import annotations

from enum import IntEnum


class Exit(IntEnum):
    OK = 0
    FAILED = 1  # the environment failed (a download, a full disk, a damaged file): one sentence on stderr
    USAGE = 2  # the person's options or input are wrong; nothing was written
    INTERRUPTED = 130  # Ctrl-C before anything was started (128 + SIGINT, as shells count it)


class Failed(Exception):
    """The environment failed a command (a download, a damaged file, a full disk), not the person's options:
    ``str()`` is the one sentence to say, and the exit code is :attr:`Exit.FAILED`."""

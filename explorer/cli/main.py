"""The command line's front door: the parser of every command, and how a command ends. Every mistake a person can
make ends in one sentence and exit code 2, before anything is written; a failure of the environment is one
sentence and exit code 1; a bug is one sentence too, with the traceback on request. A terminal that goes away
(closed, or a pipe whose reader left) ends nothing: what a command says on stderr is then dropped
(:class:`explorer.system.terminal.Terminal`)."""

from __future__ import annotations

import argparse
import os
import sys

from explorer.cli import analyze, data, export, runs, summary, train
from explorer.cli.options import flag_of
from explorer.config.errors import ConfigError
from explorer.runs.folder import RunDirError
from explorer.system.exits import Exit, Failed
from explorer.system.terminal import Terminal

COMMANDS = (summary, train, runs, analyze, data, export)


class _Parser(argparse.ArgumentParser):
    """argparse that reports a mistake in one sentence on stderr and exits 2, without the usage block."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(Exit.USAGE, f"{self.prog}: error: {message}\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="resnet-explorer", description="Explore deep residual networks (He et al., 2016). "
                     "Run without arguments to open the app.")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    for command in COMMANDS:
        command.add_parser(sub)
    return parser


def _sentence(exc: ValueError, parser: argparse.ArgumentParser) -> str:
    """A refusal in the command line's words: the option a ConfigError is about named as its flag."""
    if isinstance(exc, ConfigError):
        return exc.worded(lambda option: flag_of(option, parser))
    return str(exc)


def main(argv: list[str] | None = None) -> int:
    stderr = sys.stderr
    if stderr is not None:
        sys.stderr = Terminal(stderr)
    try:
        return _main(argv)
    finally:
        sys.stderr = stderr


def _main(argv: list[str] | None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    command_parser = parser._subparsers._group_actions[0].choices[args.command]
    try:
        code = args.func(args)
        sys.stdout.flush()  # inside the try: a reader that went away (`| head -1`) is met here, not at exit
        return code
    except ValueError as exc:
        print(f"resnet-explorer {args.command}: {_sentence(exc, command_parser)}", file=sys.stderr)
        return Exit.USAGE
    except RunDirError as exc:
        print(f"resnet-explorer {args.command}: {exc}", file=sys.stderr)
        return Exit.USAGE
    except Failed as exc:
        print(f"resnet-explorer {args.command}: {exc}", file=sys.stderr)
        return Exit.FAILED
    except KeyboardInterrupt:
        return Exit.INTERRUPTED
    except BrokenPipeError:
        # `resnet-explorer runs | head -1`: the reader has gone; say nothing, as a Unix tool does (and keep
        # the interpreter's own flush at exit from meeting the closed pipe again).
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return Exit.OK
    except Exception as exc:  # a bug, not a person's mistake: one sentence, the traceback on request
        if os.environ.get("RESNET_EXPLORER_DEBUG"):
            raise
        print(f"resnet-explorer {args.command}: internal error ({type(exc).__name__}: {exc}); run it again with "
              "RESNET_EXPLORER_DEBUG=1 for the traceback to report", file=sys.stderr)
        return Exit.FAILED

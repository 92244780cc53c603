"""The command line's front door: the parser of every command, and how a command ends. Every mistake a person can
make ends in one sentence and exit code 2, before anything is written; a failure of the environment is one
sentence and exit code 1; a bug is one sentence too, with the traceback on request. A terminal that goes away
(closed, or a pipe whose reader left) ends nothing: what a command says on stderr is then dropped
(:class:`explorer.system.terminal.Terminal`)."""

from __future__ import annotations

import argparse
import os
import sys

import explorer
from explorer.cli import analyze, data, export, export_metrics, runs, summary, train
from explorer.cli.options import flag_of
from explorer.config.errors import ConfigError
from explorer.runs.folder import RunDirError
from explorer.system.exits import Exit, Failed
from explorer.system.terminal import Terminal

COMMANDS = (summary, train, runs, analyze, data, export, export_metrics)


def _looks_like_a_value(token: str) -> bool:
    """A negative number is a value (``--lr -1``), as argparse takes it: no option of ours looks like one."""
    try:
        float(token)
        return True
    except ValueError:
        return False


class _Parser(argparse.ArgumentParser):
    """argparse that reports a mistake in one sentence on stderr and exits 2, without the usage block, and names
    an unknown option before anything else (argparse first says what is missing: ``--bogus`` alone got "the
    following arguments are required: command")."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(Exit.USAGE, f"{self.prog}: error: {message}\n")

    def parse_known_args(self, args=None, namespace=None):  # type: ignore[override]
        tokens = sys.argv[1:] if args is None else list(args)
        unknown = self._unknown_option(tokens)
        if unknown:
            self.error(f"unknown option {unknown}; see {self.prog} --help for the options")
        return super().parse_known_args(args, namespace)

    def _unknown_option(self, tokens: list[str]) -> str | None:
        """The first token of this parser's part of the command line that looks like an option and is none of
        its options (a prefix of one is left to argparse, which takes it or says it is ambiguous). A
        subcommand's part is left to its own parser."""
        known = self._option_string_actions
        for token in tokens:
            if token == "--" or (self._subparsers is not None and not token.startswith("-")):
                return None
            if not token.startswith("-") or token == "-" or _looks_like_a_value(token):
                continue
            name = token.split("=", 1)[0]
            short = not name.startswith("--") and name[:2] in known  # -oFILE
            prefix = name.startswith("--") and any(o.startswith(name) for o in known)  # ambiguous: argparse says
            if name not in known and not short and not prefix:
                return name
        return None


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="resnet-explorer", description="Explore deep residual networks (He et al., 2016). "
                     "Run without arguments to open the app.")
    parser.add_argument("--version", action="version", version=f"resnet-explorer {explorer.__version__}")
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

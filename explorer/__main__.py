"""`python -m explorer` and `resnet-explorer`: no arguments opens the app, anything else is the CLI."""

from __future__ import annotations

import sys


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if not argv:
        # Qt is imported only here, so the CLI and the training child never load it.
        from explorer.gui.app import run_app

        return run_app()
    from explorer.cli.main import main as cli_main

    return cli_main(argv)


if __name__ == "__main__":
    sys.exit(main())

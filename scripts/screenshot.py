"""Make docs/screenshot.png: the main window during a real, short synthetic-data training run started from the UI.

    xvfb-run -s "-screen 0 1920x1080x24" .venv/bin/python scripts/screenshot.py \
        --size 1280x800 --out docs/screenshot.png

It uses its own settings file and runs folder (in a temporary folder), presses Start on the Training tab, waits
until both panels have curves with a few test points, grabs the window (QWidget.grab) and stops the run. Re-run it
after every visual change.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

from PySide6.QtCore import QSettings, QTimer

from explorer.gui.app import make_application
from explorer.gui.main_window import MainWindow
from explorer.config.recipes import RECIPES

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # the tests' helpers read the window as a person
from tests.gui.seen import fill, is_training, network_labels, pick, points  # noqa: E402

TABS = ("architecture", "training", "runs")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", default="1280x800", help="window size, WIDTHxHEIGHT (default 1280x800)")
    parser.add_argument("--out", type=Path, default=Path("docs/screenshot.png"))
    parser.add_argument("--tab", choices=TABS, default="training", help="the tab on screen (default training)")
    parser.add_argument("--depths", default="20,32", help="depths to train, plain and residual (default 20,32)")
    parser.add_argument("--iterations", type=int, default=500, help="iterations of the run (default 500)")
    parser.add_argument("--batch-size", type=int, default=64, help="batch size (default 64)")
    parser.add_argument("--images", type=int, default=10000, help="images in the synthetic set (default 10000)")
    parser.add_argument("--seeds", type=int, default=1, help="seeds per network: mean ± std bands (default 1)")
    parser.add_argument("--evals", type=int, default=7, help="test points per network before the grab (default 7,"
                        " of the 10 a run makes: past the first lr drop)")
    parser.add_argument("--timeout", type=float, default=900, help="seconds to wait for them at most (default 900)")
    args = parser.parse_args(argv)
    try:
        args.width, args.height = (int(v) for v in args.size.lower().split("x"))
        args.depth_list = [int(d) for d in args.depths.split(",")]
    except ValueError:
        parser.error(f"--size {args.size!r} must look like 1280x800 and --depths {args.depths!r} like 20,32")
    return args


def start_training(window: MainWindow, args: argparse.Namespace) -> None:
    """Fill the Training tab as a person would (synthetic data, a short recipe) and press Start."""
    form = window.training.form
    fill(form, "synthetic", "both", args.depth_list, args.iterations, args.batch_size, name="screenshot",
         images=args.images, seeds=args.seeds)
    preset = next((r.key for r in RECIPES.values() if (r.iterations, r.batch_size) == (args.iterations,
                                                                                       args.batch_size)), None)
    if preset is not None:  # the defaults are the "Quick look" recipe a person would pick
        pick(form, "recipe", preset)
    window.action("startRun").trigger()


def enough_points(window: MainWindow, evals: int) -> bool:
    curves = window.training.view.curves
    labels = network_labels(curves)
    return len(labels) >= 2 and all(len(points(curves, label)[0]) >= evals for label in labels)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    app = make_application([])
    with tempfile.TemporaryDirectory(prefix="explorer-screenshot-") as tmp:
        settings = QSettings(str(Path(tmp) / "settings.ini"), QSettings.Format.IniFormat)
        window = MainWindow(settings, Path(tmp) / "runs")
        window.resize(args.width, args.height)
        window.show()
        window.tabs.setCurrentWidget(window.training)
        start_training(window, args)
        started = time.monotonic()
        outcome: list[str] = []

        began: list[bool] = []

        def poll() -> None:
            timed_out = time.monotonic() - started > args.timeout
            if is_training(window):
                began.append(True)  # Start's checks (data, memory) come first: until then nothing trains
            ended = bool(began) and not is_training(window)
            if not (enough_points(window, args.evals) or timed_out or ended):
                return
            timer.stop()
            window.training.view.curves.flush()
            window.tabs.setCurrentIndex(TABS.index(args.tab))
            app.processEvents()
            args.out.parent.mkdir(parents=True, exist_ok=True)
            if not window.grab().save(str(args.out)):
                outcome.append(f"could not write {args.out}")
            elif not enough_points(window, args.evals):
                outcome.append(f"wrote {args.out}, but the curves had fewer than {args.evals} test points")
            window.training.shutdown(keep_running=False)
            window.close()

        timer = QTimer()
        timer.timeout.connect(poll)
        timer.start(500)
        app.exec()
    for line in outcome:
        print(line, file=sys.stderr)
    if not outcome:
        print(f"wrote {args.out} ({args.width}x{args.height}, {args.tab} tab)")
    return 1 if outcome else 0


if __name__ == "__main__":
    sys.exit(main())

"""Make the pictures of issue 18 (the app as a newcomer meets it), grabbed from the real window:

    xvfb-run -s "-screen 0 1920x1080x24" .venv/bin/python scripts/newcomer_screenshots.py \
        --runs RUN_A RUN_B --out docs

RUN_A and RUN_B are two finished runs of the same networks (e.g. two Quick looks, seeds 0 and 1); they are copied
into a runs folder of the script's own, with its own settings. The pictures:

- figure6-overlay.png: Figure 6 of RUN_A with RUN_B overlaid, legends under the panels, the overlay in colours
  of its own;
- svg-rsvg-beside-png.png: the exported PNG (left) beside the exported SVG as rsvg-convert draws it (right);
- window-1024x700.png: the window at 1024 × 700 (the Architecture tab, every column of the layer table);
- estimate-before-start.png: the Training tab at 1024 × 700 with the Quick look drafted, its time said before Start;
- analysis-survives-ctrl-o.png: a 2D landscape of RUN_A computing while RUN_B is opened (its progress in the tab
  bar's corner);
- image-folder-summary.png: an image folder chosen, its classes and images counted under the field.

Everything is set up through the window's widgets, as a person would; re-run it after a visual change and look
at every picture.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from PySide6.QtCore import QRect, QSettings, Qt
from PySide6.QtGui import QColor, QFont, QImage, QPainter
from PySide6.QtWidgets import QApplication, QLineEdit, QPushButton

from explorer.gui.app import make_application
from explorer.gui.main_window import MainWindow
from explorer.gui.training.curves_export import CurvesExport

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # the tests' helpers read the window as a person
from tests.folder_fixture import write_image_folder  # noqa: E402
from scripts.diagram_screenshots import wait  # noqa: E402
from tests.gui.seen import pick  # noqa: E402


def settle(app: QApplication, condition=lambda: True, seconds: float = 120, what: str = "the window") -> None:
    wait(app, condition, seconds, f"{what} did not settle")


def open_run(app, window: MainWindow, path: Path, action: str = "openRun") -> None:
    """As Ctrl+O does: the Runs tab, the run selected, Open (or Overlay)."""
    window.tabs.setCurrentWidget(window.runs)
    window.runs.refresh()
    settle(app, lambda: window.runs.select_path(path), 20, "the runs list")
    window.runs.action(action).trigger()
    settle(app)


def beside(left: QImage, right: QImage, titles: tuple[str, str]) -> QImage:
    band = 36
    out = QImage(left.width() + right.width() + 20, max(left.height(), right.height()) + band,
                 QImage.Format.Format_RGB32)
    out.fill(QColor("white"))
    painter = QPainter(out)
    font = QFont()
    font.setPixelSize(22)
    painter.setFont(font)
    for x, image, title in ((0, left, titles[0]), (left.width() + 20, right, titles[1])):
        painter.drawText(QRect(x, 0, image.width(), band), int(Qt.AlignmentFlag.AlignCenter), title)
        painter.drawImage(x, band, image)
    painter.end()
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=Path, nargs=2, required=True, metavar="RUN", help="two finished runs")
    parser.add_argument("--out", type=Path, default=Path("docs"))
    args = parser.parse_args(argv)
    app = make_application([])
    args.out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="explorer-newcomer-shots-") as tmp:
        runs = Path(tmp) / "runs"
        copies = [Path(shutil.copytree(run, runs / run.name)) for run in args.runs]
        settings = QSettings(str(Path(tmp) / "settings.ini"), QSettings.Format.IniFormat)
        window = MainWindow(settings, runs)
        window.resize(1280, 800)
        window.show()
        settle(app, lambda: window.layer_table.summary is not None and not window.summaries.busy, 60, "the table")

        open_run(app, window, copies[0])
        open_run(app, window, copies[1], "overlayRun")
        window.training.view.curves.flush()
        settle(app)
        window.grab().save(str(args.out / "figure6-overlay.png"))

        export = Path(tmp) / "figure"
        writer = CurvesExport(settings, window.training.view)  # what Export… writes, without its file dialog
        writer.write(export.with_suffix(".png"))
        writer.write(export.with_suffix(".svg"))
        png = QImage(str(export.with_suffix(".png")))
        subprocess.run(["rsvg-convert", "-w", str(png.width()), "-h", str(png.height()), "-b", "white", "-o",
                        str(export.with_suffix(".rsvg.png")), str(export.with_suffix(".svg"))], check=True)
        beside(png, QImage(str(export.with_suffix(".rsvg.png"))), ("PNG export", "SVG export, drawn by rsvg-convert")
               ).scaledToWidth(1800, Qt.TransformationMode.SmoothTransformation).save(
            str(args.out / "svg-rsvg-beside-png.png"))

        window.tabs.setCurrentWidget(window.analysis)
        settle(app)
        window.analysis.findChild(QPushButton, "analyse-landscape-2d").click()
        strip = window.analysis.strip
        settle(app, lambda: strip.bar.maximum() > 0 and strip.bar.value() > 0, 600, "the analysis")
        open_run(app, window, copies[1])  # Ctrl+O on the other run: the analysis of the first goes on
        window.grab().save(str(args.out / "analysis-survives-ctrl-o.png"))
        window.analysis.job.cancel()
        settle(app, lambda: not window.analysis.job.is_running(), 60, "the cancel")

        window.action("newRun").trigger()
        window.resize(1024, 700)
        window.tabs.setCurrentIndex(0)
        settle(app)
        window.grab().save(str(args.out / "window-1024x700.png"))
        window.tabs.setCurrentWidget(window.training)
        form = window.training.form
        pick(form, "dataset", "synthetic")
        pick(form, "recipe", "quick")
        settle(app, lambda: form.findChild(type(form.estimate), "estimateNote").text().startswith("Time"), 60,
               "the estimate")
        window.grab().save(str(args.out / "estimate-before-start.png"))

        pictures = write_image_folder(Path(tmp) / "my-pictures", per_class=12, classes=("cat", "dog", "fox", "owl"))
        pick(form, "dataset", "folder")
        form.findChild(QLineEdit, "data-dir").setText(str(pictures))
        settle(app, lambda: form.folder_summary.text().startswith("4 classes"), 30, "the folder's summary")
        window.grab().save(str(args.out / "image-folder-summary.png"))
        window.close()
    print(f"wrote the pictures of issue 18 to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

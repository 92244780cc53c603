"""The flows a person goes through, each driven through the main window's actions and widgets (never by
patching the window): a live Residual-only run, overlays, a reopened app adopting its background run, SVG
export, paper lines, the form while a run is shown, field validation, the data folder, and the small things."""

from __future__ import annotations

import re

import numpy as np
import pyqtgraph as pg
import pytest
from PySide6.QtCore import QSize
from PySide6.QtGui import QColor, QGuiApplication, QImage, QPainter
from PySide6.QtSvg import QSvgRenderer
from PySide6.QtWidgets import QFileDialog

from explorer.config.model import ModelConfig
from explorer.gui.runs import page as runs_browser
from explorer.gui.main_window import MainWindow
from explorer.gui.runs.table import COL_BEST, COL_DATASET
from explorer.runs.folder import RunDir
from dialogs import answer_next_dialog
from flows import CHILD_MS, open_in_runs_tab, start, tiny_run
from run_writer import write_run
from seen import (curve, depth_boxes, export, field, is_training, legend, network_labels, overlay_chips, pick, points, shown_text, ticked_depths)


def ending(qtbot, window, path, timeout=CHILD_MS):
    """Wait for the trainer of ``path`` to end, as a context: its [state, message] are in ``.args[1:]``."""
    return qtbot.waitSignal(window.trainers.ended, timeout=timeout, check_params_cb=lambda ended, *_: ended == path)


# 1 -------------------------------------------------------------------------------------------------------------
def test_a_residual_only_run_is_drawn_while_it_trains(qtbot, window, runs_dir):
    tiny_run(window, compare="residual", iterations=400)
    start(qtbot, window)
    curves = window.training.view.curves
    qtbot.waitUntil(lambda: len(points(curves, "ResNet-8", "train")[0]) and
                    points(curves, "ResNet-8", "train")[0][-1] >= 40, timeout=CHILD_MS)
    right = lambda: curves.residual_plot.getViewBox().viewRange()[0][1]  # noqa: E731
    qtbot.waitUntil(lambda: right() >= 30, timeout=5000)  # not pinned to 0..1 by the empty plain panel
    curves.x_axis.setCurrentIndex(1)  # epochs: 400 images, 16 a step, so 40 steps are 1.6 epochs
    qtbot.waitUntil(lambda: 1.2 < right() < 10, timeout=5000)
    qtbot.waitUntil(lambda: len(points(curves, "ResNet-8")[0]) >= 1, timeout=CHILD_MS)
    test = curve(curves, "ResNet-8")
    assert len(test.xData) >= 1 and (len(test.xData) > 1 or test.opts["symbol"] == "o")  # the first point shows
    answer_next_dialog("Stop and quit")
    window.close()


# 2 -------------------------------------------------------------------------------------------------------------
def test_overlay_draws_another_run_names_it_and_removes_it(qtbot, window, runs_dir):
    main = write_run(runs_dir, depths=(20, 56), name="main")
    other = write_run(runs_dir, depths=(56,), name="other")
    open_in_runs_tab(qtbot, window, main.path)
    assert window.tabs.currentWidget() is window.training
    open_in_runs_tab(qtbot, window, other.path, "overlayRun")
    view = window.training.view
    curves = view.curves
    assert "ResNet-56 · other" in network_labels(curves)
    overlay = curve(curves, "ResNet-56 · other")
    assert overlay.opts["pen"].style() != curve(curves, "ResNet-56").opts["pen"].style()
    assert "ResNet-56 · other" in legend(curves.residual_plot)
    assert "overlaid" in view.title.text() and other.path.name in view.title.text()
    assert "Overlaid other" in window.statusBar().currentMessage()
    [chip] = overlay_chips(view)
    chip.click()
    assert "ResNet-56 · other" not in network_labels(curves) and "overlaid" not in view.title.text()


def test_a_chosen_runs_folder_reaches_the_training_page_and_delete_errors_are_shown(qtbot, window, tmp_path,
                                                                                     monkeypatch):
    chosen = tmp_path / "elsewhere"
    chosen.mkdir()
    monkeypatch.setattr(QFileDialog, "getExistingDirectory", lambda *a, **k: str(chosen))
    window.runs.action("chooseRunsFolder").trigger()
    assert window.training.runs_dir == chosen
    tiny_run(window)
    start(qtbot, window)
    assert [p.parent for p in [window.training.view.path]] == [chosen]
    ending(qtbot, window, window.training.view.path).wait()
    gone = write_run(chosen, name="gone")
    window.runs.refresh()
    qtbot.waitUntil(lambda: window.runs.select_path(gone.path), timeout=5000)
    import shutil

    shutil.rmtree(gone.path)  # deleted behind the app's back: its Delete fails
    answer_next_dialog("Yes")
    answer_next_dialog("OK")
    window.runs.action("deleteRun").trigger()
    assert window.statusBar().currentMessage().startswith(f"Could not delete {gone.path}")


# 3 -------------------------------------------------------------------------------------------------------------
def test_a_reopened_app_adopts_its_background_run_and_can_stop_it(qtbot, settings, runs_dir, window):
    tiny_run(window, iterations=4000)
    start(qtbot, window)
    run_path = window.training.view.path
    qtbot.waitUntil(lambda: window.training.view.progress.iteration > 0, timeout=CHILD_MS)
    pid = window.trainers.controller.trainer(run_path).pid
    answer_next_dialog("Keep training")
    window.close()
    assert RunDir(run_path).trainer_pid() == pid  # still training, in the background

    again = MainWindow(settings, runs_dir)
    qtbot.addWidget(again)
    again.show()
    assert again.training.view.path == run_path  # the last run shown is shown again
    assert again.action("stopRun").isEnabled() and is_training(again)
    qtbot.waitUntil(lambda: "ETA" in again.training.view.progress.details.text(), timeout=30_000)
    assert not again.action("startRun").isEnabled()  # Start would leave the run training for a draft
    again.action("newRun").trigger()
    assert "keeps training; open it again" in again.statusBar().currentMessage()
    assert again.action("startRun").isEnabled() and not again.action("stopRun").isEnabled()
    seen = []
    answer_next_dialog("Cancel", seen)
    again.action("startRun").trigger()  # another run while one trains: asked once the run is possible, cancelled
    qtbot.waitUntil(lambda: bool(seen), timeout=30_000)
    assert "still training" in seen[0]
    assert [p.name for p in runs_dir.iterdir()] == [run_path.name]
    open_in_runs_tab(qtbot, again, run_path)
    with ending(qtbot, again, run_path) as done:
        again.action("stopRun").trigger()
    assert done.args[1] == "cancelled" and RunDir(run_path).status().state == "cancelled"
    again.close()


# 4 -------------------------------------------------------------------------------------------------------------
def _axes(image: QImage) -> tuple[float, float, float]:
    """Where the x axis (the lowest mostly-dark row) and the two y axes (the first mostly-dark column of each
    half) are, as fractions of the image size."""
    image = image.convertToFormat(QImage.Format.Format_Grayscale8)
    width, height = image.width(), image.height()
    pixels = np.frombuffer(image.constBits(), np.uint8).reshape(height, image.bytesPerLine())[:, :width]
    dark = pixels < 160
    rows = np.flatnonzero(dark.mean(axis=1) > 0.3)
    cols = np.flatnonzero(dark.mean(axis=0) > 0.3)
    left, right = cols[cols < width // 2], cols[cols >= width // 2]
    assert len(rows) and len(left) and len(right), "no axes found"
    return rows.max() / height, left.min() / width, right.min() / width


def test_an_exported_svg_matches_the_png_of_the_same_view(qtbot, window, runs_dir, tmp_path, monkeypatch):
    run = write_run(runs_dir, depths=(20, 56))
    open_in_runs_tab(qtbot, window, run.path)
    for name in ("f.png", "f.svg"):
        export(window.action("export"), tmp_path / name, monkeypatch)
    png = QImage(str(tmp_path / "f.png"))
    renderer = QSvgRenderer(str(tmp_path / "f.svg"))
    assert renderer.isValid()
    svg = QImage(png.size(), QImage.Format.Format_ARGB32)
    svg.fill(QColor("white"))
    painter = QPainter(svg)
    renderer.render(painter)
    painter.end()
    # The x axis and both y axes sit at the same place in both (the SVG used to shrink the axes into the top
    # two thirds while its curves ran past them).
    assert np.allclose(_axes(png), _axes(svg), atol=0.01), (_axes(png), _axes(svg))


# 6 -------------------------------------------------------------------------------------------------------------
def test_the_form_shows_the_settings_of_the_run_shown_whatever_the_architecture_tab_does(qtbot, window, runs_dir):
    run = write_run(runs_dir, depths=(20, 56), iterations=400)
    open_in_runs_tab(qtbot, window, run.path)
    form = window.training.form
    assert window.action("newRun").isEnabled() and field(form, "iterations").text() == "400"
    assert not field(form, "iterations").isEnabled()  # a run's settings are read, not edited
    assert ticked_depths(form) == {20, 56}
    window.architecture.set_config(ModelConfig(family="imagenet", depth=34))
    assert ticked_depths(form) == {20, 56}  # not 18/34
    assert depth_boxes(form) == [20, 32, 44, 56, 110, 1202]
    window.action("newRun").trigger()
    assert not window.action("newRun").isEnabled() and depth_boxes(form) == [18, 34]  # the draft follows
    # 20 and 56 are no ImageNet depths: the form says so on itself and ticks the family's own, never a red
    # "Depth 20 is not an ImageNet ResNet" for depths the person did not type
    assert shown_text(form, "formBanner") == ("Networks from the Architecture tab: ImageNet basic, shortcut B. Depths "
                                              "20, 56 do not fit these networks; ticked 18, 34 instead.")
    assert form.run_config().train.depths == (18, 34) and shown_text(form, "formProblem") == ""
    field(form, "other-depths").setText("10")  # a typo stays as typed, in red, while the family stays the same
    window.architecture.set_config(ModelConfig(family="imagenet", depth=34, shortcut="C"))
    assert field(form, "other-depths").text() == "10" and shown_text(form, "formProblem").startswith("Depth")
    assert shown_text(form, "formBanner") == "Networks from the Architecture tab: ImageNet basic, shortcut C."


# 7 -------------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("option, text, said", [
    ("batch-size", "99999999", "Batch size 99,999,999 is too large; use at most 65,536"),
    ("lr", "1e9", "Learning rate 1000000000.0 is too large; it must be at most 1000"),
    ("iterations", "0", "Iterations 0 must be a whole number of at least 1"),
    ("lr", "0", "Learning rate 0.0 must be greater than 0"),
    ("iterations", "lots", "Iterations 'lots' is not a whole number"),
])
def test_a_value_out_of_range_is_said_next_to_its_field_never_clamped(qtbot, window, runs_dir, option, text, said):
    tiny_run(window)
    widget = field(window.training.form, option)
    widget.setText(text)
    assert widget.text() == text  # as typed: not turned into the nearest allowed value
    assert shown_text(window.training.form, "formProblem") == said
    window.action("startRun").trigger()
    qtbot.wait(300)
    assert not is_training(window) and list(runs_dir.iterdir()) == []


def test_every_wrong_field_is_marked_and_said_at_once(qtbot, window, runs_dir):
    """Not only the one edited last: iterations 0 kept its red frame while the learning rate was typed."""
    from explorer.gui.widgets.number_field import INVALID_STYLE

    tiny_run(window)
    form = window.training.form
    field(form, "iterations").setText("0")
    field(form, "batch-size").setText("-5")
    field(form, "lr").setText("abc")
    lines = shown_text(form, "formProblem").splitlines()
    assert lines[0] == "Learning rate 'abc' is not a number" and len(lines) == 3
    assert any(line.startswith("Iterations 0") for line in lines) and any("Batch size -5" in line for line in lines)
    assert all(field(form, option).styleSheet() == INVALID_STYLE for option in ("iterations", "batch-size", "lr"))
    assert field(form, "seeds").styleSheet() == ""
    field(form, "lr").setText("0.1")
    assert len(shown_text(form, "formProblem").splitlines()) == 2 and field(form, "lr").styleSheet() == ""
    field(form, "iterations").setText("30")
    field(form, "batch-size").setText("16")
    assert shown_text(form, "formProblem") == "" and field(form, "iterations").styleSheet() == ""


def test_a_run_that_will_not_fit_in_memory_is_flagged_before_start(qtbot, window, runs_dir):
    tiny_run(window, depths="1202")
    form = window.training.form
    field(form, "batch-size").setText("65536")
    qtbot.waitUntil(lambda: "This run needs about" in shown_text(form, "formProblem"), timeout=30_000)
    assert "choose a smaller batch size" in shown_text(form, "formProblem")
    window.action("startRun").trigger()
    assert not is_training(window) and list(runs_dir.iterdir()) == []


# 8 -------------------------------------------------------------------------------------------------------------
def _cifar(window, folder: str) -> None:
    tiny_run(window)
    form = window.training.form
    pick(form, "dataset", "cifar10")
    field(form, "data-dir").setText(folder)


def test_a_data_folder_that_is_a_file_is_named_and_no_run_is_made(qtbot, window, runs_dir, tmp_path):
    not_a_folder = tmp_path / "cifar.tar"
    not_a_folder.write_text("")
    _cifar(window, str(not_a_folder))
    window.action("startRun").trigger()
    assert shown_text(window.training.form, "formProblem") == (
        f"The data folder {not_a_folder} is a file, not a folder; choose a folder for CIFAR-10")
    assert list(runs_dir.iterdir()) == []


def test_a_missing_data_folder_is_asked_about_and_a_failed_fetch_leaves_no_run(qtbot, window, runs_dir, tmp_path):
    missing = tmp_path / "not-yet" / "cifar"
    _cifar(window, str(missing))
    seen = []
    answer_next_dialog("Cancel", seen)
    window.action("startRun").trigger()
    assert "does not exist yet" in seen[0] and not missing.exists() and list(runs_dir.iterdir()) == []
    blocked = tmp_path / "a-file"
    blocked.write_text("")
    _cifar(window, str(blocked / "cifar"))  # a folder that cannot be made: the fetch fails at once, offline or not
    answer_next_dialog("Yes")
    window.action("startRun").trigger()
    form = window.training.form
    qtbot.waitUntil(lambda: "Cannot make the CIFAR-10 folder" in shown_text(form, "formProblem"), timeout=60_000)
    problem = shown_text(form, "formProblem")
    assert "choose another data folder" in problem and "--" not in problem  # the GUI's words, not a flag
    assert list(runs_dir.iterdir()) == []  # no failed run folder for a failed fetch


# 9 -------------------------------------------------------------------------------------------------------------
def test_the_runs_tab_names_datasets_resumes_without_opening_and_reveals_or_copies(qtbot, window, runs_dir,
                                                                                   monkeypatch):
    run = write_run(runs_dir, depths=(8,), iterations=30, state=None, every=60, name="later")  # died at its start
    window.tabs.setCurrentWidget(window.runs)
    window.runs.refresh()
    qtbot.waitUntil(lambda: window.runs.select_path(run.path), timeout=5000)
    row = window.runs.table.selectionModel().selectedRows()[0].row()
    assert window.runs.table.model().index(row, COL_DATASET).data() == "synthetic"
    monkeypatch.setattr(runs_browser.QDesktopServices, "openUrl", lambda url: False)  # no file manager here
    answer_next_dialog("Copy path")
    window.runs.action("revealRun").trigger()
    assert QGuiApplication.clipboard().text() == str(run.path)
    assert window.runs.action("resumeSelected").isEnabled()  # without opening the run first
    window.runs.action("resumeSelected").trigger()
    assert window.tabs.currentWidget() is window.training and is_training(window)
    ending(qtbot, window, run.path).wait()
    assert RunDir(run.path).status().state == "finished"


def test_layer_names_are_whole_at_1024_by_700(qtbot, window):
    window.resize(QSize(1024, 700))
    window.tabs.setCurrentIndex(0)
    window.architecture.set_config(ModelConfig(depth=110))
    qtbot.waitUntil(lambda: window.layer_table.summary is not None and window.layer_table.summary.config.depth == 110,
                    timeout=30_000)
    tree = window.layer_table.tree
    tree.expandAll()
    metrics = tree.fontMetrics()
    model = tree.model()
    widest = 0
    for row in window.layer_table.summary.rows:
        widest = max(widest, tree.indentation() * row.depth + metrics.horizontalAdvance(row.name))
    assert tree.columnWidth(0) >= widest  # the whole name fits: no "con…"
    assert model.rowCount() > 0


# 8 -------------------------------------------------------------------------------------------------------------
def test_a_run_of_three_seeds_is_drawn_as_mean_and_band_and_listed_as_mean_and_std(qtbot, window, runs_dir):
    tiny_run(window, compare="residual", iterations=30)
    field(window.training.form, "seeds").setText("3")
    start(qtbot, window)
    run_path = window.training.view.path
    qtbot.waitUntil(lambda: not is_training(window), timeout=CHILD_MS)
    curves = window.training.view.curves
    assert legend(curves.residual_plot) == ["ResNet-8 (mean ± std over 3 seeds)"]
    assert len(points(curves, "ResNet-8")[0]) >= 1
    bands = [item for item in curves.residual_plot.items if isinstance(item, pg.FillBetweenItem)]
    assert len(bands) == 2 and all(not band.path().isEmpty() for band in bands)
    assert curves.single_seeds.isVisible()
    curves.single_seeds.setChecked(True)
    seeds = {item.objectName() for item in curves.residual_plot.items
             if isinstance(item, pg.PlotDataItem) and ": seed " in item.objectName()}
    assert seeds == {f"ResNet-8: seed {s} {kind}" for s in (0, 1, 2) for kind in ("train", "test")}
    window.tabs.setCurrentWidget(window.runs)
    window.runs.refresh()

    def best() -> str:  # the listing is read on a worker thread: the one from before the run ended may show first
        window.runs.select_path(run_path)
        return str(window.runs.table.model().index(window.runs.table.currentIndex().row(), COL_BEST).data())

    qtbot.waitUntil(lambda: "over 3 seeds" in best(), timeout=10_000)
    assert re.fullmatch(r"ResNet-8 \d+\.\d\d ± \d+\.\d\d% over 3 seeds \(best seed \d+\.\d\d%\)", best()), best()

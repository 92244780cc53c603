"""Issue 18, the app as a newcomer meets it: each numbered finding driven through the main window as a person
does (the form's fields by name, the toolbar's actions, the real dialogs), each failing on the code before its
fix. Hand-written run folders stand in for trainings wherever the finding is about what is shown."""

from __future__ import annotations

import re

from PySide6.QtCore import QSize, Qt
from PySide6.QtWidgets import (
    QCheckBox, QComboBox, QLabel, QScrollArea, QStyle, QStyleOptionComboBox, QTextBrowser, QToolButton, QTreeView,
)

from explorer.config.model import ModelConfig

from dialogs import answer_next_dialog
from flows import open_in_runs_tab, tiny_run
from run_writer import STOPPED, fake_checkpoints, write_run
from seen import curve, field, legend, network_labels, paper_lines, pick, readout, shown_text, ticked_depths
from tests.folder_fixture import write_image_folder


def choose_pictures(qtbot, window, folder):
    """Choose "image folder" and type ``folder``, as a person does; returns the form once its summary shows."""
    window.tabs.setCurrentWidget(window.training)
    form = window.training.form
    pick(form, "dataset", "folder")
    field(form, "data-dir").setText(str(folder))
    qtbot.waitUntil(lambda: shown_text(form, "folderSummary").startswith("3 classes"), timeout=10_000)
    return form


# 1 -------------------------------------------------------------------------------------------------------------
def test_1_each_dataset_keeps_its_own_folder_and_nothing_is_downloaded_into_pictures(qtbot, window, runs_dir,
                                                                                    tmp_path):
    pictures = write_image_folder(tmp_path / "fashion-pictures", per_class=3)
    form = choose_pictures(qtbot, window, pictures)
    pick(form, "dataset", "cifar100")
    assert field(form, "data-dir").text() == ""  # CIFAR-100's own folder: none typed, the default cache
    seen = []
    answer_next_dialog("Cancel", seen)
    window.action("startRun").trigger()
    qtbot.waitUntil(lambda: bool(seen), timeout=10_000)
    cache = tmp_path / "cache" / "resnet-explorer" / "cifar100"
    assert f"CIFAR-100 is not in {cache} yet" in seen[0] and str(pictures) not in seen[0]
    pick(form, "dataset", "folder")
    assert field(form, "data-dir").text() == str(pictures)  # the pictures are still the image folder's

    # typed by hand into CIFAR's field, a folder of pictures is refused before any question or download
    pick(form, "dataset", "cifar10")
    field(form, "data-dir").setText(str(pictures))
    asked = []
    stop = answer_next_dialog("Cancel", asked)
    window.action("startRun").trigger()
    stop()
    assert asked == []  # no "Download it there?"
    assert shown_text(form, "formProblem") == (
        f"The data folder {pictures} holds images (a folder of your own pictures?), not CIFAR-10; leave the data "
        "folder empty for the default cache, or choose an empty folder for CIFAR-10")
    assert sorted(p.name for p in pictures.iterdir()) == ["cat", "dog", "fox"] and list(runs_dir.iterdir()) == []


# 6 -------------------------------------------------------------------------------------------------------------
def test_6_the_time_a_run_will_take_is_said_before_start_and_the_guide_says_what_needs_longer(qtbot, window,
                                                                                          runs_dir):
    from explorer.training.speed import estimate_time, summary_macs
    from explorer.system.formatting import duration

    window.tabs.setCurrentWidget(window.training)
    form = window.training.form
    pick(form, "recipe", "quick")  # the default draft: the Quick look on the synthetic set, offline
    pick(form, "precision", "fp32")
    qtbot.waitUntil(lambda: shown_text(form, "estimateNote").startswith("Time: about"), timeout=30_000)
    assert "modelled (no run here yet with this device and precision" in shown_text(form, "estimateNote")
    config = form.run_config()
    # an earlier run with these settings on this machine: the estimate is its speed, not the model's
    write_run(runs_dir, depths=(20, 56), iterations=400, name="earlier")
    field(form, "name").setText("after-one-run")
    expected = duration(estimate_time(config, runs_dir, summary_macs).seconds)
    qtbot.waitUntil(lambda: "from the speed of 1 earlier run" in shown_text(form, "estimateNote"), timeout=30_000)
    assert shown_text(form, "estimateNote").startswith(f"Time: about {expected} on this machine")

    window.action("guide").trigger()
    from PySide6.QtWidgets import QTextBrowser

    guide = window.findChild(QTextBrowser).toPlainText()
    assert "Quick look" in guide and "does not yet show ResNet-56 below ResNet-20" in guide
    assert "These effects need the Paper recipe" in guide and "not how it starts" in guide


# 4 -------------------------------------------------------------------------------------------------------------
def test_4_the_papers_numbers_only_beside_cifar10_runs_and_labelled_with_the_dataset(qtbot, window, runs_dir):
    synthetic = write_run(runs_dir, depths=(20, 56), name="shapes")
    cifar = write_run(runs_dir, depths=(20, 56), name="cifar", dataset="cifar10")
    open_in_runs_tab(qtbot, window, synthetic.path)
    curves = window.training.view.curves
    box = window.findChild(QCheckBox, "paperLines")
    box.setChecked(True)
    assert paper_lines(curves) == [] and not box.isEnabled()  # no "paper ResNet-20: 8.75 %" over shapes
    assert "Only for runs on CIFAR-10" in box.toolTip()
    open_in_runs_tab(qtbot, window, cifar.path)
    assert box.isEnabled() and box.isChecked()
    assert paper_lines(curves) == ["paper ResNet-20 on CIFAR-10: 8.75 %", "paper ResNet-56 on CIFAR-10: 6.97 %"]
    open_in_runs_tab(qtbot, window, synthetic.path, "overlayRun")  # an overlay adds nothing of the paper's
    assert len(paper_lines(curves)) == 2


# 5 -------------------------------------------------------------------------------------------------------------
def test_5_legends_hide_no_curve_overlays_have_their_own_colours_and_a_name_toggles_its_line(qtbot, window,
                                                                                            runs_dir):
    main = write_run(runs_dir, depths=(20, 56), name="main")
    other = write_run(runs_dir, depths=(20, 56), name="other")
    open_in_runs_tab(qtbot, window, main.path)
    open_in_runs_tab(qtbot, window, other.path, "overlayRun")
    curves = window.training.view.curves
    qtbot.wait(50)  # the layouts settle
    for plot in curves.plots:
        assert legend(plot) and not plot.legend.sceneBoundingRect().intersects(plot.vb.sceneBoundingRect())
    colours = {label: curve(curves, label).opts["pen"].color().name() for label in network_labels(curves)}
    assert colours["ResNet-56"] == colours["plain-56"]  # one colour per depth in the run shown
    overlaid = {colours[f"{net} · other"] for net in ("plain-20", "plain-56", "ResNet-20", "ResNet-56")}
    assert len(overlaid) == 4 and not overlaid & {colours[n] for n in ("ResNet-20", "ResNet-56")}
    # a click on a legend's name hides its network, as a click on its sample does
    view = curves.layout_widget
    label = next(label for _, label in curves.residual_plot.legend.items if label.text == "ResNet-56 · other")
    qtbot.mouseClick(view.viewport(), Qt.MouseButton.LeftButton, pos=view.mapFromScene(
        label.sceneBoundingRect().center()))
    assert not curve(curves, "ResNet-56 · other").isVisible() and not curve(curves, "ResNet-56 · other",
                                                                            "train").isVisible()
    assert curve(curves, "ResNet-56").isVisible()


# 9 -------------------------------------------------------------------------------------------------------------
def test_9_at_1024_by_700_start_every_layer_column_and_a_checkpoint_s_name_are_in_view(qtbot, window, runs_dir):
    window.resize(QSize(1024, 700))
    qtbot.waitUntil(lambda: window.layer_table.summary is not None and not window.summaries.busy, timeout=30_000)
    qtbot.wait(50)
    assert window.width() == 1024 and window.minimumSizeHint().width() <= 1024
    tree = window.layer_table.findChild(QTreeView)
    tree.expandAll()  # a vertical scroll bar appears: "Share of MACs" was cut by it
    qtbot.waitUntil(lambda: tree.verticalScrollBar().isVisible(), timeout=5000)
    header = tree.header()
    right = max(header.sectionViewportPosition(c) + header.sectionSize(c) for c in range(header.count()))
    assert header.count() == 6 and right <= tree.viewport().width(), (right, tree.viewport().width())

    window.tabs.setCurrentWidget(window.training)
    form = window.training.form
    pick(form, "recipe", "custom")
    for option in ("iterations", "batch-size", "lr", "seeds", "synthetic-size"):  # problems under the fields
        field(form, option).setText("0")
    qtbot.wait(50)
    scroll = window.training.findChild(QScrollArea, "formScroll")
    start = window.training.findChild(QToolButton, "startButton")
    corner = start.mapTo(scroll.viewport(), start.rect().bottomRight())
    assert scroll.viewport().rect().contains(corner)  # Start without scrolling

    run = write_run(runs_dir, depths=(8,), iterations=12)
    fake_checkpoints(run, (0, 6, 12))
    open_in_runs_tab(qtbot, window, run.path)
    window.tabs.setCurrentWidget(window.analysis)
    combo = window.analysis.findChild(QComboBox, "analysisCheckpoint")
    assert combo.currentText() == "iteration 12"
    option = QStyleOptionComboBox()
    combo.initStyleOption(option)
    text = combo.style().subControlRect(QStyle.ComplexControl.CC_ComboBox, option,
                                        QStyle.SubControl.SC_ComboBoxEditField, combo)
    assert text.width() >= combo.fontMetrics().horizontalAdvance("iteration 12")  # not "iteration 1…"


# 8 -------------------------------------------------------------------------------------------------------------
def test_8_a_depth_is_applied_when_typed_whole_never_completed_nor_shown_half_typed(qtbot, window):
    qtbot.waitUntil(lambda: window.layer_table.summary is not None and not window.summaries.busy, timeout=30_000)
    shown = []
    window.architecture.config_changed.connect(lambda config: shown.append(config.depth))
    edit = window.architecture.findChild(QComboBox, "depth").lineEdit()
    window.activateWindow()
    edit.setFocus()  # as a person's click into the field: the completer (if any) works on the focused field
    qtbot.waitUntil(edit.hasFocus, timeout=2000)
    edit.selectAll()
    qtbot.keyClicks(edit, "1")
    assert edit.text() == "1" and shown == []  # not completed to 110, not applied at the keystroke
    qtbot.keyClicks(edit, "10")
    assert shown == []
    qtbot.keyClick(edit, Qt.Key.Key_Return)
    assert shown == [110]  # typed whole and confirmed
    edit.selectAll()
    qtbot.keyClicks(edit, "100000")
    qtbot.keyClick(edit, Qt.Key.Key_Return)
    problem = shown_text(window.architecture, "configProblem")
    assert "100,000" in problem and "still shows resnet-110" in problem and shown == [110]
    edit.selectAll()
    qtbot.keyClicks(edit, "32")  # and a pause applies it too
    qtbot.waitUntil(lambda: shown == [110, 32], timeout=5000)
    qtbot.waitUntil(lambda: window.layer_table.summary.config.depth == 32 and not window.summaries.busy,
                    timeout=30_000)


# 10 ------------------------------------------------------------------------------------------------------------
def test_10_a_run_that_cannot_be_is_refused_before_any_question_and_every_wrong_field_is_outlined(
        qtbot, window, runs_dir, live_run):
    from explorer.gui.widgets.number_field import INVALID_STYLE

    tiny_run(window, depths="1202")
    form = window.training.form
    field(form, "batch-size").setText("65536")  # valid as a number, far too big for this machine's memory
    qtbot.waitUntil(lambda: "This run needs about" in shown_text(form, "formProblem"), timeout=30_000)
    asked = []
    stop = answer_next_dialog("Cancel", asked)
    window.action("startRun").trigger()  # another run trains (live_run): the refusal comes first, no question
    qtbot.wait(300)
    stop()
    assert asked == [] and [p.name for p in runs_dir.iterdir()] == [live_run[0].path.name]
    assert "This run needs about" in shown_text(form, "formProblem")

    field(form, "batch-size").setText("100000")  # one sentence, nothing beside it that says otherwise
    assert shown_text(form, "formProblem") == "Batch size 100,000 is too large; use at most 65,536"
    assert shown_text(form, "estimateNote") == "" and field(form, "batch-size").styleSheet() == INVALID_STYLE
    assert not window.action("startRun").isEnabled()  # red fields: nothing to start

    field(form, "batch-size").setText("16")
    field(form, "seeds").setText("100")  # too many networks with these depths: said, and the field outlined
    assert shown_text(form, "formProblem") == ("Seeds 100 give 200 networks in one run (1 depth × plain and residual "
                                               "× 100 seeds), too many; use at most 64")
    assert field(form, "seeds").styleSheet() == INVALID_STYLE and not window.action("startRun").isEnabled()


# 11 ------------------------------------------------------------------------------------------------------------
def _arrow_points_down(header, section: int) -> bool:
    """Whether the sort arrow drawn in ``section`` of ``header`` is wider at its top (▼) than at its bottom."""
    from seen import pixels

    image = pixels(header.grab().toImage())
    right = header.sectionViewportPosition(section) + header.sectionSize(section)
    part = image[:, right - 24:right - 3]  # the arrow's corner of the section, past its title
    dark = (part.max(axis=2) < 140).sum(axis=1)
    rows = [count for count in dark if count]
    assert len(rows) >= 2, "no arrow drawn"
    return rows[0] > rows[-1]


def test_11_the_words_a_newcomer_meets(qtbot, window, runs_dir, tmp_path):
    from explorer.gui.runs.table import COL_BEST, COL_DATE

    form = window.training.form
    window.tabs.setCurrentWidget(window.training)
    pick(form, "dataset", "folder")  # the name a run would get follows the dataset
    assert field(form, "name").placeholderText() == "automatic: folder-plain-vs-resnet-20-56"
    window.architecture.set_config(ModelConfig(family="imagenet", depth=34))
    window.architecture.set_config(ModelConfig())  # and back: the family's own pair, Figure 6's 20 and 56
    assert ticked_depths(form) == {20, 56}
    assert "do not fit these networks" in shown_text(form, "formBanner")
    pick(form, "compare", "residual")  # the next edit is the person's: the note about the last change goes
    assert shown_text(form, "formBanner") == "Networks from the Architecture tab: CIFAR basic, shortcut A."

    seeded = write_run(runs_dir, depths=(20,), seeds=3, name="seeded", epochs_per_iteration=1e-5)
    open_in_runs_tab(qtbot, window, seeded.path)
    curves = window.training.view.curves
    curves.x_axis.setCurrentIndex(1)  # 0.004 epochs at most: no "(x0.001)" beside ticks already scaled
    qtbot.waitUntil(lambda: curves.residual_plot.vb.viewRange()[0][1] < 0.01, timeout=5000)
    qtbot.wait(50)
    assert all("x0.001" not in plot.getAxis("bottom").labelString() for plot in curves.plots)
    curves.x_axis.setCurrentIndex(0)
    view = curves.layout_widget
    box = curves.residual_plot.vb.sceneBoundingRect()
    qtbot.mouseMove(view.viewport(), view.mapFromScene(box.left() + box.width() * 0.37, box.center().y()))
    qtbot.waitUntil(lambda: readout(curves) != "", timeout=2000)
    assert re.match(r"<b>iteration \d+</b>", readout(curves)), readout(curves)  # never "iteration 24.3"

    window.tabs.setCurrentWidget(window.runs)
    window.runs.refresh()
    qtbot.waitUntil(lambda: window.runs.select_path(seeded.path), timeout=5000)
    table = window.runs.table
    best = table.model().index(table.currentIndex().row(), COL_BEST).data()
    assert re.fullmatch(r"ResNet-20 \d+\.\d\d ± \d+\.\d\d% over 3 seeds \(best seed \d+\.\d\d%\) · plain-20 .*", best)
    assert _arrow_points_down(table.horizontalHeader(), COL_DATE)  # newest first: an arrow pointing down

    message = "A long sentence for the status bar " * 8
    window.training.status_message.emit(message)
    assert window.statusBar().currentMessage() == message
    assert not [w for w in window.statusBar().findChildren(QLabel) if w.isVisible()]  # nothing sits on top of it
    assert message.strip() in window.statusBar().toolTip()  # and where the window is narrower, it is whole there


# 13 ------------------------------------------------------------------------------------------------------------
def test_13_stop_from_the_runs_tab_delete_into_the_trash_a_folder_summary_and_a_guide_and_about_that_say_more(
        qtbot, window, runs_dir, tmp_path, live_run):
    run, holder = live_run
    done = write_run(runs_dir, name="done")
    window.tabs.setCurrentWidget(window.runs)
    window.runs.refresh()
    qtbot.waitUntil(lambda: window.runs.select_path(run.path), timeout=5000)
    stop = window.runs.action("stopSelected")
    assert stop.isEnabled()  # a run training in another window (or the command line): stopped from here
    stop.trigger()
    assert holder.wait(10) == STOPPED
    assert window.statusBar().currentMessage().startswith(f"Stopping {run.path.name}")

    qtbot.waitUntil(lambda: window.runs.select_path(done.path), timeout=5000)
    answer_next_dialog("Yes")
    window.runs.action("deleteRun").trigger()
    trash = tmp_path / "data" / "Trash"  # the desktop's trash ($XDG_DATA_HOME/Trash): the file manager restores it
    assert not done.path.exists() and (trash / "files" / done.path.name / "config.json").is_file()
    assert f"Path={done.path}" in (trash / "info" / f"{done.path.name}.trashinfo").read_text()
    assert window.statusBar().currentMessage().startswith(f"Moved {done.path.name} to the trash")

    form = choose_pictures(qtbot, window, write_image_folder(tmp_path / "pets", per_class=3))
    assert shown_text(form, "folderSummary") == ("3 classes, 9 images: cat 3, dog 3, fox 3; one image in 5 of each "
                                                 "class is held out for testing")

    window.action("guide").trigger()
    guide = window.findChild(QTextBrowser).toPlainText()
    for section in ("The Analysis tab", "Your own images", "CIFAR without an internet connection"):
        assert section in guide
    seen = []
    answer_next_dialog("OK", seen)
    window.action("about").trigger()
    for words in ("MIT licence", "Veit", "Residual Networks Behave Like Ensembles", "Li", "Visualizing the Loss "
                  "Landscape"):
        assert words in seen[0]


def test_5_the_run_overlaid_opened_as_the_run_shown_is_no_overlay_of_itself(qtbot, window, runs_dir):
    """Found in the screenshots: opening the overlaid run kept it overlaid on itself (a chip, a second key)."""
    from seen import overlay_chips

    main = write_run(runs_dir, depths=(20,), name="main")
    other = write_run(runs_dir, depths=(20,), name="other")
    open_in_runs_tab(qtbot, window, main.path)
    open_in_runs_tab(qtbot, window, other.path, "overlayRun")
    open_in_runs_tab(qtbot, window, other.path)
    curves = window.training.view.curves
    assert overlay_chips(window.training.view) == [] and network_labels(curves) == ["plain-20", "ResNet-20"]
    assert "overlaid:" not in shown_text(window.training.view, "runTitle")


def test_9_a_first_window_fits_the_screen_it_opens_on(qtbot, settings, runs_dir):
    """Found in the click-through: on a 1366 × 768 screen the first window was 800 px tall, its progress and
    status bar off the screen."""
    from explorer.gui.main_window import MainWindow

    window = MainWindow(settings, runs_dir)
    qtbot.addWidget(window)
    room = window.screen().availableGeometry()
    assert window.width() <= room.width() and window.height() <= room.height() - 40
    assert (window.width(), window.height()) == (min(1280, room.width()), min(800, room.height() - 40))

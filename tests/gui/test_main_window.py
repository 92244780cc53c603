"""The main window's wiring, driven through its actions and widgets: tabs, menus and shortcuts by name, the
Architecture tab's network reaching the Training form, settings across restarts, and closing while a run
trains (the real dialog answered)."""

from __future__ import annotations


from PySide6.QtWidgets import QComboBox, QWidget

from explorer.config.model import ModelConfig
from explorer.gui import main_window
from explorer.gui.main_window import MainWindow
from dialogs import answer_next_dialog
from seen import depth_boxes, field, is_training, pick, shown_text

WAIT_MS = 30_000


def open_window(qtbot, settings, runs_dir) -> MainWindow:
    window = MainWindow(settings, runs_dir)
    qtbot.addWidget(window)
    window.show()
    return window


def wait_for_summary(qtbot, window: MainWindow, config: ModelConfig) -> None:
    qtbot.waitUntil(
        lambda: window.layer_table.summary is not None and window.layer_table.summary.config == config
        and not window.summaries.busy,
        timeout=WAIT_MS,
    )


def test_tabs_menus_and_shortcuts(qtbot, settings, runs_dir):
    window = open_window(qtbot, settings, runs_dir)
    wait_for_summary(qtbot, window, ModelConfig())
    assert [window.tabs.tabText(i) for i in range(window.tabs.count())] == ["Architecture", "Training", "Runs", "Analysis"]
    menus = {a.text().replace("&", ""): a.menu() for a in window.menuBar().actions()}
    assert set(menus) == {"File", "Run", "View", "Help"}
    names = {a.objectName() for menu in menus.values() for a in menu.actions()}
    assert {"openRun", "newRun", "export", "startRun", "stopRun", "resumeRun", "guide", "about", "quit"} <= names
    keys = {name: window.action(name).shortcut().toString() for name in ("startRun", "stopRun", "resumeRun",
                                                                        "newRun", "export", "openRun", "quit",
                                                                        "guide")}
    assert keys == {"startRun": "Ctrl+Return", "stopRun": "Ctrl+.", "resumeRun": "Ctrl+R", "newRun": "Ctrl+N",
                    "export": "Ctrl+E", "openRun": "Ctrl+O", "quit": "Ctrl+Q", "guide": "F1"}
    assert any("CSV" in a.text() for a in menus["File"].actions())
    assert "Deep Residual Learning for Image Recognition" in main_window.ABOUT


def test_help_has_a_guide_to_reading_figure_6(qtbot, settings, runs_dir):
    window = open_window(qtbot, settings, runs_dir)
    window.action("guide").trigger()
    dialog = window.findChild(QWidget, "guideDialog")
    assert dialog is not None and dialog.isVisible()
    text = main_window.guide_html()
    assert "How to read Figure 6" in text and "Degradation" in text
    dialog.close()
    wait_for_summary(qtbot, window, ModelConfig())


def test_every_long_tooltip_wraps(qtbot, settings, runs_dir):
    """Plain-text tooltips are one line however long (~1,200 px); rich text ones wrap."""
    window = open_window(qtbot, settings, runs_dir)
    wait_for_summary(qtbot, window, ModelConfig())
    long_plain = [w.objectName() or type(w).__name__ for w in window.findChildren(QWidget)
                  if len(w.toolTip()) > 90 and not w.toolTip().lstrip().startswith("<")]
    assert long_plain == []


def test_the_architecture_template_reaches_the_training_form(qtbot, settings, runs_dir):
    window = open_window(qtbot, settings, runs_dir)
    form = window.training.form
    window.architecture.set_config(ModelConfig(family="imagenet", depth=34))
    assert depth_boxes(form) == [18, 34]
    assert shown_text(form, "formBanner").startswith("Networks from the Architecture tab: ImageNet basic")
    window.architecture.set_config(ModelConfig(depth=110, block="bottleneck", preact=True))
    assert depth_boxes(form) == [164, 1001]
    wait_for_summary(qtbot, window, ModelConfig(depth=110, block="bottleneck", preact=True))


def test_settings_persist_across_a_restart(qtbot, settings, runs_dir):
    window = open_window(qtbot, settings, runs_dir)
    config = ModelConfig(family="imagenet", depth=34, shortcut="C")
    window.architecture.set_config(config)
    wait_for_summary(qtbot, window, config)
    window.resize(window.width(), 560)  # the offscreen screen is 800×600: a size that fits it is kept as it is
    window.tabs.setCurrentIndex(2)
    curves = window.training.view.curves
    curves.x_axis.setCurrentIndex(1)
    curves.reference.setChecked(True)
    form = window.training.form
    pick(form, "recipe", "custom")
    field(form, "iterations").setText("777")
    window.close()

    again = open_window(qtbot, settings, runs_dir)
    assert again.architecture.config == config
    assert again.tabs.currentIndex() == 2 and again.height() == 560
    assert again.training.view.curves.x_axis.currentIndex() == 1 and again.training.view.curves.reference.isChecked()
    assert field(again.training.form, "iterations").text() == "777"
    wait_for_summary(qtbot, again, config)


def test_a_saved_config_that_no_longer_validates_falls_back_to_the_default(qtbot, settings, runs_dir):
    settings.setValue(main_window.CONFIG_KEY, '{"family": "cifar", "depth": 21}')
    window = open_window(qtbot, settings, runs_dir)
    assert window.architecture.config == ModelConfig()
    wait_for_summary(qtbot, window, ModelConfig())


def test_closing_while_a_run_trains_asks_and_cancel_keeps_the_window(qtbot, settings, runs_dir, live_run):
    run, holder = live_run
    window = open_window(qtbot, settings, runs_dir)
    window.runs.refresh()
    qtbot.waitUntil(lambda: window.runs.select_path(run.path), timeout=5000)
    window.runs.action("openRun").trigger()
    assert is_training(window)  # the run's trainer was adopted
    seen = []
    answer_next_dialog("Cancel", seen)
    window.close()
    assert window.isVisible() and "live" in seen[0] and "still training" in seen[0]
    answer_next_dialog("Stop and quit")
    window.close()
    assert not window.isVisible()
    assert holder.wait(10) == 3  # Stop reached the adopted trainer through the run's stop request


def test_keep_training_leaves_the_trainer_running(qtbot, settings, runs_dir, live_run):
    run, holder = live_run
    window = open_window(qtbot, settings, runs_dir)
    window.training.open_run(run.path)
    answer_next_dialog("Keep training")
    window.close()
    assert not window.isVisible() and holder.poll() is None


def test_closing_when_idle_does_not_ask(qtbot, settings, runs_dir):
    window = open_window(qtbot, settings, runs_dir)
    wait_for_summary(qtbot, window, ModelConfig())
    window.close()  # a dialog would block here: the test would time out
    assert not window.isVisible()


def test_the_device_list_offers_what_this_machine_has(qtbot, window):
    """Auto first, then the devices found; without any GPU driver the CPU is found without importing torch in
    a child (seconds on every start of the app)."""
    from explorer.system.gpus import no_gpu_possible

    device = window.training.form.findChild(QComboBox, "device")
    window.tabs.setCurrentWidget(window.training)  # asked once the Training tab shows
    qtbot.waitUntil(lambda: device.count() > 1, timeout=60_000)
    labels = [device.itemText(i) for i in range(device.count())]
    assert labels[0].startswith("Auto") and labels[-1].startswith("CPU (") and labels[-1].endswith(("core)", "cores)"))
    if no_gpu_possible():
        assert labels[1:] == [labels[-1]]

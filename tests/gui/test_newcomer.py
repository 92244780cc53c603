"""Issue 18, the app as a newcomer meets it: each numbered finding driven through the main window as a person
does (the form's fields by name, the toolbar's actions, the real dialogs), each failing on the code before its
fix. Hand-written run folders stand in for trainings wherever the finding is about what is shown."""

from __future__ import annotations

from dialogs import answer_next_dialog
from run_writer import write_run
from seen import field, pick, shown_text
from tests.folder_fixture import write_image_folder


# 1 -------------------------------------------------------------------------------------------------------------
def test_1_each_dataset_keeps_its_own_folder_and_nothing_is_downloaded_into_pictures(qtbot, window, runs_dir,
                                                                                    tmp_path):
    pictures = write_image_folder(tmp_path / "fashion-pictures", per_class=3)
    window.tabs.setCurrentWidget(window.training)
    form = window.training.form
    pick(form, "dataset", "folder")
    field(form, "data-dir").setText(str(pictures))
    qtbot.waitUntil(lambda: shown_text(form, "folderSummary").startswith("3 classes"), timeout=10_000)
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
    answer_next_dialog("Cancel", asked, timeout_ms=2000)
    window.action("startRun").trigger()
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
    assert "modelled (no run with these settings here yet" in shown_text(form, "estimateNote")
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

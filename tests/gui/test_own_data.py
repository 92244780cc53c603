"""A folder of one's own images, through the Training tab as a person does it: choose "image folder", type the
folder, press Start. A broken image is named before any run folder exists; once it is gone, the run trains on
the folder's classes (decoded once, by the data step: the trainer reads them from the
cache) and the Runs tab lists it as an image-folder run."""

from __future__ import annotations

from explorer.gui.runs.table import COL_DATASET
from explorer.runs.folder import RunDir
from flows import CHILD_MS, start, tiny_run
from seen import field, is_training, pick, shown_text
from tests.folder_fixture import write_image_folder


def _own_images(window, folder) -> None:
    tiny_run(window, compare="residual", iterations=6)
    form = window.training.form
    pick(form, "dataset", "folder")
    field(form, "data-dir").setText(str(folder))
    field(form, "batch-size").setText("4")


def test_a_broken_image_is_named_before_any_run_and_the_folder_then_trains(qtbot, window, runs_dir, tmp_path):
    folder = write_image_folder(tmp_path / "pets", per_class=5)
    (folder / "dog" / "broken.png").write_bytes(b"\x89PNG but not really")
    _own_images(window, tmp_path / "nowhere")
    form = window.training.form
    assert field(form, "data-dir").placeholderText() == "a folder with one subfolder of images per class"
    window.action("startRun").trigger()
    assert "The image folder" in shown_text(form, "formProblem")
    assert "does not exist" in shown_text(form, "formProblem") and list(runs_dir.iterdir()) == []

    field(form, "data-dir").setText(str(folder))
    window.action("startRun").trigger()  # every image is read by the data step before the run is made
    qtbot.waitUntil(lambda: "cannot be read" in shown_text(form, "formProblem"), timeout=CHILD_MS)
    problem = shown_text(form, "formProblem")
    assert problem.startswith(f"Image {folder / 'dog' / 'broken.png'} cannot be read") and "--" not in problem
    assert list(runs_dir.iterdir()) == []

    (folder / "dog" / "broken.png").unlink()
    start(qtbot, window)
    # the data step's decoding reached the progress strip, counted in images
    assert window.training.view.progress.download.format() == "decoding the images: 15 of 15"
    qtbot.waitUntil(lambda: not is_training(window), timeout=CHILD_MS)
    (path,) = runs_dir.iterdir()
    run = RunDir.open(path)
    events = run.read_events()[0]
    assert run.config().num_classes == 3 and events[-1]["status"] == "finished"
    # The data step decoded the folder once; the trainer found it in the cache and decoded nothing.
    assert not [e for e in events if e["type"] == "decode"]
    window.tabs.setCurrentWidget(window.runs)
    window.runs.refresh()
    qtbot.waitUntil(lambda: window.runs.model.rowCount() == 1, timeout=10_000)
    assert window.runs.model.index(0, COL_DATASET).data() == "image folder"

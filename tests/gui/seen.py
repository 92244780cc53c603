"""What a person sees of the window, read as they would see it: widgets by their object names, the text of labels,
the items drawn in a plot and its legend. The app's source keeps no accessors for tests; these helpers read the
widgets the window shows."""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtWidgets import QCheckBox, QComboBox, QLabel, QLineEdit, QToolButton, QWidget


def pick(root: QWidget, name: str, data) -> None:
    """Choose the entry of the combo box ``name`` whose data is ``data``, as a person picks it from the list."""
    combo = root.findChild(QComboBox, name)
    assert combo is not None and combo.findData(data) >= 0, f"no {data!r} in {name!r}"
    combo.setCurrentIndex(combo.findData(data))


def shown_text(root: QWidget, name: str) -> str:
    """The text of the label ``name`` under ``root`` as it is on screen: "" when it is hidden."""
    label = root.findChild(QLabel, name)
    assert label is not None, f"no label {name!r}"
    return label.text() if label.isVisibleTo(root) else ""


def field(root: QWidget, option: str) -> QLineEdit:
    """The Training form's line edit of an option ("batch-size", "data-dir", "name")."""
    found = root.findChild(QLineEdit, option)
    assert found is not None, f"no field {option!r}"
    return found


def is_training(window) -> bool:
    """Whether a trainer this window started or adopted is still alive (the Stop action's subject)."""
    return bool(window.trainers.controller.live_runs())


def curve(curves, label: str, kind: str = "test") -> pg.PlotDataItem:
    """The line of a network in Figure 6 by its legend label ("ResNet-8", "ResNet-56 · other" for an overlay):
    "test" (bold), "train" (dashed, smoothed) or "raw" (faint)."""
    for plot in curves.plots:
        for item in plot.items:
            if isinstance(item, pg.PlotDataItem) and item.objectName() == f"{label}: {kind}":
                return item
    raise AssertionError(f"no {kind} line of {label!r} among {network_labels(curves)}")


def points(curves, label: str, kind: str = "test") -> tuple[np.ndarray, np.ndarray]:
    """Every point of a line (not only those in view), after the pending ones are drawn."""
    curves.flush()
    item = curve(curves, label, kind)
    x, y = item.xData, item.yData
    return (np.asarray([]), np.asarray([])) if x is None else (np.asarray(x), np.asarray(y))


def network_labels(curves) -> list[str]:
    """The networks drawn, by their labels, plain panel first."""
    return [item.objectName().rpartition(": ")[0] for plot in curves.plots for item in plot.items
            if isinstance(item, pg.PlotDataItem) and item.objectName().endswith(": test")]


def legend(plot) -> list[str]:
    return [label.text for _, label in plot.legend.items]


def text_items(plot) -> list[str]:
    """Text drawn in a plot (the label where a network diverged, say)."""
    return [item.toPlainText() for item in plot.items if isinstance(item, pg.TextItem)]


def paper_lines(curves) -> list[str]:
    """The paper's test errors drawn as dotted lines in the ResNet panel, by their legend entries."""
    names = [name for name in legend(curves.residual_plot) if name.startswith("paper ")]
    lines = [item for item in curves.residual_plot.items if isinstance(item, pg.InfiniteLine) and item.angle == 0
             and item.isVisible()]
    assert len(lines) == len(names), (names, [line.value() for line in lines])
    return names


def overlay_chips(view) -> list[QToolButton]:
    return view.findChildren(QToolButton, "overlayChip")


def readout(curves) -> str:
    label = curves.findChild(QLabel, "hoverReadout")
    return label.text() if label.isVisible() else ""


def untick_depths(root: QWidget) -> None:
    for box in root.findChildren(QCheckBox):
        if box.objectName().startswith("depth-"):
            box.setChecked(False)


def ticked_depths(root: QWidget) -> set[int]:
    return {int(box.text()) for box in root.findChildren(QCheckBox)
            if box.objectName().startswith("depth-") and box.isChecked()}


def depth_boxes(root: QWidget) -> list[int]:
    return sorted(int(box.text()) for box in root.findChildren(QCheckBox) if box.objectName().startswith("depth-"))


def export(action, path, monkeypatch) -> None:
    """Trigger an Export… action and answer its file dialog with ``path``, as a person types a file name."""
    from PySide6.QtWidgets import QFileDialog

    monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *a, **k: (str(path), ""))
    action.trigger()


def fill(form: QWidget, dataset: str, compare: str, depths, iterations: int, batch: int, name: str = "",
         images: int | None = None, seeds: int = 1) -> None:
    """Fill the Training form as a person would: the dataset, the depths ticked (or typed when they are no
    presets), the networks, a custom recipe, the run's name (the screenshot script and the benchmarks too)."""
    pick(form, "dataset", dataset)
    if images is not None:
        field(form, "synthetic-size").setText(str(images))
    untick_depths(form)
    presets = set(depth_boxes(form))
    for box in form.findChildren(QCheckBox):
        if box.objectName().startswith("depth-") and int(box.text()) in depths:
            box.setChecked(True)
    field(form, "other-depths").setText(", ".join(str(d) for d in depths if d not in presets))
    pick(form, "compare", compare)
    pick(form, "recipe", "custom")
    field(form, "iterations").setText(str(iterations))
    field(form, "batch-size").setText(str(batch))
    field(form, "seeds").setText(str(seeds))
    field(form, "name").setText(name)


def pixels(image) -> "np.ndarray":
    """A QImage as an array of RGB rows (height × width × 3, ints)."""
    from PySide6.QtGui import QImage

    image = image.convertToFormat(QImage.Format.Format_RGB888)
    rows = np.frombuffer(image.constBits(), np.uint8).reshape(image.height(), image.bytesPerLine())
    return rows[:, :3 * image.width()].reshape(image.height(), image.width(), 3).astype(int)

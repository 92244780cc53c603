"""The depths a draft compares: the presets of the Architecture tab's family and block as check boxes, and any
other depths typed beside them. Read and written as one text ("20, 56, 8"), the draft's ``depths``."""

from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QCheckBox, QGridLayout, QGroupBox, QLineEdit, QWidget

from explorer.config.model import ModelConfig, depth_presets
from explorer.gui.training.draft import presets_and_typed
from explorer.gui.widgets.number_field import INVALID_STYLE
from explorer.gui.widgets.tips import tip

COLUMNS = 4


class DepthChoice(QGroupBox):
    """``changed`` whenever a box is ticked or the typed depths change."""

    changed = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__("Depths to compare", parent, objectName="depths")
        self._grid = QGridLayout(self)
        self._boxes: dict[int, QCheckBox] = {}
        self.other = QLineEdit(objectName="other-depths")
        self.other.setPlaceholderText("other depths, e.g. 8, 14")
        self.other.setToolTip(tip("More depths, comma-separated; each must fit the Architecture tab's family and "
                                  "block (6n+2 for CIFAR basic blocks, 9n+2 for bottlenecks)."))
        self.other.textChanged.connect(self.changed)

    def text(self) -> str:
        ticked = [str(d) for d, box in self._boxes.items() if box.isChecked()]
        return ", ".join(filter(None, [*ticked, self.other.text().strip()]))

    def set_depths(self, template: ModelConfig, text: str) -> None:
        """The template's presets as boxes, those in ``text`` ticked; the other depths of ``text`` typed."""
        for box in self._boxes.values():
            self._grid.removeWidget(box)
            box.setParent(None)  # gone from the form at once, not only when the event loop deletes it
            box.deleteLater()
        self._boxes = {}
        ticked, typed = presets_and_typed(template, text)
        presets = depth_presets(template.family, template.block)
        for i, depth in enumerate(presets):
            box = QCheckBox(str(depth), objectName=f"depth-{depth}")
            box.setChecked(depth in ticked)
            box.setToolTip(f"Train the {depth}-layer networks")
            box.toggled.connect(self.changed)
            self._grid.addWidget(box, i // COLUMNS, i % COLUMNS)
            self._boxes[depth] = box
        self.other.blockSignals(True)
        self.other.setText(typed)
        self.other.blockSignals(False)
        self._grid.addWidget(self.other, (len(presets) + COLUMNS - 1) // COLUMNS, 0, 1, COLUMNS)

    def mark(self, problem: bool) -> None:
        self.other.setStyleSheet(INVALID_STYLE if problem else "")

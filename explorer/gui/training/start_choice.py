"""Where the residual networks start, as the Training form shows it: from scratch, from pretrained weights, or
both ways side by side on the same batches; which weights (torchvision's ImageNet ones, or a file the person
picks); and what a pretrained network trains (every layer, the classifier alone, or the body ten times more
slowly). The values are the core's words (``STARTS`` and ``FINE_TUNES`` of :mod:`explorer.config.run`); the rules
about them are the core's too.
"""

from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QComboBox, QFileDialog, QFormLayout, QHBoxLayout, QLineEdit, QPushButton, QWidget

from explorer.config.model import IMAGENET_WEIGHTS
from explorer.gui.widgets.number_field import INVALID_STYLE
from explorer.gui.widgets.combo import select_data
from explorer.gui.widgets.tips import tip

STARTS = (("From scratch", "scratch"), ("From pretrained weights", "pretrained"),
          ("Both: scratch vs pretrained", "both"))
FINE_TUNES = (("Every layer", "all"), ("The classifier only", "head"), ("Body at a tenth of the lr", "lower-body"))
IMAGENET_WORDS = "ImageNet (torchvision)"


class StartChoice(QWidget):
    """Three rows of a QFormLayout (:meth:`add_rows`); ``changed`` when the person edits one of them."""

    changed = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.start = QComboBox(objectName="start-from")
        for label, value in STARTS:
            self.start.addItem(label, value)
        self.start.setToolTip(tip("Train the ResNets from a random start (the paper), from trained weights, or "
                                  "both ways side by side on identical batches (scratch left, pretrained right). "
                                  "Pretrained networks get a new classifier sized to the dataset and see their "
                                  "weights' preprocessing (ImageNet's mean and std, their input size)."))
        self.weights = QLineEdit(objectName="weights")
        self.weights.setPlaceholderText(IMAGENET_WORDS)
        self.weights.setToolTip(tip("Empty: torchvision's ImageNet weights of ResNet-18/34/50/101/152, from torch's "
                                    "hub cache or downloaded once (after asking). Or a .pth file of weights in "
                                    "torchvision's format, or a checkpoint with them under \"model\" or "
                                    "\"state_dict\"."))
        self.browse = QPushButton("Browse…", objectName="browseWeights")
        self.browse.clicked.connect(self._on_browse)
        self.fine_tune = QComboBox(objectName="fine-tune")
        for label, value in FINE_TUNES:
            self.fine_tune.addItem(label, value)
        self.fine_tune.setToolTip(tip("What a pretrained network trains: every layer at the run's lr (the usual "
                                      "fine-tuning), the new classifier alone, or the body at a tenth of the lr. "
                                      "Networks from scratch always train every layer."))
        self.start.currentIndexChanged.connect(self._on_edited)
        self.fine_tune.currentIndexChanged.connect(self._on_edited)
        self.weights.textChanged.connect(self._on_edited)
        self._filling = False
        self._editable = True

    def add_rows(self, form: QFormLayout) -> None:
        row = QHBoxLayout()
        row.addWidget(self.weights, 1)
        row.addWidget(self.browse)
        form.addRow("Start from:", self.start)
        form.addRow("Weights:", row)
        form.addRow("Fine-tune:", self.fine_tune)

    def fields(self) -> tuple[QWidget, ...]:
        return self.start, self.weights, self.browse, self.fine_tune

    # --- values -----------------------------------------------------------------------------------------------
    def values(self) -> dict[str, str]:
        """The draft's texts: "start-from", "weights" (``imagenet`` when the field is empty), "fine-tune"."""
        return {"start-from": self.start.currentData(), "weights": self.weights.text().strip() or IMAGENET_WEIGHTS,
                "fine-tune": self.fine_tune.currentData()}

    def set_values(self, start_from: str, weights: str, fine_tune: str) -> None:
        self._filling = True
        try:
            select_data(self.start, start_from)
            self.weights.setText("" if weights == IMAGENET_WEIGHTS else weights)
            select_data(self.fine_tune, fine_tune)
        finally:
            self._filling = False
        self._update_enabled()

    def set_editable(self, editable: bool) -> None:
        self._editable = editable
        self._update_enabled()

    def mark(self, about: set[str]) -> None:
        """Outline the fields a problem is about."""
        self.weights.setStyleSheet(INVALID_STYLE if "weights" in about else "")
        self.start.setStyleSheet(INVALID_STYLE if "start-from" in about else "")

    # --- inside -----------------------------------------------------------------------------------------------
    def _update_enabled(self) -> None:
        self.start.setEnabled(self._editable)
        pretrained = self.start.currentData() != "scratch"
        for widget in (self.weights, self.browse, self.fine_tune):
            widget.setEnabled(self._editable and pretrained)

    def _on_edited(self) -> None:
        self._update_enabled()
        if not self._filling:
            self.changed.emit()

    def _on_browse(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Weights to start from", self.weights.text(),
                                              "PyTorch weights (*.pth *.pt *.bin);;All files (*)")
        if path:
            self.weights.setText(path)


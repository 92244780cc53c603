"""The Architecture tab's diagram pane: the network of the layer table drawn as Figure 3 draws it, its plain (or
residual) twin and VGG-19 beside it on demand, zoom, and export as SVG or PNG.

It draws the Summary the layer table shows (the SummaryWorker's), so a box and a row are one layer; the twin's
Summary and the layout are computed on the thread pool by a LatestWorker (ResNet-1202's rows are thousands), and
the GUI thread only hands the finished Layout to the view. ``share_selection`` makes the diagram and the table two
views of one selection.
"""

from __future__ import annotations

from functools import lru_cache
from typing import TYPE_CHECKING, NamedTuple

from PySide6.QtCore import QObject, Signal
from PySide6.QtWidgets import QCheckBox, QHBoxLayout, QLabel, QPushButton, QToolButton, QVBoxLayout, QWidget

from explorer.gui.widgets.actions import make_action
from explorer.gui.architecture.diagram_export import FORMATS, export
from explorer.gui.architecture.diagram_view import ZOOM_STEP, DiagramView
from explorer.gui.widgets.latest_worker import LatestWorker, SummaryWorker
from explorer.gui.widgets.save_dialog import ask_save_path, remember
from explorer.gui.widgets.theme import mark
from explorer.config.model import ModelConfig

if TYPE_CHECKING:
    from explorer.gui.architecture.diagram_layout import Layout
    from explorer.gui.architecture.layer_table import LayerTable
    from explorer.models.summary import Summary

TWIN_KEY, VGG_KEY = "diagram/twin", "diagram/vgg"
VGG_TIP = "VGG-19 beside the network, as the paper's Figure 3 compares them (ImageNet networks only)"


class _Request(NamedTuple):
    summary: "Summary"
    twin: bool
    vgg: bool
    opened: frozenset[str]


@lru_cache(maxsize=4)
def _summary_of(config: ModelConfig) -> "Summary":
    from explorer.models.summary import summarize  # imports torch: on the pool thread

    return summarize(config)


def _draw(request: _Request) -> "Layout":
    from explorer.gui.architecture.diagram_layout import build

    config = request.summary.config
    twin = _summary_of(config.replace(plain=not config.plain)) if request.twin else None
    return build(request.summary, twin, request.vgg, request.opened)


class DiagramWorker(LatestWorker):
    """``request(_Request)`` and, a moment later, ``computed(Layout)`` for the latest request only."""

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(_draw, lambda request, exc: f"Could not draw {request.summary.config.name}: "
                         f"{str(exc) or type(exc).__name__}.", parent, debounce_ms=0)


class DiagramPanel(QWidget):
    status_message = Signal(str)

    def __init__(self, summaries: SummaryWorker, settings, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setMinimumWidth(150)  # a narrow pane at 1024 px: the picture scrolls and zooms, the table needs the room
        self._settings = settings
        self._summary: Summary | None = None
        self._opened: frozenset[str] = frozenset()
        self.view = DiagramView()
        self.worker = DiagramWorker(self)
        self.twin = QCheckBox("Plain twin", objectName="diagramTwin")
        self.twin.setToolTip("The same network without (or with) shortcuts beside it, as in Figure 3")
        self.twin.setChecked(settings.value(TWIN_KEY, False, type=bool))
        self.vgg = QCheckBox("VGG-19", objectName="diagramVgg")
        self.vgg.setToolTip(VGG_TIP)
        self.vgg.setChecked(settings.value(VGG_KEY, False, type=bool))
        self.export_action = make_action(self, "Export diagram as SVG or PNG…", None, "Write the diagram as it is "
                                         "on screen to an SVG or PNG file", self._on_export, name="exportDiagram")
        self._busy = QLabel("drawing…")
        self._busy.hide()
        self._error = QLabel(objectName="diagramError")
        self._error.setWordWrap(True)
        mark(self._error, "error")
        self._error.hide()

        choices = QHBoxLayout()  # the columns on one row, zoom and export on the next: a narrow pane at 1024 px
        choices.addWidget(self.twin)
        choices.addWidget(self.vgg)
        choices.addStretch(1)
        head = QHBoxLayout()
        head.addWidget(self._busy)
        head.addStretch(1)
        for text, tip, factor in (("−", "Zoom out (Ctrl+wheel)", 1 / ZOOM_STEP), ("+", "Zoom in (Ctrl+wheel)",
                                                                                  ZOOM_STEP)):
            button = QPushButton(text, objectName=f"diagramZoom{'In' if factor > 1 else 'Out'}")
            button.setToolTip(tip)
            button.setFixedWidth(button.sizeHint().height() + 4)
            button.clicked.connect(lambda _=False, f=factor: self.view.zoom(f))
            head.addWidget(button)
        export_button = QToolButton(objectName="exportDiagramButton")
        export_button.setText("Export…")
        export_button.setToolTip(self.export_action.toolTip())
        export_button.clicked.connect(self.export_action.trigger)
        head.addWidget(export_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(choices)
        layout.addLayout(head)
        layout.addWidget(self._error)
        layout.addWidget(self.view, 1)

        summaries.computed.connect(self.set_summary)
        summaries.failed.connect(self._on_summary_failed)
        self.worker.computed.connect(self._on_drawn)
        self.worker.failed.connect(self._on_failed)
        self.worker.busy_changed.connect(self._busy.setVisible)
        self.view.stage_clicked.connect(self._on_stage_clicked)
        for box, key in ((self.twin, TWIN_KEY), (self.vgg, VGG_KEY)):
            box.toggled.connect(lambda checked, key=key: self._settings.setValue(key, checked))
            box.toggled.connect(self._request)

    def set_summary(self, summary: "Summary") -> None:
        """Draw ``summary``'s network: the table's, whose selection starts empty again."""
        config = summary.config
        if self._summary is None or self._summary.config != config:
            self._opened = frozenset()
            self.view.highlight((), reveal=False)
        self._summary = summary
        self.twin.setText("Residual twin" if config.plain else "Plain twin")
        imagenet = config.family == "imagenet"
        self.vgg.setEnabled(imagenet)
        self.vgg.setToolTip(VGG_TIP if imagenet else "Figure 3 compares VGG-19 with the ImageNet networks; "
                            "choose the ImageNet family to see it")
        self._request()

    def shows(self, config: ModelConfig, columns: int | None = None) -> bool:
        """Whether the diagram on screen is ``config``'s (in ``columns`` columns) and nothing is being redrawn."""
        layout = self.view.layout_shown
        return (layout is not None and not self.worker.busy and layout.titles[layout.main] == config.label
                and self._summary is not None and self._summary.config == config
                and (columns is None or len(layout.titles) == columns))

    def shutdown(self) -> None:
        self.worker.shutdown()

    def _request(self) -> None:
        if self._summary is not None:
            self.worker.request(_Request(self._summary, self.twin.isChecked(),
                                         self.vgg.isChecked() and self.vgg.isEnabled(), self._opened))

    def _on_stage_clicked(self, stage: str) -> None:
        self._opened ^= {stage}
        self._request()

    def _on_drawn(self, layout: "Layout") -> None:
        self._error.hide()
        self.view.set_layout(layout)

    def _on_failed(self, message: str) -> None:
        self._error.setText(message)
        self._error.show()
        self.status_message.emit(message)

    def _on_summary_failed(self, _message: str) -> None:
        self._summary = None
        self.view.set_layout(None)  # the table says why

    def _on_export(self) -> None:
        if self.view.layout_shown is None:
            self.status_message.emit("Nothing to export yet: the diagram is still being drawn.")
            return
        name = self._summary.config.name if self._summary else "network"
        path = ask_save_path(self, self._settings, "Export diagram", f"{name}-diagram.svg", FORMATS)
        if path is None:
            return
        try:
            what = export(self.view, path, f"{name}: {', '.join(self.view.layout_shown.titles)}")
            remember(self._settings, path)
        except ValueError as exc:
            self.status_message.emit(f"{str(exc)[0].upper()}{str(exc)[1:]}.")
        except OSError as exc:
            self.status_message.emit(f"Could not write {path}: {exc.strerror or exc}; choose another folder.")
        else:
            self.status_message.emit(f"Wrote {what} to {path}.")


def share_selection(panel: DiagramPanel, table: "LayerTable") -> None:
    """One selection, two views: a click on a box selects its row (its stage and block opened in the tree), and
    the rows selected in the table light their boxes and shortcuts."""
    tree, model = table.tree, table.model

    def select(row: str) -> None:
        index = model.index_of(row)
        if not index.isValid():
            return
        parent = index.parent()
        while parent.isValid():
            tree.expand(parent)
            parent = parent.parent()
        tree.setCurrentIndex(index)
        tree.scrollTo(index)

    def light() -> None:
        panel.view.highlight([model.row_of(i).name for i in tree.selectionModel().selectedRows(0)])

    panel.view.row_clicked.connect(select)
    tree.selectionModel().selectionChanged.connect(light)


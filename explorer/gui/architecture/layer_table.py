"""The layer table: a Summary shown as a stage → block → layer tree, with totals, the paper's figures, copy and CSV.

The model holds the Summary's plain rows (strings, ints, tuples), never torch objects. The widget shows what the
SummaryWorker computes; it never computes on the GUI thread.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QAbstractItemModel, QModelIndex, QPersistentModelIndex, Qt, Signal
from PySide6.QtGui import QAction, QGuiApplication, QKeySequence
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QProgressBar,
    QToolButton,
    QTreeView,
    QVBoxLayout,
    QWidget,
)

from explorer.system.files import atomic_write
from explorer.system.formatting import count, params as params_text, shape, size
from explorer.gui.widgets.save_dialog import ask_save_path, remember
from explorer.gui.widgets.latest_worker import SummaryWorker
from explorer.gui.widgets.tips import tip
from explorer.gui.widgets.theme import caption, mark
from explorer.config.paper import paper_note

if TYPE_CHECKING:  # the summary module imports torch; the GUI thread must not
    from explorer.models.summary import LayerRow, Summary

COL_LAYER, COL_TYPE, COL_OUTPUT, COL_PARAMS, COL_MACS, COL_SHARE = range(6)
# Short headers (each says more in its tooltip): all six columns fit beside the panel and the diagram at 1024 px.
HEADERS = ("Layer", "Type", "Output", "Params", "MACs", "% MACs")
HEADER_TIPS = ("The module's name, as torchvision names it", "The module's class",
               "Output of one image: channels × height × width", "Parameters (weights and biases)", None,
               "This layer's share of the network's MACs")
EXPORT_HEADERS = ("layer", "type", "depth", "output", "params", "macs", "mac_share_percent")
NUMERIC_COLUMNS = (COL_PARAMS, COL_MACS, COL_SHARE)
_ROOT = -1
COLUMN_GAP = 6  # pixels

MACS_TIP = (
    "MACs: multiply-accumulates of the convolutions and the fc layer for one image, what the paper calls "
    "\"FLOPs (multiply-adds)\". FLOPs = 2 × MACs."
)


@dataclass
class _Node:
    row: "LayerRow"
    parent: int
    position: int  # index among the parent's children
    children: list[int] = field(default_factory=list)


class LayerTreeModel(QAbstractItemModel):
    """Rows of one Summary, nested by name ('layer1' ⊃ 'layer1.0' ⊃ 'layer1.0.conv1')."""

    def __init__(self, parent: Any = None) -> None:
        super().__init__(parent)
        self._nodes: list[_Node] = []
        self._top: list[int] = []
        self._by_name: dict[str, int] = {}
        self._total_macs = 0

    def set_summary(self, summary: "Summary | None") -> None:
        self.beginResetModel()
        self._nodes, self._top = [], []
        self._total_macs = summary.total_macs if summary else 0
        by_name: dict[str, int] = {}
        for row in summary.rows if summary else ():
            parent = self._parent_of(row.name, by_name)
            siblings = self._top if parent == _ROOT else self._nodes[parent].children
            siblings.append(len(self._nodes))
            self._nodes.append(_Node(row, parent, len(siblings) - 1))
            by_name[row.name] = len(self._nodes) - 1
        self._by_name = by_name
        self.endResetModel()

    @staticmethod
    def _parent_of(name: str, by_name: dict[str, int]) -> int:
        """The nearest enclosing row already seen, or the root."""
        parts = name.split(".")
        for cut in range(len(parts) - 1, 0, -1):
            found = by_name.get(".".join(parts[:cut]))
            if found is not None:
                return found
        return _ROOT

    def index_of(self, name: str) -> QModelIndex:
        """The row named ``name`` ("layer1.0.conv1"); invalid when the table has none."""
        node = self._by_name.get(name)
        return QModelIndex() if node is None else self.createIndex(self._nodes[node].position, 0, node)

    def row_of(self, index: QModelIndex) -> "LayerRow":
        return self._nodes[index.internalId()].row

    def export_values(self, row: "LayerRow") -> tuple[Any, ...]:
        """One row as copied or exported: raw numbers, so a spreadsheet can compute with them."""
        share = 100 * row.macs / self._total_macs if self._total_macs else 0.0
        output = "x".join(map(str, row.output_shape[1:] or row.output_shape))
        return (row.name, row.type, row.depth, output, row.params, row.macs, round(share, 4))

    def all_rows(self) -> list["LayerRow"]:
        return [node.row for node in self._nodes]

    def index(self, row: int, column: int, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> QModelIndex:
        children = self._nodes[parent.internalId()].children if parent.isValid() else self._top
        if 0 <= row < len(children) and 0 <= column < len(HEADERS):
            return self.createIndex(row, column, children[row])
        return QModelIndex()

    def parent(  # type: ignore[override]
        self, index: QModelIndex | QPersistentModelIndex = QModelIndex()
    ) -> QModelIndex:
        if not index.isValid():
            return QModelIndex()
        parent = self._nodes[index.internalId()].parent
        if parent == _ROOT:
            return QModelIndex()
        return self.createIndex(self._nodes[parent].position, 0, parent)

    def rowCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:
        if parent.isValid():
            return len(self._nodes[parent.internalId()].children) if parent.column() == 0 else 0
        return len(self._top)

    def columnCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:
        return len(HEADERS)

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if orientation != Qt.Orientation.Horizontal:
            return None
        if role == Qt.ItemDataRole.DisplayRole:
            return HEADERS[section]
        if role == Qt.ItemDataRole.TextAlignmentRole and section in NUMERIC_COLUMNS:
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        if role == Qt.ItemDataRole.ToolTipRole:
            return tip(MACS_TIP if section == COL_MACS else HEADER_TIPS[section])
        return None

    def data(self, index: QModelIndex | QPersistentModelIndex, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid():
            return None
        row = self._nodes[index.internalId()].row
        column = index.column()
        if role == Qt.ItemDataRole.DisplayRole:
            return self._display(row, column)
        if role == Qt.ItemDataRole.TextAlignmentRole and column in NUMERIC_COLUMNS:
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        if role == Qt.ItemDataRole.ToolTipRole and column == COL_LAYER:
            return f"{row.name} ({row.type})"
        return None

    def _display(self, row: "LayerRow", column: int) -> str:
        if column == COL_LAYER:
            return row.name
        if column == COL_TYPE:
            return row.type
        if column == COL_OUTPUT:
            return shape(row.output_shape)
        if column == COL_PARAMS:
            return f"{row.params:,}"
        if column == COL_MACS:
            return f"{row.macs:,}"
        share = 100 * row.macs / self._total_macs if self._total_macs else 0.0
        return f"{share:.1f} %"


class LayerTable(QWidget):
    """The layer tree of the latest summary, its totals line and the paper's figures beside them."""

    status_message = Signal(str)
    columns_fitted = Signal(int)  # the width every column needs, after each new summary

    def __init__(self, worker: SummaryWorker, settings, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._worker = worker
        self._settings = settings
        self._summary: Summary | None = None
        self.model = LayerTreeModel(self)

        self._title = QLabel()
        self._title.setObjectName("summaryTitle")
        self._busy = QProgressBar()
        self._busy.setRange(0, 0)
        self._busy.setMaximumWidth(120)
        self._busy.setTextVisible(False)
        self._busy.setToolTip("Computing the summary on a worker thread…")
        self._busy.hide()
        self._busy_label = QLabel("computing…")
        self._busy_label.hide()
        self._totals = QLabel("Loading PyTorch and computing the first summary…")
        self._totals.setObjectName("summaryTotals")
        self._totals.setToolTip(tip(MACS_TIP))
        self._totals.setWordWrap(True)
        self._totals.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self._paper = QLabel()
        self._paper.setObjectName("paperNote")
        caption(self._paper).setStyleSheet("font-style: italic;")
        self._paper.setToolTip("The paper's figures for this network, to compare with ours.")
        self._error = QLabel()
        self._error.setObjectName("summaryError")
        self._error.setWordWrap(True)
        mark(self._error, "error")
        self._error.hide()

        self._tree = QTreeView()
        self._tree.setModel(self.model)
        self._tree.setUniformRowHeights(True)  # ResNet-1202 has thousands of rows
        self._tree.setIndentation(12)
        self._tree.setAlternatingRowColors(True)
        self._tree.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self._tree.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        header = self._tree.header()
        header.setStretchLastSection(True)
        header.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        header.setMinimumSectionSize(48)

        self.copy_action = QAction("Copy rows", self)
        self.copy_action.setShortcut(QKeySequence.StandardKey.Copy)
        self.copy_action.setShortcutContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
        self.copy_action.setToolTip("Copy the selected rows as tab-separated text")
        self._tree.addAction(self.copy_action)
        self.export_action = QAction("Export layer table as CSV…", self)
        self.export_action.setToolTip("Write every row of the layer table to a CSV file")

        expand, collapse, copy = (_button(text) for text in ("Expand", "Collapse", "Copy"))
        expand.setToolTip("Open every stage and block")
        copy.setToolTip(self.copy_action.toolTip() + " (Ctrl+C)")
        export = _button("CSV…", "exportLayersButton")
        export.setToolTip(self.export_action.toolTip())

        title = QHBoxLayout()  # the title on its own row: the buttons below it keep the pane narrow (1024 px)
        title.addWidget(self._title, 1)
        title.addWidget(self._busy_label)
        title.addWidget(self._busy)
        head = QHBoxLayout()
        for button in (expand, collapse, copy, export):
            head.addWidget(button)
        head.addStretch(1)
        self._head = head
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(title)
        layout.addLayout(head)
        layout.addWidget(self._totals)
        layout.addWidget(self._paper)
        layout.addWidget(self._error)
        layout.addWidget(self._tree, 1)

        expand.clicked.connect(self._tree.expandAll)
        collapse.clicked.connect(self._tree.collapseAll)
        copy.clicked.connect(self.copy_selection)
        self.copy_action.triggered.connect(self.copy_selection)
        export.clicked.connect(self.export_action.trigger)
        self.export_action.triggered.connect(self._on_export_triggered)
        worker.computed.connect(self._on_computed)
        worker.failed.connect(self._on_failed)
        worker.busy_changed.connect(self._on_busy_changed)

    def add_button(self, text: str, action: QAction) -> None:
        """A button at the end of the table's header row that triggers ``action`` (an export the window owns)."""
        button = _button(text, f"{action.objectName()}Button")
        button.setToolTip(action.toolTip())
        button.clicked.connect(action.trigger)
        self._head.insertWidget(self._head.count() - 1, button)  # before the stretch

    @property
    def summary(self) -> "Summary | None":
        """The summary on screen; None until the first one arrives or after an error."""
        return self._summary

    @property
    def tree(self) -> QTreeView:
        return self._tree

    def copy_selection(self) -> str:
        """Put the selected rows (all rows when none is selected) on the clipboard as TSV; return the text."""
        indexes = self._tree.selectionModel().selectedRows(COL_LAYER)
        rows = [self.model.row_of(i) for i in sorted(indexes, key=lambda i: i.internalId())]
        rows = rows or self.model.all_rows()
        text = "\n".join("\t".join(map(str, values)) for values in self._table(rows)) + "\n"
        QGuiApplication.clipboard().setText(text)
        if rows:
            self.status_message.emit(f"Copied {len(rows)} row{'s' * (len(rows) != 1)} of the layer table.")
        return text

    def export_csv(self, path: Path) -> None:
        """Write every row to ``path``; raises OSError when the file cannot be written."""
        buffer = io.StringIO()
        csv.writer(buffer, lineterminator="\n").writerows(self._table(self.model.all_rows()))
        atomic_write(path, buffer.getvalue())

    def _table(self, rows: list["LayerRow"]) -> list[tuple[Any, ...]]:
        return [EXPORT_HEADERS, *(self.model.export_values(row) for row in rows)]

    def _on_export_triggered(self) -> None:
        if self._summary is None:
            self.status_message.emit("Nothing to export yet: the layer table is still empty.")
            return
        path = ask_save_path(self, self._settings, "Export layer table", f"{self._summary.config.name}-layers.csv",
                             "CSV files (*.csv)")
        if path is None:
            return
        try:
            self.export_csv(path)
            remember(self._settings, path)
        except OSError as exc:
            self.status_message.emit(f"Could not write {path}: {exc.strerror or exc}; choose another folder.")
        else:
            self.status_message.emit(f"Wrote {len(self.model.all_rows())} layers to {path}.")

    def _on_computed(self, summary: "Summary") -> None:
        self._summary = summary
        self._error.hide()
        self.model.set_summary(summary)
        self._tree.expandToDepth(0)
        self._fit_columns(summary)
        self.columns_fitted.emit(self.natural_width())
        config = summary.config
        self._title.setText(f"<b>{config.name}</b> · input {shape(summary.input_shape)}")
        self._totals.setText(
            f"<b>{params_text(summary.total_params)}</b> parameters · "
            f"<b>{count(summary.total_macs)}</b> MACs · <b>{count(summary.total_flops)}</b> FLOPs · "
            f"{summary.weighted_depth} weighted layers · "
            f"{size(summary.activation_bytes)} of activations per image"
        )
        note = paper_note(config)
        self._paper.setText(note or "The paper reports no figures for this configuration.")
        self._paper.show()

    def _fit_columns(self, summary: "Summary") -> None:
        """Every column as wide as its widest cell, the layer names whole at any nesting (a narrow window
        scrolls sideways rather than cutting "conv1" to "con…")."""
        metrics = self._tree.fontMetrics()
        indent = self._tree.indentation()
        names = max((indent * row.depth + metrics.horizontalAdvance(row.name) for row in summary.rows), default=0)
        self._tree.setColumnWidth(COL_LAYER, max(names + COLUMN_GAP + indent, metrics.horizontalAdvance("Layer") + 24))
        for column in range(1, len(HEADERS)):
            self._tree.resizeColumnToContents(column)
            # Room between a right-aligned number and the next column's text.
            self._tree.setColumnWidth(column, self._tree.columnWidth(column) + COLUMN_GAP)

    def natural_width(self) -> int:
        """The width at which every column shows whole, with room for the vertical scroll bar ("Share of MACs"
        was cut when one appeared)."""
        tree = self._tree
        columns = sum(tree.columnWidth(c) for c in range(len(HEADERS)))
        return columns + tree.verticalScrollBar().sizeHint().width() + 2 * tree.frameWidth() + 4

    def _on_failed(self, message: str) -> None:
        self._summary = None
        self.model.set_summary(None)
        self._error.setText(message)
        self._error.show()
        self._totals.setText("—")
        self._title.setText("<b>No summary</b>")
        self._paper.clear()
        self._paper.hide()
        self.status_message.emit(message)

    def _on_busy_changed(self, busy: bool) -> None:
        self._busy.setVisible(busy)
        self._busy_label.setVisible(busy)


def _button(text: str, name: str = "") -> QToolButton:
    """A compact button of the table's head (tool buttons: the pane fits a window of 1024 px)."""
    button = QToolButton(objectName=name)
    button.setText(text)
    return button

"""QActions from (text, shortcut, tip, slot) specs: one place that puts the shortcut into the tooltip."""

from __future__ import annotations

from typing import Callable

from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QWidget

from explorer.gui.widgets.tips import tip as wrapped


def make_action(parent: QWidget, text: str, shortcut: str | None, tip: str, slot: Callable,
                name: str = "") -> QAction:
    """An action whose tooltip and status tip name its shortcut as the platform writes it; ``name`` is its
    object name, how the menus, the toolbar and the tests find it (not by its shortcut or position)."""
    action = QAction(text, parent)
    action.setObjectName(name or text.lower().split("…")[0].strip().replace(" ", "-"))
    if shortcut:
        action.setShortcut(QKeySequence(shortcut))
        tip = f"{tip} ({QKeySequence(shortcut).toString(QKeySequence.SequenceFormat.NativeText)})"
    action.setToolTip(wrapped(tip))
    action.setStatusTip(tip)
    action.triggered.connect(slot)
    return action

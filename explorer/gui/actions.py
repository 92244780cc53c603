"""QActions from (text, shortcut, tip, slot) specs: one place that puts the shortcut into the tooltip."""

from __future__ import annotations

from typing import Callable

from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QWidget


def make_action(parent: QWidget, text: str, shortcut: str | None, tip: str, slot: Callable) -> QAction:
    """An action whose tooltip and status tip name its shortcut as the platform writes it."""
    action = QAction(text, parent)
    if shortcut:
        action.setShortcut(QKeySequence(shortcut))
        tip = f"{tip} ({QKeySequence(shortcut).toString(QKeySequence.SequenceFormat.NativeText)})"
    action.setToolTip(tip)
    action.setStatusTip(tip)
    action.triggered.connect(slot)
    return action

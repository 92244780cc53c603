"""Combo boxes whose entries carry the core's values as their data (a label for the person, a value for the core)."""

from __future__ import annotations

from PySide6.QtWidgets import QComboBox


def select_data(combo: QComboBox, value) -> bool:
    """Show the entry of ``combo`` whose data is ``value``; False (and nothing changed) when there is none."""
    index = combo.findData(value)
    if index >= 0:
        combo.setCurrentIndex(index)
    return index >= 0

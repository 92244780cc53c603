"""A number typed as text: nothing is clamped or reverted behind a person's back.

A QSpinBox silently turns 99,999,999 into its maximum and refuses a keystroke that leaves its range; here the
text stays as typed, and what is wrong with it (not a number, or outside what the core allows) is said by the
form next to the field, in the core's own words, and the field is outlined. The bounds live in the core
(``explorer.config.limits``), the parsing in the draft (``explorer.gui.training.draft``), not here.
"""

from __future__ import annotations

from PySide6.QtWidgets import QLineEdit, QWidget

from explorer.gui.widgets.theme import ERROR_LINE

INVALID_STYLE = f"QLineEdit {{ border: 2px solid {ERROR_LINE}; border-radius: 3px; padding: 1px 3px; }}"


class NumberField(QLineEdit):
    """The field of one option; its object name is the core's name of that option ("batch-size")."""

    def __init__(self, option: str, tip: str = "", parent: QWidget | None = None) -> None:
        super().__init__(parent, objectName=option)
        self.setToolTip(tip)
        self.setMaximumWidth(160)

    def set_number(self, text: str) -> None:
        if text != self.text():
            self.setText(text)

    def mark(self, problem: bool) -> None:
        self.setStyleSheet(INVALID_STYLE if problem else "")

"""A number typed as text: nothing is clamped or reverted behind a person's back.

A QSpinBox silently turns 99,999,999 into its maximum and refuses a keystroke that leaves its range; here the
text stays as typed, and what is wrong with it (not a number, or outside what the core allows) is said by the
form next to the field, in the core's own words. The bounds live in the core (``explorer.config.limits``), not here.
"""

from __future__ import annotations

from PySide6.QtWidgets import QLineEdit, QWidget

from explorer.config.errors import ConfigError
from explorer.gui.widgets.theme import ERROR_LINE

INVALID_STYLE = f"QLineEdit {{ border: 2px solid {ERROR_LINE}; border-radius: 3px; padding: 1px 3px; }}"


class NumberField(QLineEdit):
    """The field of one option (``option``: the core's name of it, "batch-size"); ``value()`` is the number typed
    (int or float), or raises ConfigError about that option."""

    def __init__(self, option: str, kind: type = int, tip: str = "", parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.option = option
        self.kind = kind
        self.setToolTip(tip)
        self.setMaximumWidth(160)

    def value(self) -> int | float:
        text = self.text().strip().replace(",", "").replace("_", "")
        if not text:
            raise ConfigError(self.option, "is empty; type a number")
        try:
            number = self.kind(text)
        except ValueError:
            if self.kind is int:
                try:
                    as_float = float(text)
                except ValueError:
                    as_float = None
                if as_float is not None and as_float.is_integer():
                    return int(as_float)  # "1e4" is a whole number too
                raise ConfigError(self.option, f"{text!r} is not a whole number") from None
            raise ConfigError(self.option, f"{text!r} is not a number") from None
        return number

    def set_value(self, value: int | float) -> None:
        text = f"{value:,}" if self.kind is int else f"{value:g}"
        if text != self.text():
            self.setText(text)

    def mark(self, problem: bool) -> None:
        self.setStyleSheet(INVALID_STYLE if problem else "")

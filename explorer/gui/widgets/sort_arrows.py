"""Sort arrows that say what the list does: pointing up over a column sorted ascending, down over one sorted
descending, as file managers draw them. Qt's header draws them the other way round (ascending as a down
arrow), so the Runs tab's Date, newest first, showed an arrow a person read as "ascending"."""

from __future__ import annotations

from PySide6.QtWidgets import QProxyStyle, QStyle, QStyleOptionHeader, QWidget


class SortArrows(QProxyStyle):
    def drawPrimitive(self, element, option, painter, widget=None) -> None:  # noqa: N802 (Qt)
        if element == QStyle.PrimitiveElement.PE_IndicatorHeaderArrow and isinstance(option, QStyleOptionHeader):
            flipped = QStyleOptionHeader(option)
            up, down = QStyleOptionHeader.SortIndicator.SortUp, QStyleOptionHeader.SortIndicator.SortDown
            flipped.sortIndicator = {up: down, down: up}.get(option.sortIndicator, option.sortIndicator)
            option = flipped
        super().drawPrimitive(element, option, painter, widget)


def sort_arrows_as_they_read(header: QWidget) -> None:
    style = SortArrows(header.style().name())
    style.setParent(header)  # a widget does not own its style: this one lives as long as the header
    header.setStyle(style)

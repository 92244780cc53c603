"""Answering the app's real dialogs as a person does: the next modal box that opens gets its button clicked."""

from __future__ import annotations

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QAbstractButton, QApplication, QMessageBox


def answer_next_dialog(button_text: str, seen: list | None = None, timeout_ms: int = 10_000):
    """When a QMessageBox with a button whose text contains ``button_text`` opens, click it (after recording the
    box's text in ``seen``). Works for boxes opened with exec() (the click happens inside their loop); several
    answers may wait at once, each for its own box. Returns ``stop()``, which ends the wait (for a test that
    checks that no box opened)."""
    waited = [0]

    def stop() -> None:
        waited[0] = timeout_ms

    def poll() -> None:
        box = QApplication.activeModalWidget()
        if isinstance(box, QMessageBox) and box.isVisible():
            for button in box.findChildren(QAbstractButton):
                if button_text.lower() in button.text().replace("&", "").lower():
                    if seen is not None:
                        seen.append(f"{box.text()} {box.informativeText()}".strip())
                    button.click()
                    return
            # Not this box's button: another answer is waiting for it; this one waits for the next box.
        waited[0] += 20
        if waited[0] < timeout_ms:
            QTimer.singleShot(20, poll)

    QTimer.singleShot(0, poll)
    return stop

"""Answering the app's real dialogs as a person does: the next modal box that opens gets its button clicked."""

from __future__ import annotations

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QAbstractButton, QApplication, QDialog, QMessageBox

_WAITING: set = set()  # the answers waiting for their box


def answer_next_dialog(button_text: str, seen: list | None = None, timeout_ms: int = 10_000):
    """When a QMessageBox with a button whose text contains ``button_text`` opens, click it (after recording the
    box's text in ``seen``). Works for boxes opened with exec() (the click happens inside their loop); several
    answers may wait at once, each for its own box. Returns ``stop()``, which ends the wait at once (for a test
    that checks that no box opened)."""
    timer = QTimer()
    timer.setInterval(20)
    waited = [0]
    _WAITING.add(timer)  # alive until it has answered or given up, whether or not the caller keeps stop()

    def stop() -> None:
        timer.stop()
        _WAITING.discard(timer)

    def poll() -> None:
        box = QApplication.activeModalWidget()
        if isinstance(box, QMessageBox) and box.isVisible():
            for button in box.findChildren(QAbstractButton):
                if button_text.lower() in button.text().replace("&", "").lower():
                    if seen is not None:
                        seen.append(f"{box.text()} {box.informativeText()}".strip())
                    stop()
                    button.click()
                    return
            # Not this box's button: another answer is waiting for it; this one waits for the next box.
        waited[0] += timer.interval()
        if waited[0] >= timeout_ms:
            stop()

    timer.timeout.connect(poll)
    timer.start()
    return stop


def dismiss_dialogs(timeout_ms: int = 5_000):
    """Close (as Escape does) every modal dialog that opens in the next ``timeout_ms``: a test that failed half-way
    may leave a question open, and the window's teardown must not wait on it for ever."""
    timer = QTimer()
    timer.setInterval(50)
    waited = [0]
    _WAITING.add(timer)

    def poll() -> None:
        box = QApplication.activeModalWidget()
        if isinstance(box, QDialog) and box.isVisible():
            box.reject()
        waited[0] += timer.interval()
        if waited[0] >= timeout_ms:
            timer.stop()
            _WAITING.discard(timer)

    timer.timeout.connect(poll)
    timer.start()

"""The Qt binding the app runs on must not leak references to Python singletons (PySide6 6.12.0 does, once per
signal emit, and the app aborts with "bool_dealloc"/"none_dealloc" after a minute of live curves on Python 3.11)."""

from __future__ import annotations

import sys

from PySide6.QtCore import QObject, Signal


class _Emitter(QObject):
    fired = Signal()
    value = Signal(object)


def test_signal_emit_keeps_singleton_refcounts(qapp):
    emitter = _Emitter()
    emitter.fired.connect(lambda: None)
    emitter.value.connect(lambda v: None)
    before = sys.getrefcount(True), sys.getrefcount(None)
    for _ in range(500):
        emitter.fired.emit()
        emitter.value.emit(None)
    after = sys.getrefcount(True), sys.getrefcount(None)
    # Other code may take or drop a few references meanwhile; a leak per emit shows as hundreds.
    assert abs(after[0] - before[0]) < 50 and abs(after[1] - before[1]) < 50

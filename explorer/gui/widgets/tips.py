"""Tooltips a person can read: Qt shows plain text on one line however long it is (1,200 px across the screen),
but word-wraps rich text, so every tooltip of the app goes through :func:`tip`."""

from __future__ import annotations

import html


def tip(text: str) -> str:
    """``text`` as a tooltip that wraps at a readable width."""
    if not text:
        return ""
    paragraphs = "".join(f"<p>{html.escape(p)}</p>" for p in text.split("\n\n"))
    return f"<div style='max-width: 420px'>{paragraphs}</div>"

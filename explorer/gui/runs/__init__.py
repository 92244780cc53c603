"""The Runs tab: every run folder, to open, overlay, resume, stop, reveal or delete."""

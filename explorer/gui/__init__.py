"""The desktop app (PySide6 + pyqtgraph): the only package that imports Qt. Start it with ``run_app``."""

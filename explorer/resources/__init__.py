"""Data files shipped with the app (installed as ``explorer.resources``): the paper's figures, icons, style."""

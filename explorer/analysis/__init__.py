"""Why residual learning works, computed on a run's own networks (Qt-free): layer responses (``responses``),
lesions (``lesion``), loss landscapes (``landscape``) from its checkpoints, gradient flow from its events
(``gradients``); ``analyze`` runs one of them on every network of a run and writes ``RUN_DIR/analysis/``."""

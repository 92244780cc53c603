"""Why residual learning works, computed on a run's own networks (Qt-free): layer responses (``responses``),
lesions (``lesion``), loss landscapes (``landscape``) from its checkpoints, gradient flow from its events
(``gradients``); ``command`` runs one of them as ``resnet-explorer analyze`` and writes ``RUN_DIR/analysis/``."""

"""The configuration of a network and of a run, as pure data (no torch, no disk, no Qt): ``model`` (ModelConfig and the
paper's Table 1 rules in words), ``run`` (DataConfig, TrainConfig, RunConfig), ``recipes``, ``limits`` (the bound of
every number a person types), ``errors`` (ConfigError, naming the option) and ``paper`` (the paper's own figures)."""

"""The run folder format, one owner of each part of it (no torch, no Qt): ``folder`` (RunDir and its lock), ``state``
(how a run stands), ``events`` (the event vocabulary of metrics.jsonl), ``checkpoints`` (checkpoint sets), ``listing``
(the runs list), ``series`` and ``seed_stats`` (curves and their statistics), ``metrics_csv`` (the CSV export)."""

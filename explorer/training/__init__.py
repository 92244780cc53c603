"""Training: several networks on identical batches (trainer), the learning-rate schedule, the device and
number format, the events a run writes, and one trainer process from start to end (session).

Import the submodules; this package itself stays free of torch so the CLI can start quickly."""

"""The command line, the only place argparse lives: ``main`` (the parser, exit codes, one sentence per failure),
``options`` (flags -> configs) and one module per command."""

"""``resnet-explorer export RUN_DIR --csv FILE``: a run's metrics as the app's CSV (Training tab, Export), from a
shell. The rows are :mod:`explorer.runs.metrics_csv`'s, the one owner of the format, read from the run folder and
written with the project's atomic writer: FILE holds its old bytes or the whole new table, never a part."""

from __future__ import annotations

import argparse

from explorer.cli.options import output_file
from explorer.runs.folder import RunDir, os_reason
from explorer.runs.metrics_csv import CSV_COLUMNS, write_metrics_csv
from explorer.system.exits import Failed


def add_parser(sub) -> None:
    export = sub.add_parser("export", help="write a run's metrics as CSV (what the app's Export writes)",
                            description="Write every training and test point of a run's networks as CSV, one row "
                            f"each ({', '.join(CSV_COLUMNS)}); a run of several seeds also gets rows of their mean "
                            "and std. Live runs can be exported: the rows are those written so far.")
    export.add_argument("run_dir", metavar="RUN_DIR", help="the run folder (see resnet-explorer runs)")
    export.add_argument("--csv", required=True, metavar="FILE", help="where to write the table, e.g. run.csv")
    export.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    run_dir = RunDir.open(args.run_dir)
    output = output_file(args.csv)
    run_dir.config()  # a run whose settings cannot be read is refused in its own sentence, before writing
    try:
        rows = write_metrics_csv([run_dir.path], output)
    except OSError as exc:
        raise Failed(f"cannot write {output}: {os_reason(exc)}; choose another file") from None
    print(f"wrote {rows} rows of {run_dir.path.name} to {output}")
    return 0

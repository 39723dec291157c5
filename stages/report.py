"""report stage (docs/formats.md): ``python stages/report.py --input_path ... --metrics_path metrics/report.json``."""

import pathlib
import sys

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))

from proginstruct.cli.report import command  # noqa: E402

if __name__ == "__main__":
    command()

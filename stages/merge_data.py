"""merge stage (docs/formats.md): ``python stages/merge_data.py OUT IN1 IN2 ... [--also_write X.parquet]``."""

import pathlib
import sys

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))

from proginstruct.cli.merge import command  # noqa: E402

if __name__ == "__main__":
    command()

"""Stage script kept for the user's seed commands: ``python stages/data_collection.py --data_type commit ...``."""

import pathlib
import sys

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))

from proginstruct.cli.collect import command  # noqa: E402

if __name__ == "__main__":
    command()

"""post_collection stage (SPEC 7): ``python stages/post_collection.py --input_path ... --output_path ...``."""

import pathlib
import sys

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))

from proginstruct.cli.area import command  # noqa: E402

if __name__ == "__main__":
    command()

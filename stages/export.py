"""export stage (SPEC 8, docs/formats.md): ``python stages/export.py --input_path ... --output_dir data/export``."""

import pathlib
import sys

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))

from proginstruct.cli.export import command  # noqa: E402

if __name__ == "__main__":
    command()

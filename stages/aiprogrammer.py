"""Stage script kept for the user's seed command:
``python stages/aiprogrammer.py --model_map ... --input_path ... --output_path ...``."""

import pathlib
import sys

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))

from proginstruct.cli.aiprogrammer import command  # noqa: E402

if __name__ == "__main__":
    command()

"""quality stage (docs/quality.md): ``python stages/quality_filter.py --input_path IN --output_path OUT
--metrics_path M``."""

import pathlib
import sys

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))

from proginstruct.cli.quality import command  # noqa: E402

if __name__ == "__main__":
    command()

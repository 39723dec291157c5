import pathlib
import sys

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))
from proginstruct.cli.prepare_submit import command  # noqa: E402

command()

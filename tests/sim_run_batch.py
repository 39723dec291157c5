"""A stand-in for ``vllm run-batch`` in the tests: answers a batch input file with the simulated model.

``python tests/sim_run_batch.py -i INPUT -o OUTPUT --model NAME [--exit CODE]``: writes one output line
per input line (the Batch API's format, shuffled), as the online simulator answers each body; with
``--exit`` it prints a message and exits with that status instead, writing nothing.
"""

from __future__ import annotations

import argparse
import sys

from proginstruct.simulator.batches import answer_file


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("-i", "--input", required=True)
    ap.add_argument("-o", "--output", required=True)
    ap.add_argument("--model", required=True)
    ap.add_argument("--exit", type=int, default=0)
    args = ap.parse_args()
    if args.exit:
        print(f"simulated failure of the batch command for {args.model}", file=sys.stderr)
        return args.exit
    n = answer_file(args.input, args.output)
    print(f"answered {n} lines for {args.model}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

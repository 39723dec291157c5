"""``proginstruct simulate``: serve the simulated model on loopback, with optional injected faults.

For trying the recipe against a real socket (load, retries, timeouts) without a GPU. The default recipe
does not need it: ``"base": "simulator"`` in model_map.json answers in-process. Options come from the
``simulate`` section of params.yaml, overridden by flags; see :mod:`proginstruct.simulator.server`.
"""

from __future__ import annotations

import asyncio
import json
import sys

import click

from ..errors import UserError
from ..simulator.protocol import SIMULATOR_MODEL
from ..simulator.server import is_loopback, serve
from .common import load_params, param_options, params_option, resolve, user_errors

DEFAULTS = {
    "host": "127.0.0.1",
    "port": 8000,
    "latency": 0.0,  # seconds slept per request
    "fail_500": 0.0,  # share of requests answered with HTTP 500
    "fail_429": 0.0,  # share answered with HTTP 429 + Retry-After
    "retry_after": "0",  # Retry-After header value (seconds) sent with a 429
    "fail_timeout": 0.0,  # share that hang for timeout_sleep seconds before answering
    "timeout_sleep": 30.0,
    "malformed": 0.0,  # share answered 200 with a reply that breaks the role's protocol
    "fault_seed": 0,
    "batch_api": True,  # serve the Files and Batches endpoints (false: 404, a server without the Batch API)
    "batch_delay": 0.0,  # seconds from a batch job's creation to its completion
    "batch_fail_lines": 0.0,  # share of batch lines answered 500 in the job's error file
}


@click.command()
@params_option
@param_options(DEFAULTS)
@user_errors
def command(params_path: str, **flags: object) -> None:
    """Serve the deterministic simulated model (OpenAI API) on a loopback address until interrupted."""
    p = resolve(DEFAULTS, load_params(params_path, "simulate"), flags, "simulate")
    host = str(p.pop("host"))
    if not is_loopback(host):
        raise UserError(f"--host {host}: the simulator serves on loopback only; use 127.0.0.1, ::1 or localhost")
    port = int(p.pop("port"))

    def announce(url: str) -> None:
        entry = json.dumps({SIMULATOR_MODEL: {"base": url, "api": "sim"}})
        click.echo(f"simulated model listening on {url} (stats: {url[:-3]}/stats); Ctrl-C stops it")
        click.echo(f"model_map.json: {entry}")
        sys.stdout.flush()

    try:
        asyncio.run(serve(host, port, on_start=announce, **p))
    except ValueError as err:
        raise UserError(f"simulate: {err}; fix the flag or the 'simulate' section of {params_path}") from None
    except OSError as err:
        raise UserError(f"simulate: cannot listen on {host}:{port} ({err.strerror or err}); "
                        "pick another --port") from None
    except KeyboardInterrupt:
        click.echo("stopped", err=True)

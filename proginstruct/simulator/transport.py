"""The simulated model in-process: the one interface the model layer uses to reach it.

A model map entry with ``"base": "simulator"`` is answered without a socket: the engine
(:mod:`proginstruct.llm.engine`) gives the official ``openai`` client the ``AsyncClient`` of
:func:`simulator_http_client`, whose transport hands each request to
:func:`proginstruct.simulator.api.handle_request`, or, for the Files and Batches endpoints of batch mode,
to the process's one :data:`BATCHES` service (jobs complete at their first poll, no faults; the loopback
server has the configurable one). Nothing here knows about the engine.
"""

from __future__ import annotations

import orjson

from .api import handle_request
from .batches import BatchService

try:  # the installed openai client is built on httpx2 (httpx's successor); plain httpx works the same way
    import httpx2 as httpx
except ImportError:  # pragma: no cover - depends on the openai version installed
    import httpx  # type: ignore[no-redef]


BATCHES = BatchService()  # the in-process simulator's files and batch jobs (shared by every client of the process)


async def _mock_handler(request: httpx.Request) -> httpx.Response:
    body = await request.aread()
    path = request.url.path
    if "/files" in path or "/batches" in path:
        status, content, ctype = BATCHES.handle(request.method, path, request.headers.get("content-type", ""), body)
        return httpx.Response(status, content=content, headers={"content-type": ctype})
    status, payload = handle_request(request.method, path, body)
    return httpx.Response(status, content=orjson.dumps(payload), headers={"content-type": "application/json"})


def simulator_http_client() -> httpx.AsyncClient:
    """An ``AsyncClient`` answering the OpenAI API in-process (``MockTransport``, no socket), for
    ``openai.AsyncOpenAI(base_url="http://simulator.invalid/v1", api_key="sim", http_client=...)``.
    The client is from ``httpx2`` when installed (what current ``openai`` releases use), else ``httpx``."""
    return httpx.AsyncClient(transport=httpx.MockTransport(_mock_handler))

"""The simulated model in-process: the one interface the model layer uses to reach it.

A model map entry with ``"base": "simulator"`` is answered without a socket: the engine
(:mod:`proginstruct.llm.engine`) gives the official ``openai`` client the ``AsyncClient`` of
:func:`simulator_http_client`, whose transport hands each request to
:func:`proginstruct.simulator.api.handle_request`. Nothing here knows about the engine.
"""

from __future__ import annotations

import orjson

from .api import handle_request

try:  # the installed openai client is built on httpx2 (httpx's successor); plain httpx works the same way
    import httpx2 as httpx
except ImportError:  # pragma: no cover - depends on the openai version installed
    import httpx  # type: ignore[no-redef]


async def _mock_handler(request: httpx.Request) -> httpx.Response:
    status, payload = handle_request(request.method, request.url.path, request.content)
    return httpx.Response(status, content=orjson.dumps(payload), headers={"content-type": "application/json"})


def simulator_http_client() -> httpx.AsyncClient:
    """An ``AsyncClient`` answering the OpenAI API in-process (``MockTransport``, no socket), for
    ``openai.AsyncOpenAI(base_url="http://simulator.invalid/v1", api_key="sim", http_client=...)``.
    The client is from ``httpx2`` when installed (what current ``openai`` releases use), else ``httpx``."""
    return httpx.AsyncClient(transport=httpx.MockTransport(_mock_handler))

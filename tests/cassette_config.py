"""What the cassette tests share (pytest-recording / vcrpy): the headers kept out of a cassette, how a request
is matched, and the address a replayed test is given for its server."""

from __future__ import annotations

from collections.abc import Callable

# authorization and the openai client's platform headers: never written to a cassette
PLATFORM_HEADERS = ["authorization", "user-agent", "x-stainless-os", "x-stainless-arch", "x-stainless-lang",
                    "x-stainless-runtime", "x-stainless-runtime-version", "x-stainless-package-version",
                    "x-stainless-async", "x-stainless-retry-count", "x-stainless-read-timeout",
                    "x-stainless-timeout"]
# the base URL of a replayed test (``record_mode`` "none"): never contacted, no socket is opened
REPLAY_BASE = "http://127.0.0.1:9/v1"


def vcr_settings(before_record_response: Callable[[dict], dict]) -> dict:
    """A module's ``vcr_config``: platform headers filtered out, requests matched on method, path and body
    (not host or port), responses decoded and passed through ``before_record_response`` when recorded."""
    return {"filter_headers": PLATFORM_HEADERS, "match_on": ["method", "path", "body"],
            "before_record_response": before_record_response, "decode_compressed_response": True}

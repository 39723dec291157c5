"""The chat role (SPEC 5, SPEC 6 step 5): the assistant's short message about its edit current -> next.
It sees the record and, when present, the user's instruction; the change may be empty ("I left the code
as it is").

Reply protocol (fixed): the reply starts with ``**chat:**`` and the message follows.
"""

from __future__ import annotations

from typing import Any

from .base import Verdict
from .grammars import marker_grammar
from .markers import FewShotRole, marked_text, record_view
from .render import ChangeQuery, render_change

MARKER = "**chat:**"


def parse_chat_reply(reply: str) -> Verdict:
    """Parse a chat reply (SPEC 5).

    Accepts with the stripped message after the marker. Rejects with ``empty`` / ``refusal`` (whole reply
    or text after the marker, see ``common_rejection``) and ``no_marker`` (the reply does not start with
    ``**chat:**``, any case, leading whitespace allowed).
    """
    return marked_text(reply, "chat")


class ChatRole(FewShotRole):
    """The chat role: ``messages(ChangeQuery)`` and ``check(ChangeQuery, reply) -> Verdict`` whose value is
    the message text (``str``)."""

    name = "chat"

    def parse_query(self, d: dict[str, Any]) -> ChangeQuery:
        """Example query dict -> :class:`ChangeQuery` (``change``: unified diff current -> next, or
        ``""`` for no change)."""
        return ChangeQuery(record_view(d), d["change"])

    def render(self, query: ChangeQuery) -> str:
        """The query text (see :func:`~proginstruct.roles.render.render_change`)."""
        return render_change(query)

    def check(self, query: ChangeQuery, reply: str) -> Verdict:
        """Validate ``reply``; see :func:`parse_chat_reply` (the query does not affect the rules)."""
        return parse_chat_reply(reply)

    def grammar(self, query: ChangeQuery) -> str:
        """The GBNF grammar of replies for grammar-guided decoding: the marker, then one line of text
        (:func:`~proginstruct.roles.grammars.marker_grammar`; the query does not change it)."""
        return marker_grammar(MARKER)

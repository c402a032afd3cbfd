"""Everything the inspector shows for one node, read and decoded on a worker thread."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from app.store import queries
from app.store.records import NodeSummary
from app.ui.json_payload import ABSENT, PreparedJson, prepare_json
from app.ui.llm_view import Message, conversation, response_messages
from app.ui.plain_text import multi_line

STACK_CHARS = 200_000  # shown; "Copy error" copies all of it


@dataclass(frozen=True)
class PreparedNode:
    node_pk: int
    input: PreparedJson = ABSENT
    output: PreparedJson = ABSENT
    error_stack: str | None = None
    stack_shown: str = ""
    has_llm: bool = False
    prompt: list[Message] = field(default_factory=list)
    response: list[Message] = field(default_factory=list)


def _decoded(text: str | None) -> Any:
    if text is None:
        return None
    try:
        return json.loads(text)
    except ValueError:
        return text


def load_node(node: NodeSummary) -> PreparedNode:
    """Read a node's payload and make it ready to show; runs on a worker thread."""
    payload = queries.get_node_payload(node.pk)
    if payload is None:
        return PreparedNode(node.pk)
    has_llm = (
        node.llm_model is not None
        or payload.llm_prompt_json is not None
        or payload.llm_response_json is not None
        or node.total_tokens is not None
    )
    return PreparedNode(
        node_pk=node.pk,
        input=prepare_json(payload.input_json),
        output=prepare_json(payload.output_json),
        error_stack=payload.error_stack,
        stack_shown=multi_line(payload.error_stack, STACK_CHARS),
        has_llm=has_llm,
        prompt=conversation(_decoded(payload.llm_prompt_json)),
        response=response_messages(_decoded(payload.llm_response_json)),
    )

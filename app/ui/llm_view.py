"""An LLM call read as a conversation: who said what, then the answer, then the numbers.

Prompts arrive in many shapes (a string; OpenAI-style messages whose content is text or a
list of parts; Anthropic-style `{"system", "messages"}`); responses too (a string, a
chat completion, a content-block message). `conversation` and `response_messages` flatten
them to (role, text) pairs; anything unrecognised is shown as JSON rather than hidden.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtGui import QFont, QTextCharFormat, QTextCursor
from PySide6.QtWidgets import QLabel, QPlainTextEdit, QVBoxLayout, QWidget

from app.store.records import NodeSummary
from app.ui.plain_text import multi_line, one_line

MESSAGE_CHARS = 100_000  # per message shown; the raw payload keeps everything


@dataclass(frozen=True)
class Message:
    role: str
    text: str


def _as_json(value: Any) -> str:
    return json.dumps(value, indent=2, ensure_ascii=False)


def content_text(content: Any) -> str:
    """Message content as text: text parts joined, other parts (images, tools) as JSON."""
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        parts = []
        for part in content:
            if isinstance(part, dict) and isinstance(part.get("text"), str):
                parts.append(part["text"])
            elif isinstance(part, str):
                parts.append(part)
            else:
                parts.append(_as_json(part))
        return "\n".join(parts)
    return _as_json(content)


def _message(item: Any, default_role: str) -> Message:
    if isinstance(item, dict) and ("content" in item or "role" in item):
        text = content_text(item.get("content"))
        if item.get("tool_calls"):
            text = (text + "\n" if text else "") + _as_json(item["tool_calls"])
        return Message(str(item.get("role") or default_role), text)
    return Message(default_role, content_text(item))


def conversation(prompt: Any) -> list[Message]:
    if prompt is None:
        return []
    if isinstance(prompt, str):
        return [Message("prompt", prompt)]
    if isinstance(prompt, list):
        return [_message(item, "message") for item in prompt]
    if isinstance(prompt, dict) and isinstance(prompt.get("messages"), list):
        system = prompt.get("system")
        head = [Message("system", content_text(system))] if system else []
        return head + conversation(prompt["messages"])
    return [Message("prompt", _as_json(prompt))]


def response_messages(response: Any) -> list[Message]:
    if response is None:
        return []
    if isinstance(response, str):
        return [Message("response", response)]
    if isinstance(response, dict):
        choices = response.get("choices")
        if isinstance(choices, list) and choices:
            out = []
            for choice in choices:
                if isinstance(choice, dict) and isinstance(choice.get("message"), dict):
                    out.append(_message(choice["message"], "assistant"))
                elif isinstance(choice, dict) and "text" in choice:
                    out.append(Message("assistant", content_text(choice["text"])))
                else:
                    out.append(Message("assistant", _as_json(choice)))
            return out
        if "content" in response or "role" in response:
            return [_message(response, "assistant")]
        if isinstance(response.get("message"), dict):
            return [_message(response["message"], "assistant")]
        for key in ("text", "output_text", "output"):
            if isinstance(response.get(key), str):
                return [Message("assistant", response[key])]
    return [Message("response", _as_json(response))]


def call_summary(node: NodeSummary) -> str:
    parts = [f"Model: {one_line(node.llm_model, 80) or 'not reported'}"]
    if node.prompt_tokens is not None or node.completion_tokens is not None:
        parts.append(
            f"tokens: {node.prompt_tokens or 0:,} prompt + {node.completion_tokens or 0:,} "
            f"completion = {node.total_tokens or 0:,}"
        )
    elif node.total_tokens is not None:
        parts.append(f"tokens: {node.total_tokens:,}")
    if node.cost_usd is not None:
        parts.append(f"cost: ${node.cost_usd:.4f}")
    parts.append(f"finish reason: {one_line(node.finish_reason, 40) or '—'}")
    return "  ·  ".join(parts)


class LlmView(QWidget):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.summary = QLabel()
        self.summary.setTextFormat(Qt.TextFormat.PlainText)
        self.summary.setWordWrap(True)
        self.transcript = QPlainTextEdit()
        self.transcript.setReadOnly(True)
        self.transcript.setPlaceholderText("No prompt or response was reported.")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.summary)
        layout.addWidget(self.transcript, 1)

    def clear(self) -> None:
        self.summary.setText("")
        self.transcript.clear()

    def show_call(self, node: NodeSummary, prompt: list[Message], response: list[Message]) -> None:
        self.summary.setText(call_summary(node))
        self.transcript.clear()
        cursor = QTextCursor(self.transcript.document())
        role_format = QTextCharFormat()
        role_format.setFontWeight(QFont.Weight.Bold)
        body_format = QTextCharFormat()

        def write(message: Message) -> None:
            # insertText never interprets markup: report text stays literal.
            cursor.insertText(one_line(message.role, 40).upper() + "\n", role_format)
            cursor.insertText(multi_line(message.text, MESSAGE_CHARS) or "(empty)", body_format)

        for position, message in enumerate(prompt):
            if position:
                cursor.insertText("\n\n", body_format)
            write(message)
        if response:
            if prompt:
                cursor.insertText("\n\n", body_format)
            cursor.insertText("── Response ──\n", role_format)
            for position, message in enumerate(response):
                if position:
                    cursor.insertText("\n\n", body_format)
                write(message)
        self.transcript.moveCursor(QTextCursor.MoveOperation.Start)

"""Query results as plain rows. peewee's stubs type `.dicts()` and `.tuples()` iteration as
model instances; these two say what the rows really are, in one place."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, cast


def dict_rows(query: Any) -> Iterable[dict[str, Any]]:
    return cast(Iterable[dict[str, Any]], query.dicts())


def tuple_rows(query: Any) -> Iterable[tuple[Any, ...]]:
    return cast(Iterable[tuple[Any, ...]], query.tuples())

"""Hypothesis strategies for request bodies, drawn from the receiver's own OpenAPI schemas.

hypothesis-jsonschema would do this, but its last release (0.23.1) fails against current
hypothesis ('many' object has no attribute 'more'), so this covers the subset of JSON Schema
that pydantic emits for the report models: $ref, anyOf, enum, type, properties/required,
items with min/max, string lengths, integer minimum, date-time and the empty schema (any).
Values stay inside the schema but reach its edges: unbounded integers, extreme dates.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from hypothesis import strategies as st

JsonSchema = dict[str, Any]

_SCALARS = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=30)
)
# Any JSON value: what Any-typed fields (input, output, trigger data, metadata) accept.
json_values: st.SearchStrategy[Any] = st.recursive(
    _SCALARS,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4)
    ),
    max_leaves=20,
)

_OFFSETS = st.integers(min_value=-(24 * 60 - 1), max_value=24 * 60 - 1).map(
    lambda minutes: timezone(timedelta(minutes=minutes))
)


@st.composite
def _date_times(draw: st.DrawFn) -> str:
    """ISO-8601 text across the whole datetime range, with offsets and naive ones, so the
    year-1 and year-9999 edges (which overflow once converted to UTC) come up."""
    moment = draw(
        st.datetimes(
            min_value=datetime(1, 1, 1),
            max_value=datetime(9999, 12, 31, 23, 59, 59),
            timezones=st.none() | st.just(UTC) | _OFFSETS,
        )
    )
    return moment.isoformat()


def from_schema(schema: JsonSchema, components: dict[str, JsonSchema]) -> st.SearchStrategy[Any]:
    """Values valid under `schema` (refs resolve into `components`)."""
    if "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[1]
        return st.deferred(lambda: from_schema(components[name], components))
    if "anyOf" in schema:
        return st.one_of([from_schema(option, components) for option in schema["anyOf"]])
    if "enum" in schema:
        return st.sampled_from(schema["enum"])
    kind = schema.get("type")
    if kind is None:
        return json_values
    if kind == "null":
        return st.none()
    if kind == "boolean":
        return st.booleans()
    if kind == "integer":
        return st.integers(min_value=schema.get("minimum"), max_value=schema.get("maximum"))
    if kind == "number":
        return st.floats(
            min_value=schema.get("minimum"), allow_nan=False, allow_infinity=False
        ) | st.integers(min_value=schema.get("minimum"))
    if kind == "string":
        if schema.get("format") == "date-time":
            return _date_times()
        return st.text(
            min_size=schema.get("minLength", 0), max_size=min(schema.get("maxLength", 40), 40)
        )
    if kind == "array":
        return st.lists(
            from_schema(schema.get("items", {}), components),
            min_size=schema.get("minItems", 0),
            max_size=min(schema.get("maxItems", 3), 3),
        )
    if kind == "object":
        return _objects(schema, components)
    raise ValueError(f"schema type {kind!r} is not covered")


def _objects(schema: JsonSchema, components: dict[str, JsonSchema]) -> st.SearchStrategy[Any]:
    properties = schema.get("properties", {})
    if not properties:
        values = schema.get("additionalProperties", {})
        value_strategy = json_values if values in ({}, True) else from_schema(values, components)
        return st.dictionaries(st.text(max_size=20), value_strategy, max_size=3)
    required = set(schema.get("required", ()))
    return st.fixed_dictionaries(
        {
            name: from_schema(sub, components)
            for name, sub in properties.items()
            if name in required
        },
        optional={
            name: from_schema(sub, components)
            for name, sub in properties.items()
            if name not in required
        },
    )


def json_paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every path (keys and indexes) into a JSON value, for mutating one place at a time."""
    found = [prefix] if prefix else []
    if isinstance(value, dict):
        for key, child in value.items():
            found += json_paths(child, (*prefix, key))
    elif isinstance(value, list):
        for index, child in enumerate(value):
            found += json_paths(child, (*prefix, index))
    return found


def replaced_at(value: Any, path: tuple[Any, ...], new: Any) -> Any:
    """A copy of `value` with the value at `path` replaced by `new`."""
    if not path:
        return new
    copy = list(value) if isinstance(value, list) else dict(value)
    copy[path[0]] = replaced_at(value[path[0]], path[1:], new)
    return copy

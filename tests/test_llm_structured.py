"""Structured replies: extract_json, extract_block, validate_json and LLMClient.chat_json."""

import json
import time

import pytest
from hypothesis import given, settings, strategies as st

from tabsift.llm import (
    LLMResponseError,
    SchemaValidationError,
    extract_block,
    extract_json,
    validate_json,
)
from tabsift.llm.testing import LocalLLMServer, ScriptedResponder


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch):
    for name in ("OPENAI_API_KEY", "OPENAI_BASE_URL"):
        monkeypatch.delenv(name, raising=False)


# --------------------------------------------------------------------------- extract_json
@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('{"a": 1}', {"a": 1}),
        ("[1, 2, 3]", [1, 2, 3]),
        ('Sure! Here it is:\n{"a": [1, {"b": null}]}\nAnything else?', {"a": [1, {"b": None}]}),
        ('```json\n{"a": 1}\n```', {"a": 1}),
        ('```JSON\n{"a": 1}\n```', {"a": 1}),
        ('Text {"not": "this"} then\n```json\n{"a": 1}\n```', {"a": 1}),  # fenced wins
        ('```\n{"a": 2}\n```', {"a": 2}),
        ('```python\nx = {"py": 1}\n```\n{"a": 3}', {"a": 3}),
        ('{"s": "a } and a ] and a { in a string"}', {"s": "a } and a ] and a { in a string"}),
        ('{"s": "escaped \\" quote }"}', {"s": 'escaped " quote }'}),
        ('I\'d say {"a": 1} and {"b": 2}', {"b": 2}),  # the last one: models draft first
        ('Use [brackets] like {this}, then {"a": 1}', {"a": 1}),
        ('He said "hi. {"a": 1}', {"a": 1}),  # an unmatched quote in the prose
        ('{he said "hi} then {"a": 1}', {"a": 1}),  # a quote that fools the scan
        ('oops ] } {"a": 1}', {"a": 1}),
        ('{"unicode": "h\\u00e9 \u2603"}', {"unicode": "hé \u2603"}),
        ('[["nested"], {"deep": [[[]]]}]', [["nested"], {"deep": [[[]]]}]),
        ('{"a": 1}}}}', {"a": 1}),
    ],
)
def test_extract_json_finds_the_value(text, expected):
    assert extract_json(text) == expected


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("no json at all", "no JSON object or array found"),
        ("the answer is 42", "no JSON object or array found"),
        ("{'single': 'quotes'}", "does not parse"),
        ('{"a": 1,}', "does not parse"),
        ('{"a": NaN}', "does not parse"),
        ('```json\n{"a": {"b": 1},}\n```', "the ```json block in the reply is not valid JSON"),
        ("", "no JSON object"),
    ],
)
def test_extract_json_errors(text, match):
    with pytest.raises(LLMResponseError, match=match) as info:
        extract_json(text)
    assert info.value.text == text


def test_extract_json_rejects_non_strings():
    with pytest.raises(TypeError, match="text must be a str"):
        extract_json(b'{"a": 1}')


@pytest.mark.parametrize(
    "hostile",
    [
        "{" * 100_000,
        "[" * 100_000 + "]" * 100_000,
        "[1," * 30_000,
        '{"a":' * 30_000 + "1" + "}" * 30_000,
        "{x" * 30_000 + "}" * 30_000,
        '"' * 100_000 + "{",
        "}{" * 50_000,
    ],
)
def test_extract_json_hostile_text_is_fast(hostile):
    start = time.perf_counter()
    try:
        value = extract_json(hostile)
    except LLMResponseError as err:
        assert len(str(err)) < 1000  # the message quotes only a preview
    else:
        assert isinstance(value, (dict, list))
    assert time.perf_counter() - start < 3.0


_json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(), children, max_size=4),
    max_leaves=15,
)


@settings(max_examples=40, deadline=None)
@given(
    value=st.dictionaries(st.text(), _json_values, max_size=5) | st.lists(_json_values, max_size=5),
    before=st.text(alphabet=st.characters(blacklist_characters="{["), max_size=40),
    # extract_json takes the LAST JSON value, so the prose after it holds no bracket either.
    after=st.text(alphabet=st.characters(blacklist_characters="{["), max_size=40),
)
def test_extract_json_round_trips_in_prose(value, before, after):
    text = f"{before}{json.dumps(value, ensure_ascii=False)}{after}"
    assert extract_json(text) == value


# --------------------------------------------------------------------------- extract_block
def test_extract_block_variants():
    text = "Intro\n```python\nprint(1)\n```\nthen\n~~~tree\nage <= 30\n  yes: 1\n~~~\n"
    assert extract_block(text) == "age <= 30\n  yes: 1"  # the last block: models draft first
    assert extract_block(text, "tree") == "age <= 30\n  yes: 1"
    assert extract_block(text, "PYTHON") == "print(1)"
    assert extract_block("````md\n```inner```\n````", "md") == "```inner```"
    assert extract_block("```formula\ny = 2 * x", "formula") == "y = 2 * x"  # cut off by max_tokens
    assert extract_block("```json {\"a\": 1}```", "json") == '{"a": 1}'
    assert extract_block("```\n\n```") == ""
    assert extract_block("  ```sql\n  SELECT 1\n  ```", "sql") == "  SELECT 1"


def test_extract_block_errors():
    with pytest.raises(LLMResponseError, match="no ``` code block found"):
        extract_block("plain text")
    with pytest.raises(LLMResponseError, match="no ```tree code block.*labelled: python, \\(no language\\)"):
        extract_block("```python\nx\n```\n```\ny\n```", "tree")
    with pytest.raises(TypeError):
        extract_block(None)


# --------------------------------------------------------------------------- validate_json
SCHEMA = {
    "type": "object",
    "description": "split points",
    "properties": {
        "feature": {"type": "string", "minLength": 1, "maxLength": 10},
        "thresholds": {
            "type": "array",
            "items": {"type": "number", "minimum": 0, "maximum": 100},
            "minItems": 1,
            "maxItems": 3,
        },
        "kind": {"enum": ["numeric", "categorical"]},
        "depth": {"type": "integer", "exclusiveMinimum": 0},
        "note": {"type": ["string", "null"]},
        "flag": {"type": "boolean"},
    },
    "required": ["feature", "thresholds"],
    "additionalProperties": False,
}


def test_validate_json_accepts_valid_values():
    validate_json({"feature": "age", "thresholds": [1, 2.5]}, SCHEMA)
    validate_json(
        {"feature": "a", "thresholds": [0], "kind": "numeric", "depth": 3.0, "note": None, "flag": True},
        SCHEMA,
    )
    validate_json("anything", True)
    validate_json({"x": {"y": 1}}, {"additionalProperties": {"type": "object"}})


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ([], "$: expected type object, found array []"),
        ({"feature": "age"}, "$: missing required key(s) ['thresholds']"),
        ({"feature": "age", "thresholds": [1, 2, "x"]}, "$.thresholds[2]: expected type number, found string 'x'"),
        ({"feature": "age", "thresholds": [1, True]}, "$.thresholds[1]: expected type number, found boolean True"),
        ({"feature": "age", "thresholds": [101]}, "$.thresholds[0]: expected a number <= 100, found 101"),
        ({"feature": "age", "thresholds": [-1]}, "$.thresholds[0]: expected a number >= 0"),
        ({"feature": "age", "thresholds": []}, "$.thresholds: expected at least 1 items, found 0"),
        ({"feature": "age", "thresholds": [1, 2, 3, 4]}, "$.thresholds: expected at most 3 items"),
        ({"feature": "", "thresholds": [1]}, "$.feature: expected at least 1 characters"),
        ({"feature": "x" * 11, "thresholds": [1]}, "$.feature: expected at most 10 characters"),
        ({"feature": "a", "thresholds": [1], "kind": "other"}, "$.kind: expected one of ['numeric', 'categorical']"),
        ({"feature": "a", "thresholds": [1], "depth": 0}, "$.depth: expected a number > 0"),
        ({"feature": "a", "thresholds": [1], "depth": 1.5}, "$.depth: expected type integer, found number 1.5"),
        ({"feature": "a", "thresholds": [1], "depth": True}, "$.depth: expected type integer"),
        ({"feature": "a", "thresholds": [1], "note": 3}, "$.note: expected type string or null"),
        ({"feature": "a", "thresholds": [1], "extra": 1}, "$: unexpected key 'extra'"),
    ],
)
def test_validate_json_reports_the_path(value, message):
    with pytest.raises(SchemaValidationError) as info:
        validate_json(value, SCHEMA)
    assert str(info.value).startswith(message)
    assert isinstance(info.value, ValueError)
    assert info.value.path == message.split(":")[0]


def test_validate_json_paths_and_strict_equality():
    schema = {"properties": {"a b": {"items": {"properties": {"c": {"const": 1}}}}}}
    with pytest.raises(SchemaValidationError, match=r"^\$\['a b'\]\[1\]\.c: expected 1, found True"):
        validate_json({"a b": [{"c": 1}, {"c": True}]}, schema)
    with pytest.raises(SchemaValidationError, match="expected one of"):
        validate_json(1, {"enum": [True]})
    with pytest.raises(SchemaValidationError, match="no value is allowed"):
        validate_json(1, False)


@pytest.mark.parametrize(
    ("schema", "error", "match"),
    [
        ({"pattern": "^a"}, ValueError, "does not support"),
        ({"type": "float"}, ValueError, "has type 'float'"),
        ([1], TypeError, "must be a dict"),
    ],
)
def test_validate_json_rejects_unsupported_schemas(schema, error, match):
    with pytest.raises(error, match=match):
        validate_json("x", schema)


# --------------------------------------------------------------------------- chat_json
def test_chat_json_feeds_the_error_back():
    responder = ScriptedResponder(
        [
            "I think the split is {feature: age}",  # not JSON
            'Here: {"feature": "age", "thresholds": [1, "x"]}',  # fails the schema
            '```json\n{"feature": "age", "thresholds": [30.5]}\n```',
        ]
    )
    with LocalLLMServer(responder) as server:
        client = server.client(timeout=2.0)
        value, reply = client.chat_json("Give a split.", schema=SCHEMA, temperature=0.0)
    assert value == {"feature": "age", "thresholds": [30.5]}
    assert reply.text.startswith("```json")
    assert len(server.requests) == 3
    second, third = server.requests[1]["messages"], server.requests[2]["messages"]
    assert second[0] == {"role": "user", "content": "Give a split."}
    assert second[1] == {"role": "assistant", "content": "I think the split is {feature: age}"}
    assert second[2]["role"] == "user" and "does not parse" in second[2]["content"]
    assert len(third) == 5
    assert "$.thresholds[1]: expected type number, found string 'x'" in third[4]["content"]
    assert all(r["temperature"] == 0.0 for r in server.requests)


def test_chat_json_with_validator_and_garbage_fault():
    def at_least_two(obj):
        if len(obj["thresholds"]) < 2:
            raise ValueError("give at least two thresholds")

    responder = ScriptedResponder(['{"thresholds": [1]}', '{"thresholds": [1, 2]}'])
    with LocalLLMServer(responder) as server:
        server.inject("garbage")
        value, _ = server.client().chat_json("split?", validator=at_least_two)
        assert value == {"thresholds": [1, 2]}
        assert len(server.requests) == 3
        assert "no JSON object or array" in server.requests[1]["messages"][-1]["content"]
        assert "give at least two thresholds" in server.requests[2]["messages"][-1]["content"]


def test_chat_json_uses_the_first_valid_choice():
    with LocalLLMServer(lambda request: ["nothing", '{"ok": 1}', '{"ok": 2}']) as server:
        value, reply = server.client().chat_json("x", n=3)
    assert value == {"ok": 1}
    assert len(reply.choices) == 3 and len(server.requests) == 1


def test_chat_json_gives_up_with_all_errors():
    with LocalLLMServer(lambda request: "never json") as server:
        client = server.client()
        with pytest.raises(LLMResponseError, match="No valid JSON reply after 2 attempts") as info:
            client.chat_json("x", max_attempts=2)
    assert len(info.value.errors) == 2
    assert info.value.text == "never json"
    assert "attempt 1: no JSON object" in str(info.value)
    assert len(server.requests) == 2


def test_chat_json_argument_checks():
    from tabsift.llm import LLMClient

    llm = LLMClient(base_url="http://127.0.0.1:9/v1")
    with pytest.raises(ValueError, match="max_attempts must be >= 1"):
        llm.chat_json("x", max_attempts=0)
    with pytest.raises(TypeError, match="validator must be callable"):
        llm.chat_json("x", validator="no")

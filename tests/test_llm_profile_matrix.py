"""Every LLM estimator x every server profile: the final answer is used, never the draft.

Each cell runs one LLM-powered estimator against :class:`LocalLLMServer` with one
profile of :data:`tabsift.llm.testing.PROFILES`. The scripted "model" answers the
estimator's prompts correctly, but thinks aloud first (:func:`with_reasoning`)
with a plausible, WRONG answer in the same format, so that using the draft shows
in the fitted result. Every cell checks that the fit finishes without an
``LLMFallbackWarning``, that answers were accepted and none rejected, that the
fitted result holds the final answers, and that ``llm_report_`` is honest
(against what the server saw). With ``azure-gateway`` two warm-up requests make
the fit's first request meet the gateway's 429 and its 503.

``benchmarks/bench_llm_profiles.py`` runs the same cells (:func:`run_cell`) outside
pytest and tabulates them.
"""

import contextlib
import functools
import json
import time
import warnings
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LinearRegression, LogisticRegression
from threadpoolctl import threadpool_limits

from tabsift.datasets import make_missing_interaction, make_planted_tree, make_rare_region
from tabsift.llm import LLMFallbackWarning
from tabsift.llm.testing import PROFILES, LocalLLMServer, with_reasoning
from tabsift.residual import ResidualAgentClassifier, ResidualAgentRegressor
from tabsift.rules import Binarizer, BooleanRuleClassifier
from tabsift.sampling import LLMChoiceSelector
from tabsift.tree import EvolvedTreeClassifier

#: Small client settings: nothing sleeps, deterministic errors are not retried.
CLIENT = {"timeout": 5.0, "backoff": 0.001, "max_retries": 3}

ESTIMATORS = (
    "EvolvedTreeClassifier",
    "Binarizer",
    "BooleanRuleClassifier",
    "ResidualAgentRegressor",
    "ResidualAgentClassifier",
    "LLMChoiceSelector",
)

TREE = dict(
    max_depth=2,
    population_size=6,
    n_generations=2,
    n_crossover_prompts=1,
    n_crossover_completions=2,
    n_mutation_prompts=1,
    n_mutation_completions=2,
    random_state=0,
)
RULES = {"n_iterations": 60, "n_starts": 2, "random_state": 0}
RESIDUAL = {"n_corrections": 1, "n_rounds": 1, "cv": 3, "n_jobs": 1, "random_state": 0}

# A threshold no correct answer holds: a tree carrying it came from the draft.
SENTINEL = 0.123457

THRESHOLDS = {"glucose": [126.0], "bmi": [30.0], "age": [50.0], "pressure": [90.0]}
DRAFT_THRESHOLDS = {"glucose": [100.0], "bmi": [25.0], "age": [40.0], "pressure": [80.0]}
FEATURES = ["glucose", "bmi"]
DRAFT_FEATURES = ["age", "pressure"]

FORMULA = "x3 ** 2"  # the regressor's correction
CLASS_FORMULA = "sigmoid(2 * x1 * x2)"  # the classifier's correction
DRAFT_FORMULA = "x4"
HYPOTHESIS = {
    "pattern": "errors grow with x3",
    "features": ["x3"],
    "functional_form": "square",
    "rationale": "large residuals where |x3| is large",
}
DRAFT_HYPOTHESIS = {
    "pattern": "errors follow x4",
    "features": ["x4"],
    "functional_form": "linear",
    "rationale": "a first guess",
}
CRITIQUE = {"diagnosis": "misses curvature", "change": "structural", "suggestion": "square"}
DRAFT_CRITIQUE = {"diagnosis": "fine as is", "change": "none", "suggestion": "x4"}

CHOICE = 2
DRAFT_CHOICE = 0


def _thinking(draft):
    return f"Let me think. A first answer could be {json.dumps(draft)}. No wait, that is wrong."


# ------------------------------------------------------------------ data
def _clinical(n=150, seed=0):
    rng = np.random.RandomState(seed)
    return pd.DataFrame(
        {
            "glucose": rng.uniform(60, 200, n),
            "bmi": rng.uniform(18, 45, n),
            "age": rng.uniform(21, 80, n),
            "pressure": rng.uniform(50, 120, n),
        }
    )


def _residual_data(n=200, seed=0):
    data = make_missing_interaction(n_samples=n, random_state=seed)
    return data.data, data.target.to_numpy()


# ------------------------------------------------------------------ cells
@dataclass
class Cell:
    """What one estimator needs for a cell: data, the estimator, the model's answers."""

    make: object  # make(client) -> estimator
    data: object  # data() -> (X, y)
    answer: object  # answer(request) -> str, the correct final answer
    draft: object  # draft(request) -> str, a plausible wrong answer in the same format


def _rules_answer(request):
    text = request["messages"][-1]["content"]
    if '"thresholds"' in text:
        return json.dumps({"thresholds": THRESHOLDS})
    return json.dumps({"features": FEATURES})


def _rules_draft(request):
    text = request["messages"][-1]["content"]
    if '"thresholds"' in text:
        return _thinking({"thresholds": DRAFT_THRESHOLDS})
    return _thinking({"features": DRAFT_FEATURES})


def _agents(formula):
    """The agents' correct answers, with ``formula`` for the decoder and the rewrite."""

    def answer(request):
        text = request["messages"][-1]["content"]
        if "Find ONE systematic pattern" in text:
            return json.dumps(HYPOTHESIS)
        if "Diagnose" in text:
            return json.dumps(CRITIQUE)
        return json.dumps({"explanation": "the planted term", "formula": formula})

    return answer


def _agent_draft(request):
    text = request["messages"][-1]["content"]
    if "Find ONE systematic pattern" in text:
        return _thinking(DRAFT_HYPOTHESIS)
    if "Diagnose" in text:
        return _thinking(DRAFT_CRITIQUE)
    return _thinking({"explanation": "a first guess", "formula": DRAFT_FORMULA})


def _rules_data():
    X = _clinical()
    return X, ((X["glucose"] > 126) & (X["bmi"] > 30)).astype(int)


def _classes_data():
    X, y = _residual_data(300)
    return X, np.where(y > np.median(y), "high", "low")


@functools.lru_cache(maxsize=1)
def _planted():
    return make_planted_tree(n_samples=200, n_features=4, depth=2, noise=0.05, random_state=0)


def _tree_data():
    return _planted().data, _planted().target


def _planted_tree():
    return _planted().tree


def _tree_draft(request):
    draft = {"x2": {f"<= {SENTINEL}": {"value": 0}, f"> {SENTINEL}": {"value": 1}}}
    return _thinking(draft)


def _choice_data():
    rare = make_rare_region(n_samples=100, random_state=0)
    return rare.data, rare.target


CELLS = {
    "EvolvedTreeClassifier": Cell(
        make=lambda client: EvolvedTreeClassifier(client, **TREE),
        data=_tree_data,
        answer=lambda request: json.dumps(_planted_tree()),
        draft=_tree_draft,
    ),
    "Binarizer": Cell(
        make=lambda client: Binarizer(n_thresholds=2, strategy="llm", llm=client),
        data=lambda: (_clinical(), None),
        answer=lambda request: json.dumps({"thresholds": THRESHOLDS}),
        draft=lambda request: _thinking({"thresholds": DRAFT_THRESHOLDS}),
    ),
    "BooleanRuleClassifier": Cell(
        make=lambda client: BooleanRuleClassifier(
            binarizer=Binarizer(n_thresholds=2, strategy="llm", llm=client),
            llm=client,
            llm_feature_selection=2,
            **RULES,
        ),
        data=_rules_data,
        answer=_rules_answer,
        draft=_rules_draft,
    ),
    "ResidualAgentRegressor": Cell(
        make=lambda client: ResidualAgentRegressor(LinearRegression(), llm=client, **RESIDUAL),
        data=_residual_data,
        answer=_agents(FORMULA),
        draft=_agent_draft,
    ),
    "ResidualAgentClassifier": Cell(
        make=lambda client: ResidualAgentClassifier(LogisticRegression(), llm=client, **RESIDUAL),
        data=_classes_data,
        answer=_agents(CLASS_FORMULA),
        draft=_agent_draft,
    ),
    "LLMChoiceSelector": Cell(
        make=lambda client: LLMChoiceSelector(client, n_samples=5, window=4, random_state=0),
        data=_choice_data,
        answer=lambda request: json.dumps({"choice": CHOICE, "reason": "the rare region"}),
        draft=lambda request: _thinking({"choice": DRAFT_CHOICE, "reason": "the first row"}),
    ),
}


@dataclass
class Result:
    """One cell's outcome: the fitted estimator and what the server saw."""

    estimator: object
    seconds: float
    sent: int  # chat requests the server received during the fit
    events: dict  # the profile's events during the whole cell
    warnings: list
    parsed_trees: list = field(default_factory=list)  # split thresholds of each tree parsed


@contextlib.contextmanager
def _trees_parsed():
    """Record the split thresholds of every tree the LLEGO operators parse from a reply."""
    from tabsift.tree import _evolution

    parse, record = _evolution.text_to_arrays, []

    def spy(text, schema):
        tree = parse(text, schema)
        record.append(np.asarray(tree[1])[np.asarray(tree[0]) >= 0])
        return tree

    _evolution.text_to_arrays = spy
    try:
        yield record
    finally:
        _evolution.text_to_arrays = parse


def run_cell(name, profile):
    """Fit estimator ``name`` against a server with ``profile``; return a :class:`Result`."""
    cell = CELLS[name]
    X, y = cell.data()
    responder = with_reasoning(cell.answer, draft=cell.draft)
    with (
        threadpool_limits(limits=1),
        _trees_parsed() as parsed,
        LocalLLMServer(responder, profile=profile) as server,
    ):
        if profile == "azure-gateway":
            # Two warm-up requests: the fit's first request meets the 429, its retry the 503.
            warm = server.client(max_retries=0, timeout=5.0)
            for _ in range(2):
                warm.complete("warm up")
        before = len(server.requests)
        client = server.client(**CLIENT)
        estimator = cell.make(client)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            start = time.perf_counter()
            estimator.fit(X) if y is None else estimator.fit(X, y)
            seconds = time.perf_counter() - start
        sent = len(server.requests) - before
        events = server.profile_events
    return Result(estimator, seconds, sent, events, list(caught), parsed)


# ------------------------------------------------------------------ what each cell checks
def _check_tree(est, result):
    planted = _planted_tree()
    assert est.llm_stats_["accepted"] > 0
    assert est.to_dict().keys() == planted.keys()  # the planted tree (the answer) won
    assert result.parsed_trees, "the tree parser saw no reply"
    assert all(SENTINEL not in np.round(t, 6) for t in result.parsed_trees), "a draft was parsed"
    fame = [e["tree"].threshold[e["tree"].feature >= 0] for e in est.hall_of_fame_]
    assert all(SENTINEL not in np.round(t, 6) for t in fame)


def _check_binarizer(est, result):
    assert est.thresholds_ == THRESHOLDS
    assert set(est.threshold_source_.values()) == {"llm"}


def _check_rules(est, result):
    assert est.selected_features_ == FEATURES
    assert est.llm_feature_selection_["reply"] == FEATURES
    binarizer = est.binarizer_
    assert binarizer.thresholds_ == THRESHOLDS
    assert est.llm_report_.accepted == 2


def _check_residual(est, result, formula=FORMULA):
    assert est.corrections_, "no correction was kept"
    assert [c.expression for c in est.corrections_] == [formula]
    assert all(c.source == "llm" for c in est.corrections_)
    formulas = [t.get("formula") for t in est.trace_ if isinstance(t, dict)]
    assert DRAFT_FORMULA not in formulas


def _check_choices(est, result):
    assert est.choices_ and all(e["by"] == "llm" for e in est.choices_)
    assert all(e["chosen"] == e["window"][CHOICE] for e in est.choices_)
    assert est.n_llm_choices_ == len(est.choices_)


CHECKS = {
    "EvolvedTreeClassifier": _check_tree,
    "Binarizer": _check_binarizer,
    "BooleanRuleClassifier": _check_rules,
    "ResidualAgentRegressor": _check_residual,
    "ResidualAgentClassifier": lambda est, result: _check_residual(est, result, CLASS_FORMULA),
    "LLMChoiceSelector": _check_choices,
}

# Cells that fail because of a tabsift bug: (estimator, profile) -> the bug.
KNOWN_BUGS = {}


def _cells():
    for name in ESTIMATORS:
        for profile in PROFILES:
            marks = []
            if (name, profile) in KNOWN_BUGS:
                marks.append(pytest.mark.xfail(strict=True, reason=KNOWN_BUGS[name, profile]))
            yield pytest.param(name, profile, marks=marks, id=f"{name}-{profile}")


@pytest.mark.parametrize(("name", "profile"), list(_cells()))
def test_estimator_uses_final_answers_under_profile(name, profile):
    result = run_cell(name, profile)
    est, events = result.estimator, result.events
    report = est.llm_report_

    # It finished, on the LLM, without a failure for good.
    fallback = [w for w in result.warnings if issubclass(w.category, LLMFallbackWarning)]
    assert not fallback, str(fallback[0].message)
    assert not report.failed, report.errors
    assert report.accepted > 0
    # Correct answers: nothing rejected, nothing done offline in their place.
    assert report.rejected == {}, report.rejected
    assert report.fallbacks == 0, report.errors
    # Honest counts: every request asked reached the server (retries and separate
    # requests for n > 1 only add to what the server saw).
    assert report.requests >= report.accepted
    assert result.sent >= report.requests
    # The draft was really served (unless guided decoding left it out).
    assert events.get("reasoning", 0) + events.get("guided", 0) > 0, events
    CHECKS[name](est, result)

    if profile == "azure-gateway":
        assert events.get("rate_limited", 0) >= 1 and events.get("unavailable") == 1, events
    if profile == "openai-reasoning":
        # A refused parameter is dropped or translated once, then remembered.
        refused = {k: v for k, v in events.items() if k.startswith("rejected:")}
        assert all(v == 1 for v in refused.values()), refused
    if name == "EvolvedTreeClassifier":
        # Every completion asked for arrives, whether the server gives n choices, one,
        # or refuses n > 1; mutation without logprobs says so.
        stats, generations = est.llm_stats_, TREE["n_generations"]
        per_generation = (
            TREE["n_crossover_prompts"] * TREE["n_crossover_completions"]
            + TREE["n_mutation_prompts"] * TREE["n_mutation_completions"]
        )
        assert stats["accepted"] == per_generation * generations, stats
        without = TREE["n_mutation_prompts"] * generations
        if profile in ("openai-reasoning", "ollama"):
            assert stats.get("mutation_without_logprobs") == without, stats
        else:
            assert not stats.get("mutation_without_logprobs"), stats
    if profile == "llamacpp" and name == "EvolvedTreeClassifier":
        # n > 1 refused once, then n separate requests.
        assert events.get("refused_n") == 1, events
        assert result.sent > report.requests


def test_every_profile_is_in_the_matrix():
    assert set(PROFILES) >= {
        "openai-reasoning",
        "ollama",
        "vllm",
        "vllm-reasoning-parser",
        "llamacpp",
        "azure-gateway",
    }
    assert set(CELLS) == set(CHECKS) == set(ESTIMATORS)

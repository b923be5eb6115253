"""``tabsift demo`` section: the LLM layer against a scripted local model (:mod:`tabsift.llm`)."""

import json

import numpy as np

from tabsift.cli._demo_base import demo_section, offline_llm

_THRESHOLD_SCHEMA = {
    "type": "object",
    "properties": {
        "thresholds": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {
                    "column": {"type": "string"},
                    "op": {"type": "string", "enum": [">", "<="]},
                    "threshold": {"type": "number"},
                },
                "required": ["column", "op", "threshold"],
            },
        }
    },
    "required": ["thresholds"],
}


def _scripted_thresholds(data, target):
    """Return what the scripted "model" proposes: cut each column between the class medians."""
    proposals = []
    for column in data.columns:
        low = float(data.loc[target == 0, column].median())
        high = float(data.loc[target == 1, column].median())
        op = ">" if high > low else "<="
        proposals.append({"column": column, "op": op, "threshold": round((low + high) / 2, 2)})
    return {"thresholds": proposals}


@demo_section("LLM layer")
def llm_layer_section(ctx):
    """Ask a local OpenAI-compatible server for thresholds; show the structured-reply retry."""
    import pandas as pd

    from tabsift.datasets import make_boolean_rule

    bunch = make_boolean_rule(n_samples=ctx.size(1000, 300), random_state=ctx.seed)
    summary = {
        column: {
            "median": round(float(bunch.data[column].median()), 3),
            "median_when_label_1": round(
                float(bunch.data.loc[bunch.target == 1, column].median()), 3
            ),
            "median_when_label_0": round(
                float(bunch.data.loc[bunch.target == 0, column].median()), 3
            ),
        }
        for column in bunch.data.columns
    }
    good_reply = "Proposed cuts:\n" + json.dumps(_scripted_thresholds(bunch.data, bunch.target))
    # The first reply breaks off mid-JSON, as models sometimes do.
    replies = [
        'Sure! {"thresholds": [{"column": "' + bunch.data.columns[0] + '", "thre',
        good_reply,
    ]
    calls = []

    def responder(request):
        calls.append(request)
        return replies[min(len(calls), len(replies)) - 1]

    messages = [
        {
            "role": "system",
            "content": "You propose one threshold per column for a binary label. "
            "Reply with JSON only.",
        },
        {"role": "user", "content": "Column summaries:\n" + json.dumps(summary)},
    ]
    with offline_llm(responder) as server, server.client(timeout=5) as client:
        value, _ = client.chat_json(messages, schema=_THRESHOLD_SCHEMA)
        usage = client.usage

    rows, literals = [], []
    truth = {lit["column"]: lit for lit in bunch.rule["literals"]}
    for proposal in value["thresholds"]:
        column, op, threshold = proposal["column"], proposal["op"], proposal["threshold"]
        holds = bunch.data[column] > threshold
        holds = holds if op == ">" else ~holds
        accuracy = float(np.mean(holds == bunch.target))
        literals.append((accuracy, holds))
        planted = truth.get(column)
        rows.append(
            {
                "column": column,
                "proposed": f"{column} {op} {threshold}",
                "accuracy": accuracy,
                "in planted rule": planted is not None,
                "planted threshold": planted["threshold"] if planted else None,
            }
        )
    # AtLeast2 over the three most accurate proposed conditions.
    best = sorted(literals, key=lambda item: item[0], reverse=True)[:3]
    rule_accuracy = float(np.mean((sum(h.astype(int) for _, h in best) >= 2) == bunch.target))

    usage_data = {
        "requests": usage.requests,
        "prompt_tokens": usage.prompt_tokens,
        "completion_tokens": usage.completion_tokens,
    }
    return {
        "text": (
            f"A local OpenAI-compatible server (tabsift.llm.testing.LocalLLMServer) plays the "
            f"model with scripted replies. Asked for one threshold per column of the "
            f"boolean-rule data, its first reply is scripted to break off mid-JSON; chat_json "
            f"sent the parse error back and reply {len(calls)} validated against the schema "
            f"({len(value['thresholds'])} thresholds). "
            f"{usage.requests} requests, {usage.prompt_tokens} prompt and "
            f"{usage.completion_tokens} completion tokens.\n\n"
            f"AtLeast2 over the three most accurate proposed conditions reaches "
            f"{rule_accuracy:.1%} accuracy; the planted rule is {bunch.rule_text}."
        ),
        "table": pd.DataFrame(rows),
        "data": {
            "usage": usage_data,
            "attempts": len(calls),
            "proposals": value["thresholds"],
            "rule_accuracy": rule_accuracy,
            "planted_rule": bunch.rule_text,
        },
    }

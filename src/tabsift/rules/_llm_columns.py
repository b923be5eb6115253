"""The LLM's part in a rule fit: one session, and the columns the rule may use (BoolXLLM).

With ``llm_feature_selection=k`` the LLM ranks the columns by domain
relevance; the rule may use only the best ``k`` real, distinct names it gives.
Names it invents are dropped; when none is valid, or the request fails, every
column is kept and ``llm_feature_selection_`` says why.
"""

import json

from tabsift.llm import LLMSession
from tabsift.utils import plain


def fit_session(estimator, binarizer):
    """Return the LLM session of one fit, holding the fitted binariser's LLM record already."""
    by_binarizer = binarizer.llm if binarizer.strategy == "llm" else None
    client = estimator.llm if estimator.llm_feature_selection is not None else by_binarizer
    session = LLMSession(
        client, owner=type(estimator).__name__, on_llm_error=estimator.on_llm_error
    )
    report = binarizer.llm_report_
    session.merge(report, source="Binarizer")
    if report.failed and (client is by_binarizer or client is None):
        session.report.failed = True  # the same server: do not ask it again
    return session


def llm_select(estimator, session, names, y):
    """Return ``(selected, record)``: the columns the LLM finds most relevant to ``y``.

    ``record`` says what happened (the reply, unknown names, any fallback to every column).
    """
    k = min(estimator.llm_feature_selection, len(names))
    descriptions = estimator.feature_descriptions or {}
    target = getattr(y, "name", None) or "the target"
    # Names, descriptions and labels are data: they enter the prompt as JSON strings.
    lines = [
        f"- {json.dumps(n)}"
        + (f": {json.dumps(str(descriptions[n]))}" if n in descriptions else "")
        for n in names
    ]
    classes = json.dumps([str(plain(c)) for c in estimator.classes_])
    prompt = (
        f"Rank table columns by how relevant they are, from domain knowledge, to predicting "
        f"{json.dumps(str(target))} (classes: {classes}). Name the {k} most relevant "
        "columns, most relevant first, using the exact names below (given as JSON "
        "strings).\n\nColumns:\n"
        + "\n".join(lines)
        + '\n\nReply with JSON only, an object of the form {"features": ["column name", '
        "...]}."
    )
    schema = {
        "type": "object",
        "properties": {"features": {"type": "array", "items": {"type": "string"}}},
        "required": ["features"],
    }
    record = {"requested": k, "reply": None, "unknown": [], "fallback": None}
    messages = [{"role": "user", "content": prompt}]

    box = {}

    def question(llm):
        box["reply"] = llm.chat_json(messages, schema=schema)[0]
        return box["reply"]

    def validate(reply):
        if not any(name in names for name in reply["features"]):
            raise ValueError("the LLM named no existing column")

    reply = session.ask(question, validate=validate)
    if "reply" in box:
        record["reply"] = list(box["reply"]["features"])
        record["unknown"] = [n for n in record["reply"] if n not in names]
    if reply is None:
        if "reply" in box:
            record["fallback"] = "the LLM named no existing column; using every column"
        else:
            last = session.report.errors[-1] if session.report.errors else "no usable reply"
            record["fallback"] = f"the LLM request failed ({last}); using every column"
        session.fallback()
        return names, record
    kept = []
    for name in record["reply"]:
        if name in names and name not in kept:
            kept.append(name)
    record["selected"] = kept[:k]
    return record["selected"], record

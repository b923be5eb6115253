"""LLM-written text about a fitted rule classifier, checked against its rules.

:meth:`~tabsift.rules.BooleanRuleClassifier.describe` and
:meth:`~tabsift.rules.BooleanRuleClassifier.explain` ask the LLM to reword a
template. A reply is used only when it mentions no column outside the rules
and no number that is not one of their thresholds or counts
(:func:`~tabsift.rules._describe.check_description`), and does not merely
echo the format template; otherwise the template stays.
"""

import json
import re

from tabsift.llm import LLMError, LLMSession
from tabsift.rules._columns import input_names
from tabsift.rules._describe import check_description

# A reply that only echoes the format template ('<your text>', '<text>') is no description.
_PLACEHOLDER = re.compile(r"<\s*(?:your|the)?[\s_-]*(?:text|description|explanation|answer)"
                          r"[^<>]{0,40}>", re.IGNORECASE)


def text_session(estimator, client):
    """Return the LLM session of one :meth:`describe` or :meth:`explain` call."""
    return LLMSession(
        client,
        owner=f"{type(estimator).__name__}.describe/explain",
        on_llm_error=getattr(estimator, "on_llm_error", "fallback"),
    )


def llm_text(estimator, session, instruction, template):
    """LLM-written text checked against the rules; ``(text, None)`` or ``(None, why)``."""
    rules = estimator._rules()
    descriptions = estimator.feature_descriptions or {}
    used = sorted({c for rule in rules for c in rule.columns()})
    context = "\n".join(
        f"- {json.dumps(c)}: {json.dumps(str(descriptions[c]))}"
        for c in used
        if c in descriptions
    )
    prompt = (
        f"{instruction}\n\nDescription:\n{template}\n"
        + (f"\nWhat the columns mean (names as JSON strings):\n{context}\n" if context else "")
        + '\nReply with JSON only: an object with one key, "text", whose value is your '
        "wording as a string."
    )
    schema = {
        "type": "object",
        "properties": {"text": {"type": "string", "minLength": 1}},
        "required": ["text"],
    }
    messages = [{"role": "user", "content": prompt}]
    extra = template + " " + " ".join(map(str, estimator.classes_)) + " " + context

    why = {}

    def question(llm):
        try:
            return llm.chat_json(messages, schema=schema)[0]
        except LLMError as err:
            why["reason"] = f"the LLM request failed: {err}"
            raise

    def validate(reply):
        text = reply["text"].strip()
        if not text or _PLACEHOLDER.search(text):
            why["reason"] = f"the reply repeats the format template: {text[:60]!r}"
        else:
            why["reason"] = check_description(
                text, rules, input_names(estimator), extra_text=extra
            )
        if why["reason"]:
            raise ValueError(why["reason"])

    if not session.active:
        return None, "the LLM failed earlier in this call"
    reply = session.ask(question, validate=validate)
    if reply is None:
        session.fallback()
        return None, why.get("reason") or "the LLM request failed"
    return reply["text"].strip(), None


def llm_row_text(estimator, session, record):
    """Return the LLM's sentence on why one explained row got its prediction (else the template)."""
    text, reason = llm_text(
        estimator,
        session,
        "Explain to a non-expert, in one or two sentences, why this row got this "
        "prediction. Mention only the conditions listed.",
        f"Prediction: {record['prediction']!r}. Conditions that held: "
        f"{record['held'] or 'none'}. Conditions that did not hold: "
        f"{record['not_held'] or 'none'}. {record['reason']}",
    )
    return text if reason is None else record["reason"]

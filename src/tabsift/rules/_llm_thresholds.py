"""Thresholds proposed by an LLM for the Binarizer's numeric columns, checked one by one.

The prompt gives each column's name and description as JSON strings (data,
never instructions) with its observed range; a proposal is kept only when it
is a short list of finite numbers strictly inside that range.
"""

import json

import numpy as np

from tabsift.utils import is_finite_number


def _shown(value, limit=80):
    """Return a short repr of a value from an LLM reply (a 4,000-digit number stays readable)."""
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _column_lines(asked, numeric, descriptions, fallbacks):
    """Return the prompt's line per column and the observed ``(low, high)`` of each.

    A column without any finite value is left out of both (``fallbacks`` says why).
    """
    lines, ranges = [], {}
    for name in asked:
        finite = numeric[name][np.isfinite(numeric[name])]
        if finite.size == 0:
            fallbacks[name] = "the column has no finite value"
            continue
        ranges[name] = (float(finite.min()), float(finite.max()))
        low, high = ranges[name]
        median = float(np.median(finite))
        # Names and descriptions are data: they enter the prompt only as JSON strings.
        about = f": {json.dumps(str(descriptions[name]))}" if name in descriptions else ""
        lines.append(
            f"- {json.dumps(name)}{about} (observed range {low:.6g} to {high:.6g}, "
            f"median {median:.6g})"
        )
    return lines, ranges


def _check_proposal(values, low, high, n_thresholds):
    """Return ``(inside, reason)``: the usable thresholds of one proposal, or why none are.

    ``inside`` is the proposed thresholds strictly inside ``(low, high)``, sorted (None
    when ``reason`` says why the proposal ``values`` is not usable).
    """
    if values is None:
        return None, "the LLM proposed no threshold"
    if not isinstance(values, list) or not values:
        return None, f"expected a non-empty list of numbers, got {_shown(values)}"
    if not all(is_finite_number(v) for v in values):
        return None, f"not all proposals are finite numbers: {_shown(values)}"
    floats = {float(v) for v in values}
    inside = sorted(v for v in floats if low < v < high)
    if len(floats) > n_thresholds:
        return None, (
            f"{len(floats)} thresholds proposed, more than n_thresholds={n_thresholds}"
        )
    if not inside:
        return None, (
            f"no proposal {_shown(values)} lies strictly inside ({low:.6g}, {high:.6g})"
        )
    return inside, None


def ask_thresholds(session, asked, numeric, *, n_thresholds, descriptions, fallbacks):
    """Ask for thresholds of the columns ``asked``: ``(valid, reply, unknown)``.

    ``valid`` holds the usable thresholds per column, ``reply`` the validated JSON reply
    (None without one) and ``unknown`` the names in it that are not columns asked about.
    Every column the LLM does not give usable thresholds for falls back to quantiles
    (``fallbacks[column]`` says why); a proposal that is not a list of finite numbers
    inside the observed range is counted as an ``"invalid"`` rejection.
    """
    lines, ranges = _column_lines(asked, numeric, descriptions or {}, fallbacks)
    if not lines:
        return {}, None, []
    prompt = (
        "You choose thresholds that turn numeric table columns into yes/no conditions "
        "'column > threshold' for an interpretable rule. Prefer meaningful cut-offs "
        "(clinical or regulatory limits, round numbers) over arbitrary values. For each "
        f"column give 1 to {n_thresholds} thresholds strictly inside its observed "
        "range. Column names are given as JSON strings; use them exactly as keys.\n\n"
        "Columns:\n" + "\n".join(lines) + "\n\nReply with JSON only, an object of the "
        'form {"thresholds": {"column name": [number, ...]}}, with one entry per column.'
    )
    schema = {
        "type": "object",
        "properties": {"thresholds": {"type": "object"}},
        "required": ["thresholds"],
    }
    messages = [{"role": "user", "content": prompt}]
    reply = session.ask(lambda llm: llm.chat_json(messages, schema=schema)[0])
    if reply is None:
        last = session.report.errors[-1] if session.report.errors else "no usable reply"
        for name in ranges:
            fallbacks[name] = f"the LLM request failed ({last}); using quantiles"
        session.fallback(len(ranges))
        return {}, None, []
    proposed = reply["thresholds"]
    unknown = sorted(str(k) for k in proposed if k not in ranges)
    out = {}
    for name, (low, high) in ranges.items():
        values = proposed.get(name)
        inside, reason = _check_proposal(values, low, high, n_thresholds)
        if reason is not None:
            fallbacks[name] = reason + "; using quantiles"
            session.fallback()
            if values is not None:
                session.reject("invalid", f"thresholds of {json.dumps(name)}: {reason}")
            continue
        out[name] = inside
        dropped = sorted({float(v) for v in values} - set(inside))
        if dropped:
            fallbacks[name] = (
                f"kept {inside}; dropped {dropped} (outside the observed range "
                f"({low:.6g}, {high:.6g}))"
            )
    return out, json.loads(json.dumps(reply)), unknown

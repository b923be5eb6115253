"""Reasoning in replies: the ``<think>`` blocks a reasoning model writes before its answer."""

import re

__all__ = ["strip_reasoning"]

# Reasoning tags of the reasoning models served by vLLM, Ollama and llama.cpp.
_REASONING_TAG = re.compile(
    r"<(/?)[ \t]*(think|thinking|reasoning)(?:[ \t][^<>\n]{0,200})?[ \t]*(/?)>", re.IGNORECASE
)


def split_reasoning(text):
    """Return ``(answer, reasoning)``; ``reasoning`` is None when there is none."""
    if not isinstance(text, str):
        raise TypeError(f"text must be a str, found {type(text).__name__}.")
    if "<" not in text:
        return text, None
    answer = []
    reasoning = []
    kept_from = 0  # start of the answer text not yet copied
    open_name = None
    open_at = depth = 0
    found = False
    for match in _REASONING_TAG.finditer(text):
        closing, name, self_closing = match[1], match[2].lower(), match[3]
        if self_closing and not closing:
            found = True
            answer.append(text[kept_from : match.start()])
            kept_from = match.end()
            continue
        if open_name is None:
            if not closing:
                found = True
                answer.append(text[kept_from : match.start()])
                open_name, open_at, depth = name, match.end(), 1
            else:
                # A closing tag with no opening one: the server's chat template
                # opened the block, so everything before it is reasoning.
                found = True
                reasoning.append("".join(answer) + text[kept_from : match.start()])
                answer = []
                kept_from = match.end()
        elif name == open_name:
            depth += -1 if closing else 1
            if depth == 0:
                reasoning.append(text[open_at : match.start()])
                open_name = None
                kept_from = match.end()
    if not found:
        return text, None
    if open_name is not None:
        # Never closed: the rest is reasoning (a reply cut off while thinking).
        reasoning.append(text[open_at:])
    else:
        answer.append(text[kept_from:])
    thought = "\n\n".join(part.strip() for part in reasoning if part.strip())
    return "".join(answer).strip(), thought or None


def strip_reasoning(text):
    r"""Remove the reasoning of a reasoning model from a reply, leaving its answer.

    Removes ``<think>...</think>``, ``<thinking>...</thinking>`` and
    ``<reasoning>...</reasoning>`` blocks (any case). A closing tag with no
    opening one (the chat template opened the block) makes everything before
    it reasoning; an opening tag that is never closed makes everything after it
    reasoning, so a reply cut off while thinking has an empty answer. A reply
    without such tags is returned unchanged.

    Parameters
    ----------
    text : str
        A reply from a model.

    Returns
    -------
    answer : str
        The reply without its reasoning (stripped of surrounding whitespace
        when reasoning was removed).

    See Also
    --------
    extract_json : Applies this before looking for the answer.
    Choice.reasoning : Where the client keeps the removed reasoning.

    Examples
    --------
    >>> from tabsift.llm import strip_reasoning
    >>> strip_reasoning('<think>Maybe {"k": 0}? No.</think>\n{"k": 5}')
    '{"k": 5}'
    >>> strip_reasoning("Let me think.</think>42")
    '42'
    >>> strip_reasoning("<think>Still thinking when the reply was cut")
    ''
    """
    return split_reasoning(text)[0]

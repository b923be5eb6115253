"""Several choices from servers that refuse or ignore ``n > 1``: one request per choice."""

from tabsift.llm._connection import resolve_base_url
from tabsift.llm._negotiation import SingleChoiceOnly
from tabsift.llm._reply import join_replies
from tabsift.llm._retry import send_once


def send(llm, request, deadline=None):
    """Send one chat request for ``llm`` and return a reply with ``request["n"]`` choices."""
    if request["n"] > 1 and llm._quirks.single_choice:
        return _send_separately(llm, request, deadline=deadline)
    try:
        response = send_once(llm, request, deadline)
    except SingleChoiceOnly:
        llm._quirks.ask_one_choice_at_a_time("refuses n > 1", resolve_base_url(llm.base_url))
        return _send_separately(llm, request, deadline=deadline)
    if len(response.choices) >= request["n"]:
        return response
    # Some servers (Ollama's OpenAI endpoint) ignore n and return one choice
    # without an error: ask for the missing ones one at a time from now on.
    llm._quirks.ask_one_choice_at_a_time(
        f"answered {len(response.choices)} of n={request['n']} choices",
        resolve_base_url(llm.base_url),
    )
    rest = _send_separately(
        llm,
        dict(request, n=request["n"] - len(response.choices)),
        first_seed=len(response.choices),
        deadline=deadline,
    )
    return join_replies([response, rest], model=response.model)


def _send_separately(llm, request, *, first_seed=0, deadline=None):
    """``n`` requests of one choice each, for servers that refuse ``n > 1``."""
    responses = []
    for i in range(first_seed, first_seed + request["n"]):
        single = dict(request, n=1)
        if request["seed"] is not None:
            single["seed"] = request["seed"] + i  # the same seed would repeat the sample
        responses.append(send_once(llm, single, deadline))
    return join_replies(responses, model=responses[-1].model if responses else None)

"""LLEGO's LLM operators: the prompts, the requests, and how replies become offspring.

Fitness-guided crossover shows parents with their fitness in increasing order
and asks for a tree reaching a target fitness; diversity-guided mutation shows
parents without fitness and asks for a different tree. Replies are parsed and
validated by :mod:`tabsift.tree._text`; nothing a model writes is executed. Column
names enter prompts only as JSON strings, so a name cannot change a prompt's structure.
No temperature is sent: the client decides (see :class:`tabsift.llm.LLMClient`).
"""

import json
import math
import threading
from concurrent.futures import ThreadPoolExecutor

import numpy as np
from joblib import effective_n_jobs

from tabsift.tree._thresholds import format_number

# Without token log-probabilities, a tree whose training predictions differ from the
# whole population's on every row counts as this many nats of surprise.
NOVELTY_NATS = 100.0

_FORMAT = (
    "Trees are written as nested dictionaries. An internal node is "
    '{"<feature>": {"<= <threshold>": <left subtree>, "> <threshold>": <right subtree>}} '
    '(both keys use the same threshold) and a leaf is {"value": <prediction>}. The branch '
    'that rows with a missing value take has " or missing" after its threshold, e.g. '
    '"> 3.5 or missing".'
)


def prompt_header(context):
    """Return the description of the task and data that starts every prompt."""
    lines = []
    if context["task_description"]:
        lines.append(f"Task: {context['task_description']}")
    weight = context.get("total_weight")
    rows = f"{context['n_samples']} rows"
    if weight is not None:
        rows += f" (weighted: total weight {format_number(weight)})"
    lines.append(
        f"The training data has {rows} and {context['n_features']} "
        f"features. {context['target_summary']}"
    )
    lines.append("Features (observed range, and description when known):")
    descriptions = context["feature_descriptions"]
    n_missing = context.get("n_missing")
    if n_missing is None:
        n_missing = [0] * len(context["feature_names"])
    for name, low, high, gaps in zip(
        context["feature_names"], context["x_min"], context["x_max"], n_missing, strict=True
    ):
        quoted = json.dumps(name, ensure_ascii=False)
        if np.isnan(low):
            line = f"- {quoted}: no values"
        else:
            line = f"- {quoted}: [{format_number(low)}, {format_number(high)}]"
        if gaps:
            line += f", missing in {int(gaps)} rows"
        base = name.split("=", 1)[0] if name not in descriptions else name
        if base in descriptions:
            line += f" - {descriptions[base]}"
        lines.append(line)
    lines.append(_FORMAT + f" The maximum depth is {context['max_depth']}.")
    return "\n".join(lines)


def crossover_prompt(header, parent_texts, parent_fitness, target, metric):
    """Fitness-guided crossover: parents in increasing fitness, then the target fitness."""
    order = np.argsort(parent_fitness, kind="stable")
    lines = [
        header,
        "",
        f"Here are decision trees for this task with their fitness ({metric}, higher is "
        "better), in increasing order of fitness:",
    ]
    for rank, k in enumerate(order, start=1):
        lines.append(f"Tree {rank} (fitness {parent_fitness[k]:.4f}): {parent_texts[k]}")
    lines += [
        "",
        f"Combine the useful parts of these trees into one new tree with a fitness of "
        f"{target:.4f}. Use only the features listed above, thresholds inside their ranges, "
        "and at most the maximum depth. Answer with the new tree only, as one nested "
        "dictionary.",
    ]
    return "\n".join(lines)


def mutation_prompt(header, parent_texts):
    """Diversity-guided mutation: parents without fitness; ask for a different tree."""
    lines = [header, "", "Here are decision trees for this task:"]
    for rank, text in enumerate(parent_texts, start=1):
        lines.append(f"Tree {rank}: {text}")
    lines += [
        "",
        "Write one new tree that is structurally different from these trees (other features, "
        "thresholds or shapes) but still sensible for the task. Use only the features listed "
        "above, thresholds inside their ranges, and at most the maximum depth. Answer with the "
        "new tree only, as one nested dictionary.",
    ]
    return "\n".join(lines)


def sequence_logprob(choice):
    """Return the total log-probability of a reply, or None when there is none to use.

    None when the server sent none (it refused or dropped them:
    ``choice.logprobs is None``) or sent values that are not finite numbers.
    """
    tokens = choice.logprobs
    if not tokens:
        return None
    try:
        total = math.fsum(float(token.logprob) for token in tokens)
    except (TypeError, ValueError, OverflowError):
        return None
    return total if math.isfinite(total) else None


def request(client, prompt, n, *, logprobs, deadline=None):
    """Send one prompt for ``n`` completions and return the :class:`ChatResponse`.

    Nothing else is set (no temperature): the client negotiates with the server,
    and the reply may hold fewer than ``n`` choices or no log-probabilities.
    ``deadline`` (a :func:`time.monotonic` value: the run's time limit) ends the
    wait for the answer.
    """
    return client.chat(prompt, n=n, logprobs=logprobs, deadline=deadline)


def replies(response):
    """``[(text, logprob or None, finish_reason)]`` of a response's choices."""
    return [
        (choice.text if isinstance(choice.text, str) else "", sequence_logprob(choice),
         choice.finish_reason)
        for choice in response.choices
    ]


def mutation_log_weights(logps, novelty, tau):
    """Log selection weights of a mutation prompt's candidates: ``surprise / tau``.

    The surprise is ``-logp`` (LLEGO: weight ``exp(-logp / tau)``, favouring
    unlikely, novel replies) when every candidate has a log-probability, else
    (the server sent none, or not finite ones) the documented substitute
    ``NOVELTY_NATS * novelty``.
    """
    if len(logps) and all(lp is not None for lp in logps):
        return -np.asarray(logps, dtype=np.float64) / tau
    return NOVELTY_NATS * np.asarray(novelty, dtype=np.float64) / tau


def ask_all(client, jobs, *, n_jobs, out_of_time, deadline):
    """Send every prompt to ``client`` (in parallel with ``n_jobs`` threads), in job order.

    ``jobs`` are ``(prompt, n, logprobs)``; ``out_of_time()`` says the fit's time limit
    has passed and ``deadline`` is when (None: no limit).

    Each result is ``("ok", response)``, ``("error", exception)`` or
    ``("skipped", None)`` (out of time, or another request of this
    generation failed for good: the rest are not sent). Only the sending
    happens in the threads; the answers go through the session in the
    caller's thread.
    """
    from tabsift.llm import LLMError, LLMResponseError

    stop = threading.Event()

    def work(job):
        prompt, n, logprobs = job
        if stop.is_set() or out_of_time():
            return ("skipped", None)
        try:
            return (
                "ok",
                request(client, prompt, n, logprobs=logprobs, deadline=deadline),
            )
        except LLMResponseError as err:  # this prompt's reply only (e.g. refused)
            return ("error", err)
        except LLMError as err:  # outage, budget, replay miss: for good
            if out_of_time():
                return ("skipped", None)  # the time limit ended the wait, not the server
            stop.set()
            return ("error", err)

    workers = effective_n_jobs(n_jobs or None)  # None and 0: one thread
    if workers <= 1 or len(jobs) <= 1:
        return [work(job) for job in jobs]
    with ThreadPoolExecutor(max_workers=min(workers, len(jobs))) as pool:
        return list(pool.map(work, jobs))


def take_replies(session, results, stats, parse):
    """Each prompt's valid trees (with their log-probabilities) through the session.

    Answers are taken before failures (a failure for good stops the session,
    and what was finished is kept). A reply whose choices give no valid tree
    is a rejection of the session, by the reason of its first choice. Returns
    ``(trees per prompt, rejected choices, errors)``. ``parse(text, finish, stats)`` gives
    ``(tree, None)`` for a valid tree, else ``(None, reason)``.
    """
    from tabsift.llm import BudgetExceededError, LLMResponseError

    out = [[] for _ in results]
    rejected = errors = 0
    order = sorted(range(len(results)), key=lambda i: results[i][0] != "ok")
    for i in order:
        status, payload = results[i]
        if status == "skipped":
            continue
        if status == "error" and not isinstance(payload, LLMResponseError):
            errors += 1
            if isinstance(payload, BudgetExceededError):
                stats["budget_exceeded"] = True

        def question(llm, status=status, payload=payload):
            if status == "error":
                raise payload
            return payload

        def validate(response, i=i):
            nonlocal rejected
            reasons = []
            for text, logp, finish in replies(response):
                tree, reason = parse(text, finish, stats)
                if tree is None:
                    rejected += 1
                    reasons.append(reason)
                else:
                    out[i].append((tree, logp))
            if not out[i]:
                reason = reasons[0] if reasons else "unparsable"
                raise LLMResponseError(
                    f"no valid tree in the {len(reasons)} choice(s) of the reply",
                    reason=reason,
                )

        session.ask(question, validate=validate)
    return out, rejected, errors

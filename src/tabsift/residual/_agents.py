"""The LLM proposer: encoder, decoder and critic agents that write correction formulas.

For each of ``n_corrections`` agents:

1. the *encoder* sees the domain context, the feature descriptions and a table
   of training rows where the base model's out-of-fold error is largest, and
   returns a hypothesis (pattern, implicated features, functional form,
   rationale);
2. the *decoder* turns it into an explanation and ONE formula in tabsift's
   expression language; the formula is parsed against the column names and
   evaluated on the training and validation rows, and a formula that does not
   parse, is not finite or is constant is sent back with the error, a bounded
   number of times (``chat_json``'s ``max_attempts``);
3. the formula's coefficient is fit on the training residuals (jointly with
   the corrections already accepted) and its validation loss computed;
4. the *critic* sees the formula, its loss and the rows it still fails on
   most, and returns a diagnosis and one suggested change (the "textual
   gradient"); the decoder rewrites the formula from it and the last three
   attempts; steps 3-4 repeat for ``n_rounds`` rounds.

The agent's best formula on validation is kept if it lowers the validation
loss by at least ``min_gain``. Model output is only ever parsed by
:func:`tabsift.expr.parse`; nothing it says is executed.

Every request goes through an :class:`~tabsift.llm.LLMSession`: a reply that
cannot be used is a counted rejection (the agent goes on without it), and when
the LLM fails for good (outage, budget, a refused request) the agents stop,
the corrections already accepted are kept and the estimator completes the
remaining slots with the offline proposer (``on_llm_error="raise"``: the error
propagates).
"""

import json

import numpy as np

from tabsift.expr import ExpressionError, parse
from tabsift.llm import LLMError
from tabsift.residual._agent_prompts import (
    CRITIQUE_SCHEMA,
    FORMULA_SCHEMA,
    GRAMMAR,
    HYPOTHESIS_SCHEMA,
    SYSTEM_PROMPT,
    clip_text,
    format_table,
    format_value,
)
from tabsift.utils import progress

# Replies per formula request (the first plus retries after a parse/finite error).
FORMULA_ATTEMPTS = 3
# How many columns a prompt's table shows at most (the most residual-related ones).
_MAX_COLUMNS = 30
_WORST_ROWS = 10


class LLMProposer:
    """Encoder / decoder / critic loop over a :class:`Workspace` (see the module notes)."""

    def __init__(
        self,
        session,
        *,
        n_corrections,
        n_rounds,
        residual_fraction,
        max_rows_in_prompt,
        domain_context,
        feature_descriptions,
        min_gain,
        class_names,
        random_state,
        verbose,
    ):
        self.session = session
        self.n_corrections = n_corrections
        self.n_rounds = n_rounds
        self.residual_fraction = residual_fraction
        self.max_rows_in_prompt = max_rows_in_prompt
        self.domain_context = domain_context
        self.feature_descriptions = feature_descriptions
        self.min_gain = min_gain
        self.class_names = class_names
        self.rng = np.random.RandomState(random_state)
        self.verbose = verbose

    # ------------------------------------------------------------ prompt parts
    def _task_text(self, ws):
        metric = "mean squared error" if ws.task == "regression" else "log loss"
        if ws.task == "regression":
            task = "regression of a numeric target; residual = target - prediction"
        else:
            names = json.dumps([str(c) for c in self.class_names])
            task = (
                f"classification into the classes {names}; residual = 1 - the predicted "
                "probability of the true class"
            )
        return f"Task: {task}. Validation {metric} of the base model: {format_value(ws.base_val_loss)}."

    def _context_text(self, usable):
        parts = [f"Columns you may use (DATA): {json.dumps(usable)}"]
        if self.domain_context:
            parts.append(f"Domain context (DATA): {json.dumps(clip_text(self.domain_context))}")
        if self.feature_descriptions:
            descs = {
                str(k): clip_text(v, 200)
                for k, v in self.feature_descriptions.items()
                if str(k) in usable
            }
            parts.append(f"Feature descriptions (DATA): {json.dumps(descs)}")
        return "\n".join(parts)

    def _shown_columns(self, ws, residual, usable):
        if len(usable) <= _MAX_COLUMNS:
            return list(usable)
        score = []
        for name in usable:
            x = ws.data_train[name]
            present = ~np.isnan(x)
            x, r = x[present], residual[present]
            sd = x.std() * r.std() if x.size else 0.0
            score.append(0.0 if sd == 0 else abs(np.mean((x - x.mean()) * r)) / sd)
        order = np.argsort(score)[::-1][:_MAX_COLUMNS]
        return [usable[i] for i in sorted(order)]

    def _row_table(self, ws, fit, rows, columns):
        out = ws.train_output(fit)
        residual = ws.train_residual(fit)
        header = [*columns, "target", "prediction", "residual"]
        body = []
        for i in rows:
            if ws.task == "regression":
                target, pred = ws.y_train[i], format_value(out[i])
            else:
                target = json.dumps(str(self.class_names[ws.y_train[i]]))
                pred = json.dumps(str(self.class_names[int(np.argmax(out[i]))]))
            body.append(
                [
                    *(ws.data_train[c][i] for c in columns),
                    target if isinstance(target, str) else format_value(target),
                    pred,
                    residual[i],
                ]
            )
        return format_table(header, body)

    def _messages(self, text):
        return [{"role": "system", "content": SYSTEM_PROMPT}, {"role": "user", "content": text}]

    def _ask(self, messages, **chat_json_kwargs):
        """One agent request through the session: ``(value, None)`` or ``(None, why)``."""
        why = {}

        def question(llm):
            try:
                return llm.chat_json(messages, **chat_json_kwargs)[0]
            except LLMError as err:
                why["reason"] = f"{getattr(err, 'reason', 'failed')}: {err}"
                raise

        value = self.session.ask(question)
        if value is None:
            return None, why.get("reason", "the LLM is not available")
        return value, None

    # ------------------------------------------------------------ agents
    def _encoder(self, ws, fit, usable, accepted, agent):
        residual = ws.train_residual(fit)
        score = np.abs(residual)
        n_pool = max(1, int(np.ceil(self.residual_fraction * ws.n_train)))
        pool = np.argsort(-score, kind="stable")
        if ws.w_train is not None:
            # A row of zero weight is not in the data the model is fit for: never shown.
            pool = pool[ws.w_train[pool] > 0]
        pool = pool[:n_pool]
        shown = self.rng.choice(pool, size=min(self.max_rows_in_prompt, len(pool)), replace=False)
        shown = shown[np.argsort(-score[shown], kind="stable")]
        columns = self._shown_columns(ws, residual, usable)
        explained = [str(t.expression) for t in accepted] or ["nothing yet"]
        text = "\n\n".join(
            [
                self._task_text(ws),
                self._context_text(usable),
                f"Already captured by accepted corrections: {json.dumps(explained)}",
                f"These {len(shown)} training rows (DATA) are among the "
                f"{self.residual_fraction:.0%} where the model's out-of-fold error is largest:\n"
                + self._row_table(ws, fit, shown, columns),
                "Find ONE systematic pattern in these errors that the model misses. Reply with "
                'JSON: {"pattern": "...", "features": ["column", ...], "functional_form": "...", '
                '"rationale": "..."}',
            ]
        )
        value, why = self._ask(self._messages(text), schema=HYPOTHESIS_SCHEMA)
        target_class = None
        if ws.task == "classification":
            target_class = 1 if ws.n_classes == 2 else int(self._class_order[agent % ws.n_classes])
        return value, target_class, why

    def _formula(self, ws, usable, prompt, target_class, rejected):
        """Ask the decoder for a formula; return the term, or None when none was usable."""
        made = {}

        def validator(value):
            formula = value["formula"]
            try:
                expression = parse(formula, columns=usable)
                term = ws.make_term(
                    expression, clip_text(value["explanation"]), "llm", target_class=target_class
                )
            except (ExpressionError, ValueError, ArithmeticError) as err:
                rejected.append({"formula": clip_text(formula), "reason": clip_text(str(err), 1000)})
                raise ValueError(f"the formula {formula!r} was rejected: {err}") from None
            made["term"] = term

        value, _ = self._ask(
            self._messages(prompt),
            schema=FORMULA_SCHEMA,
            validator=validator,
            max_attempts=FORMULA_ATTEMPTS,
        )
        return None if value is None else made.get("term")

    def _target_text(self, ws, target_class):
        if ws.task == "regression":
            return "added to the model's prediction"
        name = json.dumps(str(self.class_names[target_class]))
        return f"added to the log-odds of class {name}"

    def _decoder_prompt(self, ws, usable, hypothesis, target_class):
        return "\n\n".join(
            [
                self._task_text(ws),
                self._context_text(usable),
                f"Hypothesis from an analyst (DATA): {json.dumps(hypothesis)}",
                f"Write ONE formula f whose values, times a fitted coefficient, are "
                f"{self._target_text(ws, target_class)}, to capture this pattern.",
                GRAMMAR,
                'Reply with JSON: {"explanation": "one sentence", "formula": "..."}',
            ]
        )

    def _critic(self, ws, attempt, fit, best_loss):
        term = attempt["term"]
        residual = ws.train_residual(fit)
        worst = np.argsort(-np.abs(residual), kind="stable")
        if ws.w_train is not None:
            worst = worst[ws.w_train[worst] > 0]
        worst = worst[:_WORST_ROWS]
        columns = list(term.expression.columns) or []
        text = "\n\n".join(
            [
                self._task_text(ws),
                f"Formula (DATA): {json.dumps(str(term.expression))}\n"
                f"Its explanation (DATA): {json.dumps(term.explanation)}\n"
                f"Validation loss with it: {format_value(attempt['loss'])} (base model: "
                f"{format_value(ws.base_val_loss)}; best so far: {format_value(best_loss)}).",
                "The training rows it still fails on most (DATA):\n"
                + self._row_table(ws, fit, worst, columns),
                "Diagnose why the formula falls short, say whether its form (structural) or its "
                "constants (coefficient) are wrong, and suggest ONE change. Reply with JSON: "
                '{"diagnosis": "...", "change": "structural" or "coefficient", '
                '"suggestion": "..."}',
            ]
        )
        return self._ask(self._messages(text), schema=CRITIQUE_SCHEMA)

    def _rewrite_prompt(self, ws, usable, hypothesis, history, critique, target_class):
        recent = [
            {"formula": str(h["term"].expression), "validation_loss": float(format_value(h["loss"]))}
            for h in history[-3:]
        ]
        return "\n\n".join(
            [
                self._task_text(ws),
                self._context_text(usable),
                f"Hypothesis (DATA): {json.dumps(hypothesis)}",
                f"Your last formulas and their validation losses (lower is better): "
                f"{json.dumps(recent)}",
                f"Critique of the last one (DATA): {json.dumps(critique)}",
                f"Write ONE improved formula, {self._target_text(ws, target_class)}.",
                GRAMMAR,
                'Reply with JSON: {"explanation": "one sentence", "formula": "..."}',
            ]
        )

    # ------------------------------------------------------------ loop
    def propose(self, ws, usable, trace):
        fit = ws.empty
        if ws.task == "classification":
            # Multiclass: agent k corrects the class with the k-th largest total error
            # (1 - P(true class)) of the base model on the training rows.
            error = ws.train_residual(fit)
            if ws.w_train is not None:
                error = error * ws.w_train
            error = np.bincount(ws.y_train, weights=error, minlength=ws.n_classes)
            self._class_order = np.argsort(-error, kind="stable")
        agents = progress(range(self.n_corrections), verbose=self.verbose, desc="agents")
        for agent in agents:
            fit = self._run_agent(ws, fit, usable, trace, agent)
            if not self.session.active:
                errors = self.session.report.errors
                trace.append(
                    {
                        "agent": agent,
                        "step": "stop",
                        "status": "stopped",
                        "reason": clip_text(
                            "the LLM failed for good"
                            + (f": {errors[-1]}" if errors else "")
                            + "; accepted corrections are kept"
                        ),
                    }
                )
                # This agent and the ones not run are left to the offline proposer.
                self.session.fallback(self.n_corrections - agent)
                break
        return fit

    def _run_agent(self, ws, fit, usable, trace, agent):
        hypothesis, target_class, why = self._encoder(ws, fit, usable, fit.terms, agent)
        if hypothesis is None:
            trace.append(
                {
                    "agent": agent,
                    "round": 0,
                    "step": "encoder",
                    "status": "rejected",
                    "reason": clip_text(why),
                }
            )
            return fit
        hypothesis = {k: clip_text(v) if isinstance(v, str) else v for k, v in hypothesis.items()}
        trace.append(
            {
                "agent": agent,
                "round": 0,
                "step": "encoder",
                "hypothesis": json.dumps(hypothesis),
                "target_class": target_class,
                "status": "info",
            }
        )
        history, best, critique = [], None, None
        for round_no in range(1, self.n_rounds + 1):
            rejected = []
            if not self.session.active:
                break  # keep the best formula found so far; the rest is done offline
            if history:
                critique, why = self._critic(ws, history[-1], history[-1]["fit"], best["loss"])
                if critique is not None:
                    critique = {k: clip_text(v) for k, v in critique.items()}
                else:
                    critique = {
                        "diagnosis": "(no usable critique)",
                        "suggestion": "try a different form",
                    }
                    trace.append(
                        {
                            "agent": agent,
                            "round": round_no,
                            "step": "critic",
                            "status": "rejected",
                            "reason": clip_text(why),
                        }
                    )
                if not self.session.active:
                    break
                prompt = self._rewrite_prompt(
                    ws, usable, hypothesis, history, critique, target_class
                )
            else:
                prompt = self._decoder_prompt(ws, usable, hypothesis, target_class)
            term = self._formula(ws, usable, prompt, target_class, rejected)
            for item in rejected:
                trace.append(
                    {
                        "agent": agent,
                        "round": round_no,
                        "step": "decoder",
                        "formula": item["formula"],
                        "status": "rejected",
                        "reason": item["reason"],
                    }
                )
            if term is None:
                continue
            candidate = ws.fit([*fit.terms, term])
            attempt = {"term": term, "loss": candidate.val_loss, "fit": candidate}
            history.append(attempt)
            trace.append(
                {
                    "agent": agent,
                    "round": round_no,
                    "step": "decoder",
                    "hypothesis": term.explanation,
                    "formula": str(term.expression),
                    "target_class": target_class,
                    "validation_loss": candidate.val_loss,
                    "critique": json.dumps(critique) if critique else "",
                    "status": "candidate",
                }
            )
            if best is None or candidate.val_loss < best["loss"]:
                best = attempt
        if best is None:
            trace.append(
                {
                    "agent": agent,
                    "step": "result",
                    "status": "rejected",
                    "reason": "no valid formula",
                }
            )
            return fit
        entry = {
            "agent": agent,
            "step": "result",
            "formula": str(best["term"].expression),
            "validation_loss": best["loss"],
            "target_class": target_class,
        }
        if ws.accepts(best["fit"], fit, self.min_gain):
            trace.append(
                {
                    **entry,
                    "status": "accepted",
                    "reason": f"validation loss {fit.val_loss:.6g} -> {best['loss']:.6g}",
                }
            )
            return best["fit"]
        trace.append(
            {
                **entry,
                "status": "rejected",
                "reason": f"validation gain too small or not clear of noise ({fit.val_loss:.6g} -> {best['loss']:.6g})",
            }
        )
        return fit

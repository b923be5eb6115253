"""The ``tabsift demo`` section of the residual-correction family."""

import json

import numpy as np

from tabsift.cli._demo_base import demo_section, figure, offline_llm

# What the scripted "model" of the demo replies: one hostile formula first, to show
# that it is rejected by the parser, then the planted interaction.
_DEMO_FORMULAS = ("__import__('os').system('echo pwned')", "sigmoid(2 * x1 * x2)")


def _scripted_agents():
    replies = iter(_DEMO_FORMULAS * 20)

    def responder(request):
        prompt = request["messages"][-1]["content"]
        if "Find ONE systematic pattern" in prompt:
            return json.dumps(
                {
                    "pattern": "the error flips sign with the product x1 * x2",
                    "features": ["x1", "x2"],
                    "functional_form": "sigmoid of the product",
                    "rationale": "large residuals where x1 and x2 share a sign",
                }
            )
        if "Diagnose" in prompt:
            return json.dumps(
                {"diagnosis": "shape fits", "change": "coefficient", "suggestion": "keep it"}
            )
        return json.dumps({"explanation": "interaction of x1 and x2", "formula": next(replies)})

    return responder


@demo_section("Residual-correction agents")
def residual_section(ctx):
    """Find the planted mechanism offline and with scripted LLM agents; freeze and reapply."""
    import pandas as pd
    from sklearn.linear_model import LinearRegression

    from tabsift.datasets import make_missing_interaction
    from tabsift.residual import FrozenCorrections, ResidualAgentRegressor

    train = make_missing_interaction(n_samples=ctx.size(1000, 400), random_state=ctx.seed)
    test = make_missing_interaction(n_samples=ctx.size(2000, 500), random_state=ctx.seed + 1)
    params = {"cv": 3, "n_jobs": 1, "random_state": ctx.seed, "verbose": max(ctx.verbose - 1, 0)}
    offline = ResidualAgentRegressor(
        LinearRegression(), n_corrections=2, n_rounds=ctx.size(3, 1), **params
    ).fit(train.data, train.target)
    with offline_llm(_scripted_agents()) as server, server.client(timeout=10) as llm:
        agents = ResidualAgentRegressor(
            LinearRegression(), llm=llm, n_corrections=1, n_rounds=2, **params
        ).fit(train.data, train.target)
        usage = llm.usage

    base = LinearRegression().fit(train.data, train.target)
    frozen = FrozenCorrections(offline.base_estimator_, offline.export_corrections())
    identical = bool(np.array_equal(frozen.predict(test.data), offline.predict(test.data)))
    if not identical:
        raise RuntimeError("FrozenCorrections did not reproduce the fitted model's predictions.")

    def mse(pred):
        return float(np.mean((test.target.to_numpy() - pred) ** 2))

    scores = {
        "linear base": mse(base.predict(test.data)),
        "offline corrections": mse(offline.predict(test.data)),
        "LLM agents (scripted)": mse(agents.predict(test.data)),
    }
    rows = [
        {
            "proposer": model_name,
            "formula": c.expression,
            "coefficient": round(c.coefficient, 4),
            "validation gain": round(c.validation_gain, 4),
            "explanation": c.explanation,
        }
        for model_name, model in (("offline", offline), ("llm", agents))
        for c in model.corrections_
    ]
    rejected = [t for t in agents.trace_ if t["status"] == "rejected" and t["step"] == "decoder"]

    fig, axes = figure(ncols=2, width=4.5, height=3.6)
    offline.plot_residuals(feature="x3", ax=axes[0])
    axes[1].bar(list(scores), list(scores.values()), color=["#b0b0b0", "#1f77b4", "#ff7f0e"])
    axes[1].set_ylabel("test mean squared error")
    axes[1].tick_params(axis="x", labelsize=7)
    axes[1].set_title("held-out error", fontsize=10)
    return {
        "text": (
            f"The planted mechanism of make_missing_interaction is {train.mechanism!r}; a "
            f"linear model alone reaches test MSE {scores['linear base']:.3f}. "
            f"ResidualAgentRegressor searches the linear model's "
            f"out-of-fold residuals and keeps terms only when they lower the validation loss. "
            f"Offline it found {', '.join(c.expression for c in offline.corrections_) or 'nothing'}"
            f"; test MSE {scores['linear base']:.3f} -> {scores['offline corrections']:.3f}.\n\n"
            f"With LLM agents (a local scripted server: {usage.requests} requests), the first "
            f"formula the 'model' wrote, {_DEMO_FORMULAS[0]!r}, "
            + (
                f"was rejected by the parser ({len(rejected)} rejection(s), nothing ran)"
                if _DEMO_FORMULAS[0] in {t["formula"] for t in rejected}
                else "was not rejected by the parser"
            )
            + "; kept: "
            + (", ".join(c.expression for c in agents.corrections_) or "nothing")
            + f" (test MSE {scores['LLM agents (scripted)']:.3f}). "
            f"Exported to JSON and reapplied with FrozenCorrections, the offline corrections "
            f"give identical predictions: {identical}."
        ),
        "figure": fig,
        "table": pd.DataFrame(rows),
        "data": {
            "mechanism": train.mechanism,
            "offline": [c.to_dict() for c in offline.corrections_],
            "llm": [c.to_dict() for c in agents.corrections_],
            "test_mse": scores,
            "llm_requests": usage.requests,
            "rejected_formulas": [t["formula"] for t in rejected],
            "frozen_identical": identical,
        },
    }

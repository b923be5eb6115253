"""LLM-mode residual agents against a local scripted server: requests, tokens, rejections.

A local OpenAI-compatible server (tabsift.llm.testing.LocalLLMServer) plays the model.
Its decoder replies cycle through a fixed script: broken JSON, unsafe code, a formula
with an unknown column, a formula that is not finite, and valid formulas (the planted
terms and weaker variants). This measures the protocol's cost and robustness, not an
LLM's skill: requests and tokens per fit (the server counts whitespace-separated words
as tokens), the share of formulas rejected by the parser/evaluator, and the held-out
MSE on make_missing_interaction with a linear base.

Run: python benchmarks/bench_residual_llm.py [--seeds 5] [--rounds 3,10]
"""

import argparse
import json
import time
import warnings

import numpy as np
from _common import machine, markdown_table

SCRIPT = [
    '{"explanation": "broken", "formula": "x1 *',
    '{"explanation": "unsafe", "formula": "__import__(\'os\').system(\'id\')"}',
    '{"explanation": "typo", "formula": "x33 ** 2"}',
    '{"explanation": "not finite", "formula": "log(x1 - 100)"}',
    '{"explanation": "weak", "formula": "x1 * x2"}',
    '{"explanation": "interaction", "formula": "sigmoid(2 * x1 * x2)"}',
    '{"explanation": "curvature", "formula": "x3 ** 2"}',
]


class ScriptedAgents:
    def __init__(self):
        self.decoder_calls = 0

    def __call__(self, request):
        prompt = request["messages"][-1]["content"]
        if "Find ONE systematic pattern" in prompt:
            return json.dumps(
                {
                    "pattern": "p",
                    "features": ["x1", "x2", "x3"],
                    "functional_form": "f",
                    "rationale": "r",
                }
            )
        if "Diagnose" in prompt:
            return json.dumps({"diagnosis": "d", "change": "structural", "suggestion": "s"})
        reply = SCRIPT[self.decoder_calls % len(SCRIPT)]
        self.decoder_calls += 1
        return reply


def run(seed, rounds):
    from sklearn.linear_model import LinearRegression

    from tabsift.datasets import make_missing_interaction
    from tabsift.llm.testing import LocalLLMServer
    from tabsift.residual import ResidualAgentRegressor

    train = make_missing_interaction(n_samples=800, random_state=seed)
    test = make_missing_interaction(n_samples=2000, random_state=seed + 100)
    with LocalLLMServer(ScriptedAgents()) as server, server.client(timeout=10) as llm:
        model = ResidualAgentRegressor(
            LinearRegression(),
            llm=llm,
            n_corrections=2,
            n_rounds=rounds,
            cv=5,
            n_jobs=1,
            random_state=seed,
        )
        start = time.perf_counter()
        model.fit(train.data, train.target)
        elapsed = time.perf_counter() - start
        usage = llm.usage
    decoder = [t for t in model.trace_ if t["step"] == "decoder"]
    rejected = sum(t["status"] == "rejected" for t in decoder)
    # Formulas the decoder sent: parser/evaluator rejections plus accepted candidates; a
    # reply that is not JSON never reaches the parser (chat_json asks again).
    base = LinearRegression().fit(train.data, train.target)
    mse = lambda p: float(np.mean((test.target.to_numpy() - p) ** 2))  # noqa: E731
    return {
        "requests": usage.requests,
        "tokens": usage.total_tokens,
        "formulas": len(decoder),
        "rejected": rejected,
        "base_mse": mse(base.predict(test.data)),
        "mse": mse(model.predict(test.data)),
        "kept": [c.expression for c in model.corrections_],
        "seconds": elapsed,
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--rounds", default="3,10")
    args = parser.parse_args()
    warnings.filterwarnings("ignore")
    print(f"Machine: {machine()} (shared and contended: timings are indicative only)")
    rows = []
    for rounds in [int(r) for r in args.rounds.split(",")]:
        runs = [run(seed, rounds) for seed in range(args.seeds)]
        kept = sorted({f for r in runs for f in r["kept"]})
        rows.append(
            {
                "K x T": f"2 x {rounds}",
                "requests / fit": f"{np.mean([r['requests'] for r in runs]):.1f}",
                "tokens / fit": f"{np.mean([r['tokens'] for r in runs]):.0f}",
                "formulas / fit": f"{np.mean([r['formulas'] for r in runs]):.1f}",
                "rejected": f"{sum(r['rejected'] for r in runs) / sum(r['formulas'] for r in runs):.0%}",
                "test MSE base": f"{np.mean([r['base_mse'] for r in runs]):.3f}",
                "test MSE corrected": f"{np.mean([r['mse'] for r in runs]):.3f}",
                "kept": ", ".join(f"`{k}`" for k in kept),
                "fit s": f"{np.mean([r['seconds'] for r in runs]):.1f}",
            }
        )
        print(rows[-1], flush=True)
    print()
    print(markdown_table(rows, list(rows[0])))


if __name__ == "__main__":
    main()

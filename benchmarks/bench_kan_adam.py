"""Adam step on one flat parameter: tabsift's ``_FlatAdam`` against ``torch.optim.Adam(fused=True)``.

The KAN engine keeps all stacked networks' weights in one flat buffer, so an
optimiser step is one kernel call. This measures whether torch's public fused
Adam on that one tensor costs as little per step as ``_FlatAdam`` (which calls
the same kernel through the private ``torch._fused_adam_``). The two run
interleaved, in alternating rounds, and the load average is recorded, since
the machine may be shared.

Run: ``python benchmarks/bench_kan_adam.py [--steps N] [--rounds R]``.
"""

import argparse
import os
import time

import torch


def _time_steps(step, steps):
    start = time.perf_counter()
    for _ in range(steps):
        step()
    return (time.perf_counter() - start) / steps * 1e6  # microseconds per step


def _flat_adam_step(size):
    from tabsift.feature_selection._kan_speed import _FlatAdam

    flat, grad = torch.zeros(size), torch.randn(size)
    adam = _FlatAdam(flat, grad, 1e-2)
    return adam.step


def _torch_adam_step(size):
    flat = torch.zeros(size)
    flat.grad = torch.randn(size)
    optimizer = torch.optim.Adam([flat], lr=1e-2, fused=True)
    return optimizer.step


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=3000)
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args()
    torch.set_num_threads(1)
    # Flat sizes of 1 and 5 stacked networks of widths [10, 21, 2], grid 5, order 1.
    per_network = 21 * 10 * 7 + 2 * 21 * 7 + 21 * 10 + 2 * 21
    print(f"load average before: {os.getloadavg()}")
    for m in (1, 5):
        size = m * per_network
        candidates = {"_FlatAdam": _flat_adam_step(size), "Adam(fused=True)": _torch_adam_step(size)}
        times = {name: [] for name in candidates}
        for _ in range(args.rounds):
            for name, step in candidates.items():  # interleaved: both see the same load
                times[name].append(_time_steps(step, args.steps))
        best = {name: min(values) for name, values in times.items()}
        ratio = best["Adam(fused=True)"] / best["_FlatAdam"]
        print(
            f"m={m} ({size} weights): _FlatAdam {best['_FlatAdam']:.1f} us/step, "
            f"Adam(fused=True) {best['Adam(fused=True)']:.1f} us/step, ratio {ratio:.2f} "
            f"(best of {args.rounds} rounds of {args.steps} steps)"
        )
    print(f"load average after: {os.getloadavg()}")


if __name__ == "__main__":
    main()

"""The few-shot ablation: which terms of the total loss help, on the embedded glyphs.

``python -m benchmarks ablation [EPISODES]`` trains one prototypical network per row below with
the same seed, episodes and schedule (10-way 1-shot 5-query training episodes), and evaluates
each on 600 test episodes (held-out scripts) 5-way 1-shot, with 95% confidence intervals. It
writes ``benchmarks/results/fewshot_ablation.md`` (the table the README quotes) and
the logs and checkpoints under ``runs/ablation/``. The default 1500 episodes are those of
``nploss train``; about 4 minutes per row on 2 cores (30 minutes in all).
"""

from __future__ import annotations

import json
import pathlib
import sys
import time

ROWS = {
    "CE only": {"var": False, "cov": False},
    "CE + L_var": {"var": True, "cov": False},
    "CE + L_var + L_cov (fixed λ)": {},
    "adaptive λ": {"lambda_mode": "adaptive"},
    "focal (γ = 2)": {"loss": "focal"},
    "attention refinement": {"refine": True},
}
EVAL_EPISODES = 600
SHOTS = (1,)  # 5-way 1-shot, the harder setting; `nploss evaluate --shots 5` on a row's checkpoint gives 5-shot
HERE = pathlib.Path(__file__).resolve().parent


def lambda_by_granularity(trainer, config, episodes: int = 200) -> dict[str, float]:  # noqa: ANN001
    """The adaptive network's λ_var on fine-grained test episodes (five classes of one script)
    and on coarse ones (any five classes), and the figure ``figures/fewshot_lambda_granularity.png``."""
    from nploss.fewshot import EpisodeSampler
    from nploss.fewshot.figures import lambda_by_granularity as plot
    from nploss.fewshot.figures import predicted_lambdas
    from nploss.fewshot.train import load_split

    images, labels, groups = load_split(config, "test")
    fine = predicted_lambdas(trainer, EpisodeSampler(images, labels, 5, 1, 15, seed=7, groups=groups, within_group=True), episodes)
    coarse = predicted_lambdas(trainer, EpisodeSampler(images, labels, 5, 1, 15, seed=7), episodes)
    plot(fine[:, 0], coarse[:, 0], HERE.parent / "figures" / "fewshot_lambda_granularity.png")
    return {"fine": float(fine[:, 0].mean()), "coarse": float(coarse[:, 0].mean())}


def run(episodes: int = 1500) -> None:
    from nploss.fewshot import EpisodeSampler, TrainConfig, Trainer
    from nploss.fewshot.cli import eval_queries
    from nploss.fewshot.evaluate import evaluate
    from nploss.fewshot.train import load_split

    results = {}
    print(f"few-shot ablation: {episodes} training episodes per row, {EVAL_EPISODES} test episodes")
    for name, overrides in ROWS.items():
        start = time.perf_counter()
        config = TrainConfig(episodes=episodes, **overrides)
        trainer = Trainer(config)
        trainer.run(pathlib.Path("runs/ablation") / name.split(" (")[0].replace(" ", "_").replace("+", "plus"), progress=False)
        images, labels, _ = load_split(config, "test")
        row = {"seconds": round(time.perf_counter() - start, 1)}
        for shots in SHOTS:
            sampler = EpisodeSampler(images, labels, 5, shots, eval_queries(shots), seed=config.seed + 1)
            acc = evaluate(trainer.model, sampler, EVAL_EPISODES)
            row[f"{shots}-shot"] = {"mean": acc.mean, "ci95": acc.ci95}
        if trainer.lambdas is not None:
            row["lambda_var"] = lambda_by_granularity(trainer, config)
        results[name] = row
        scores = "   ".join(f"{k}-shot {100 * row[f'{k}-shot']['mean']:.2f} ± {100 * row[f'{k}-shot']['ci95']:.2f}" for k in SHOTS)
        print(f"  {name:<30} {scores}   ({row['seconds']:.0f} s)", flush=True)
    out = HERE / "results"
    out.mkdir(exist_ok=True)
    lines = [
        f"Embedded glyphs, test scripts, 5-way, {EVAL_EPISODES} episodes, 95% CI; {episodes} training episodes "
        "(10-way 1-shot 5-query), seed 0. Command: `python -m benchmarks ablation`.",
        "",
        "| variant | " + " | ".join(f"5-way {k}-shot" for k in SHOTS) + " | train + eval time |",
        "| --- | " + " | ".join("---" for _ in SHOTS) + " | --- |",
    ]
    for name, row in results.items():
        cells = [f"{100 * row[f'{k}-shot']['mean']:.2f} ± {100 * row[f'{k}-shot']['ci95']:.2f}%" for k in SHOTS]
        lines.append(f"| {name} | " + " | ".join(cells) + f" | {row['seconds']:.0f} s |")
    for name, row in results.items():
        if "lambda_var" in row:
            lam = row["lambda_var"]
            lines += ["", f"{name}: mean predicted λ_var {lam['fine']:.4f} on fine-grained test episodes (one script) "
                      f"and {lam['coarse']:.4f} on coarse ones (any scripts); figure `figures/fewshot_lambda_granularity.png`."]  # fmt: skip
    (out / "fewshot_ablation.md").write_text("\n".join(lines) + "\n")
    (out / "fewshot_ablation.json").write_text(json.dumps(results, indent=1))
    print(f"wrote {out / 'fewshot_ablation.md'}")


if __name__ == "__main__":
    run(int(sys.argv[1]) if len(sys.argv) > 1 else 1500)

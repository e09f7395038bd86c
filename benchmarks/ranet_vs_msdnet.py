"""RANet and MSDNet quickstarts side by side: per-exit accuracy and FLOPs, budgeted curves on
one plot, LiteRT latency per exit, and RANet's cascade path against its truncated models.

    python benchmarks/ranet_vs_msdnet.py --run ranet=runs/compare/ranet \\
        --run msdnet=runs/compare/msdnet --output benchmarks/results/ranet_vs_msdnet

Reads what the pipeline wrote: each run's logits.npz, anytime.json and budgeted.json
(`python -m msdnet_tf.evaluate --workdir RUN`) and, when present, RUN/tflite/<mode>/
latency_1t.json (`python tflite/benchmark.py --models RUN/tflite --threads 1`) and
RUN/tflite/<mode>/fidelity.json (`python tflite/convert.py --workdir RUN --mode float --mode
int8 --output RUN/tflite`) for the XNNPACK delegation of every file. Times nothing
itself. Writes OUTPUT.json, OUTPUT.md (tables) and OUTPUT.png (both budgeted curves and
single exits on one plot).
"""

import argparse
import json
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402

BUDGETS = (3.5e6, 4e6, 5e6, 6e6, 7e6, 8e6, 10e6, 12e6)
MODES = ("float", "int8")


def envelope_at(points, budget):
    """Best test top-1 of curve points whose expected FLOPs are <= budget, or None."""
    ok = [p["test_accuracy"] for p in points if p["expected_flops"] <= budget]
    return max(ok) if ok else None


def interpolated_at(points, budget):
    """Test top-1 of the curve linearly interpolated at `budget` (None outside its range)."""
    pts = sorted((p["expected_flops"], p["test_accuracy"]) for p in points)
    xs, ys = [x for x, _ in pts], [y for _, y in pts]
    if not xs[0] <= budget <= xs[-1]:
        return None
    return float(np.interp(budget, xs, ys))


def load_run(name, run):
    run = Path(run)
    anytime = json.loads((run / "anytime.json").read_text())
    budgeted = json.loads((run / "budgeted.json").read_text())
    latency = {}
    for mode in MODES:
        path = run / "tflite" / mode / "latency_1t.json"
        if path.is_file():
            latency[mode] = json.loads(path.read_text())
    delegation = {}
    for mode in MODES:
        path = run / "tflite" / mode / "fidelity.json"
        if path.is_file():
            delegation[mode] = json.loads(path.read_text())["xnnpack"]
    return {"name": name, "run": str(run), "anytime": anytime["exits"], "delegation": delegation,
            "budgeted": budgeted["points"], "latency": latency,
            "truncated_flops": truncated_flops(run) if latency else None}


def truncated_flops(run):
    from msdnet_tf import flops
    from msdnet_tf.inference import load_run as load

    _, model = load(run)
    return flops.truncated_flops(model)


def exit_table(runs):
    lines = ["| model | exit | test top-1 % | cum. MFLOPs | float path ms | float truncated ms | "
             "int8 path ms | int8 truncated ms |", "|---|---|---|---|---|---|---|---|"]
    for r in runs:
        for e in r["anytime"]:
            k, cells = e["exit"], []
            for mode in MODES:
                lat = r["latency"].get(mode)
                row = lat["exits"][k] if lat else None
                cells += [f"{row['path_ms']:.3f}" if row else "-",
                          f"{row['truncated_ms']:.3f}" if row else "-"]
            lines.append(f"| {r['name']} | {k} | {e['top1']:.2f} | {e['flops'] / 1e6:.2f} | "
                         + " | ".join(cells) + " |")
    return "\n".join(lines)


def budget_table(runs):
    head = "| budget (MFLOPs) | " + " | ".join(
        f"{r['name']} best top-1 within budget" for r in runs) + " | " + " | ".join(
        f"{r['name']} curve at budget" for r in runs) + " |"
    lines = [head, "|---|" + "---|" * (2 * len(runs))]
    rows = []
    for b in BUDGETS:
        best = [envelope_at(r["budgeted"], b) for r in runs]
        interp = [interpolated_at(r["budgeted"], b) for r in runs]
        rows.append({"budget": b, "best": dict(zip([r["name"] for r in runs], best)),
                     "interpolated": dict(zip([r["name"] for r in runs], interp))})
        cells = [f"{v:.2f}" if v is not None else "-" for v in best + interp]
        lines.append(f"| {b / 1e6:.1f} | " + " | ".join(cells) + " |")
    return "\n".join(lines), rows


def cascade_table(run):
    """Path vs truncated latency per exit against the FLOP ratio (cumulative / truncated)."""
    lines = ["| mode | exit | sum of stages ms | path ms | truncated ms | path / truncated | "
             "FLOPs cum. / truncated | beyond the FLOP ratio |",
             "|---|---|---|---|---|---|---|---|"]
    rows = []
    for mode, lat in run["latency"].items():
        stage_sum = 0.0
        for e in lat["exits"]:
            k = e["exit"]
            stage_sum += e["stage_ms"]
            flop_ratio = run["anytime"][k]["flops"] / run["truncated_flops"][k]
            ratio = e["path_ms"] / e["truncated_ms"]
            rows.append({"mode": mode, "exit": k, "stage_sum_ms": stage_sum,
                         "path_ms": e["path_ms"], "truncated_ms": e["truncated_ms"],
                         "path_over_truncated": ratio, "flop_ratio": flop_ratio,
                         "beyond": ratio / flop_ratio})
            lines.append(f"| {mode} | {k} | {stage_sum:.3f} | {e['path_ms']:.3f} | "
                         f"{e['truncated_ms']:.3f} | {ratio:.3f} | {flop_ratio:.3f} | "
                         f"{ratio / flop_ratio:.3f} |")
    return "\n".join(lines), rows


def delegation_table(runs):
    """XNNPACK delegation of every converted file (convert.py's fidelity.json)."""
    lines = ["| model | mode | file | RESIZE_BILINEAR ops | ops left to the builtin kernels |",
             "|---|---|---|---|---|"]
    for r in runs:
        for mode, files in r["delegation"].items():
            for name, check in files.items():
                resizes = sum(sig["ops"].get("RESIZE_BILINEAR", 0)
                              for sig in check["signatures"].values())
                left = ", ".join(f"{k} {v}" for k, v in sorted(check["not_delegated"].items()))
                lines.append(f"| {r['name']} | {mode} | {name} | {resizes} | {left or 'none'} |")
    return "\n".join(lines)


def plot(runs, path):
    from matplotlib.figure import Figure

    fig = Figure(figsize=(7.2, 4.8), dpi=100)
    ax = fig.add_subplot()
    ax.set_title("Fashion-MNIST quickstarts: budgeted batch classification (test set)")
    ax.set_xlabel("expected FLOPs per image (multiply-adds)")
    ax.set_ylabel("top-1 accuracy (%)")
    ax.grid(True, alpha=0.3)
    for r, color in zip(runs, ("tab:red", "tab:blue", "tab:green")):
        pts = sorted((p["expected_flops"], p["test_accuracy"]) for p in r["budgeted"])
        ax.plot([x for x, _ in pts], [y for _, y in pts], "-", color=color, label=f"{r['name']}, "
                "budgeted (q = 1/20 ... 39/20)")
        ax.plot([e["flops"] for e in r["anytime"]], [e["top1"] for e in r["anytime"]], "o",
                color=color, label=f"{r['name']}, single exits")
    ax.legend(loc="lower right", fontsize="small")
    fig.tight_layout()
    fig.savefig(path, format="png")


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--run", action="append", required=True, metavar="NAME=DIR")
    p.add_argument("--output", required=True, help="path prefix of the .json/.md/.png files")
    args = p.parse_args(argv)
    from msdnet_tf.runtime.benchmark import machine

    runs = [load_run(*spec.split("=", 1)) for spec in args.run]
    budgets, budget_rows = budget_table(runs)
    cascades = {r["name"]: cascade_table(r) for r in runs if r["latency"]}
    out = Path(args.output)
    out.parent.mkdir(parents=True, exist_ok=True)
    plot(runs, out.with_suffix(".png"))
    text = [f"Machine: {machine()}; date: {time.strftime('%Y-%m-%d')}", "",
            "## Per exit", "", exit_table(runs), "", "## Budgeted batch, test set", "", budgets]
    if any(r["delegation"] for r in runs):
        text += ["", "## XNNPACK delegation of the converted files", "", delegation_table(runs)]
    for name, (table, _) in cascades.items():
        text += ["", f"## {name}: cascade path vs truncated exit models (1 thread)", "", table]
    out.with_suffix(".md").write_text("\n".join(text) + "\n")
    out.with_suffix(".json").write_text(json.dumps(
        {"machine": machine(), "date": time.strftime("%Y-%m-%d"), "runs": runs,
         "budgets": budget_rows,
         "cascade": {name: rows for name, (_, rows) in cascades.items()}}, indent=1) + "\n")
    print("\n".join(text))


if __name__ == "__main__":
    main()

"""Evaluation outputs: anytime.json, budgeted.json, thresholds.json, the two
plots, and text tables (returned as strings; the CLI prints them)."""

from pathlib import Path

from msdnet_tf.evaluation import plots, published
from msdnet_tf.evaluation.budgets import budget_record, encode_q
from msdnet_tf.evaluation.common import encode_float, write_json
from msdnet_tf.evaluation.thresholds_io import CRITERION, save_thresholds


def anytime_json(result):
    """{"exits": [{"exit", "name", "top1", "top5", "cumulative_flops", "cumulative_params"},
    ...]}, on the test set."""
    return {
        "split": "test",
        "num_samples": result.num_test,
        "model": result.model,
        "exits": [
            {"exit": e.exit, "name": e.name, "top1": e.top1, f"top{e.k}": e.top_k,
             "cumulative_flops": e.flops, "cumulative_params": e.params}
            for e in result.anytime
        ],
    }


def _point_json(point, exit_flops):
    return {
        "q": encode_q(point.q),
        "thresholds": [encode_float(t) for t in point.thresholds],
        "exit_fractions": list(point.test.fractions),
        "val_accuracy": point.val.accuracy,
        "test_accuracy": point.test.accuracy,
        "expected_flops": point.test.expected_cost(exit_flops),
        "val_exit_fractions": list(point.val.fractions),
        "val_expected_flops": point.val.expected_cost(exit_flops),
    }


def budgeted_json(result):
    """{"points": [...]}, one per q; fractions and expected FLOPs are on the test set."""
    return {
        "criterion": CRITERION,
        "num_val": result.num_val,
        "num_test": result.num_test,
        "exit_cumulative_flops": list(result.exit_flops),
        "model": result.model,
        "points": [_point_json(p, result.exit_flops) for p in result.curve],
    }


def write_outputs(result, out_dir, dataset=None):
    """Writes every output file into `out_dir`; returns {name: path}.

    dataset: a `published` key (e.g. "cifar100"); the published curves of every
    family for it, if any, are overlaid on the plots.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = {
        "anytime.json": write_json(out / "anytime.json", anytime_json(result)),
        "budgeted.json": write_json(out / "budgeted.json", budgeted_json(result)),
        "anytime.png": plots.plot_anytime(
            result, out / "anytime.png", published.published_curves(dataset, "anytime")),
        "budgeted.png": plots.plot_budgeted(
            result, out / "budgeted.png", published.published_curves(dataset, "budgeted")),
    }
    if result.budget is not None:
        paths["thresholds.json"] = save_thresholds(
            out / "thresholds.json", result.budget.point.thresholds,
            budget=budget_record(result.budget, result.exit_flops), model=result.model)
    return paths


def _mflops(x):
    return f"{x / 1e6:,.2f}"


def _table(header, rows):
    widths = [max(len(str(r[i])) for r in [header] + rows) for i in range(len(header))]
    lines = ["  ".join(str(c).rjust(w) for c, w in zip(r, widths)) for r in [header] + rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def format_anytime_table(result):
    k = result.anytime[0].k
    rows = [[e.name, f"{e.top1:.2f}", f"{e.top_k:.2f}", _mflops(e.flops),
             "-" if e.params is None else _mflops(e.params)] for e in result.anytime]
    title = f"Anytime prediction, test set ({result.num_test} images)"
    return title + "\n" + _table(["exit", "top-1 %", f"top-{k} %", "MFLOPs", "Mparams"], rows)


def format_budgeted_table(result):
    rows = [[f"{float(p.q):.2f}", _mflops(p.test.expected_cost(result.exit_flops)),
             f"{p.test.accuracy:.2f}", f"{p.val.accuracy:.2f}"] for p in result.curve]
    title = (f"Budgeted batch classification (thresholds from {result.num_val} hold-out "
             f"images, applied to {result.num_test} test images)")
    return title + "\n" + _table(["q", "exp. MFLOPs", "test top-1 %", "hold-out top-1 %"], rows)


def format_budget(result):
    """A few lines on the setting chosen for the budget, or '' without one."""
    r = result.budget
    if r is None:
        return ""
    b, p = r.budget, r.point
    shares = " ".join(f"{f:.3f}" for f in p.test.fractions)
    thresholds = " ".join("inf" if t == float("inf") else "-inf" if t == float("-inf")
                          else f"{t:.4f}" for t in p.thresholds)
    return "\n".join([
        f"Budget: {b.describe(b.value)} per image ({r.note})",
        f"  q = {float(p.q):.6g}; expected cost: hold-out {b.describe(r.val_cost)}, "
        f"test {b.describe(r.test_cost)}",
        f"  top-1: hold-out {p.val.accuracy:.2f} %, test {p.test.accuracy:.2f} %",
        f"  thresholds: {thresholds}",
        f"  test exit shares: {shares}",
    ])

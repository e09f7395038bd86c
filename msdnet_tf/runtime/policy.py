"""Where a cascade's thresholds come from: a file, the exit-share q, or a budget.

q and the budgets are resolved on the hold-out logits of the run that produced
the model (`<workdir>/logits.npz`, written by `msdnet_tf.evaluate --workdir`),
exactly as the evaluation does, so the harness and the paper's protocol agree.
"""

import math
from pathlib import Path

from msdnet_tf import evaluation as ev
from msdnet_tf.cli import UserError


def _run_logits(manifest, workdir):
    workdir = workdir or (manifest.get("source") or {}).get("workdir")
    if not workdir:
        raise UserError("--q and --budget-* need the run's hold-out logits: pass --workdir DIR "
                        "(the training run the model was converted from)")
    path = Path(workdir) / "logits.npz"
    if not path.is_file():
        raise UserError(f"no {path}: run python -m msdnet_tf.evaluate --workdir {workdir} first")
    try:
        data = ev.load_logits(path)
    except ev.EvaluationError as e:
        raise UserError(str(e)) from None
    if data.model is not None and data.model != manifest["model"]:
        raise UserError(f"{path} belongs to model {data.model}, the converted model is "
                        f"{manifest['model']}: evaluate the run the model was converted from")
    if data.num_exits != manifest["num_exits"]:
        raise UserError(f"{path} has {data.num_exits} exits, the model {manifest['num_exits']}")
    return data


def resolve(manifest, thresholds=None, q=None, budget_flops=None, budget_ms=None,
            latency=None, workdir=None):
    """(thresholds float64 [K] or None, a description) for the chosen policy."""
    k = manifest["num_exits"]
    try:
        if thresholds:
            t = ev.load_thresholds(thresholds, num_exits=k, model=manifest["model"])
            return list(t.thresholds), f"thresholds from {thresholds}"
        if q is None and budget_flops is None and budget_ms is None:
            if manifest.get("thresholds"):
                return [float(v) for v in manifest["thresholds"]["thresholds"]], \
                    "thresholds from manifest.json"
            return None, "no thresholds: every image runs to the last exit"
        data = _run_logits(manifest, workdir)
        val = ev.exit_scores(data.val_logits, data.val_labels)
        finder = ev.ThresholdFinder(val.max_prob)
        if q is not None:
            if not q > 0:
                raise UserError(f"--q must be > 0. Received: --q={q}")
            return list(finder.thresholds(q)), f"hold-out thresholds for q={q:g}"
        test = ev.exit_scores(data.test_logits, data.test_labels)
        if budget_flops is not None:
            budget = ev.flops_budget(budget_flops, data.exit_flops)
        else:
            budget = ev.latency_budget(budget_ms, ev.load_latency(latency, num_exits=k))
        result = ev.search_budget(budget, val, test, finder)
        return list(result.point.thresholds), \
            f"hold-out thresholds for {budget.describe(budget.value)} (q={float(result.point.q):.4g})"
    except ev.EvaluationError as e:
        raise UserError(str(e)) from None


def encode(thresholds):
    return [t if math.isfinite(t) else ("inf" if t > 0 else "-inf") for t in thresholds]

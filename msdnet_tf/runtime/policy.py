"""Where a cascade's thresholds come from: a file, the exit-share q, or a budget.

q and the budgets are resolved on the hold-out logits of the run that produced
the model (`<workdir>/logits.npz`, written by `msdnet_tf.evaluate --workdir`),
exactly as the evaluation does, so the harness and the paper's protocol agree.
"""

import math
from pathlib import Path

from msdnet_tf import evaluation as ev
from msdnet_tf.cli import UserError


def _logits_path(manifest, workdir):
    """DIR/logits.npz, or DIR/logits_r<R>.npz for a switchable model's smaller sides."""
    sizes = [e["resolution"] for e in manifest.get("resolutions") or []]
    r = manifest.get("resolution")
    name = "logits.npz" if not sizes or r in (None, sizes[0]) else f"logits_r{r}.npz"
    return Path(workdir) / name


def _workdir(manifest, workdir):
    workdir = workdir or (manifest.get("source") or {}).get("workdir")
    if not workdir:
        raise UserError("--q and --budget-* need the run's hold-out logits: pass --workdir DIR "
                        "(the training run the model was converted from)")
    return workdir


def _run_logits(manifest, workdir):
    workdir = _workdir(manifest, workdir)
    path = _logits_path(manifest, workdir)
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


def choose(manifest, thresholds=None, q=None, budget_flops=None, budget_ms=None, latency=None,
           workdir=None, resolution=None):
    """(input side, thresholds or None, description) for a possibly switchable model.

    The side is --resolution if given, else the one a thresholds file names,
    else, for a budget with several sides, the side and thresholds with the
    best hold-out accuracy within it (evaluation.resolution.choose, on the
    run's per-side logits, with per-side latencies for --budget-ms), else the
    largest. Then thresholds come from `resolve` on that side's manifest.
    """
    from msdnet_tf.runtime import manifest as manifest_lib

    sizes = manifest_lib.resolutions(manifest)
    try:
        named = ev.load_thresholds(thresholds).resolution if thresholds else None
    except ev.EvaluationError as e:
        raise UserError(str(e)) from None
    if resolution is not None and named is not None and named != resolution:
        raise UserError(f"{thresholds} holds thresholds for {named}x{named}, not for "
                        f"--resolution {resolution}")
    side = resolution or named
    if side is None and len(sizes) > 1 and (budget_flops is not None or budget_ms is not None):
        return _joint(manifest, sizes, budget_flops, budget_ms, latency, workdir)
    one = manifest_lib.select(manifest, side)
    values, how = resolve(one, thresholds, q, budget_flops, budget_ms, latency, workdir)
    return one["input"]["shape"][1], values, how


def _joint(manifest, sizes, budget_flops, budget_ms, latency, workdir):
    from msdnet_tf.evaluation import resolution as joint
    from msdnet_tf.runtime import manifest as manifest_lib

    try:
        sets = {r: _run_logits(manifest_lib.select(manifest, r), workdir) for r in sizes}
        space = joint.JointSpace(sets)
        if budget_ms is not None:
            costs = joint.load_latency_by_resolution(latency, sizes, space.num_exits)
            space, metric, value = space.with_costs(costs), "latency_ms", budget_ms
        else:
            metric, value = "flops", budget_flops
        c = joint.choose(space.singles(), metric, value)
    except ev.EvaluationError as e:
        raise UserError(str(e)) from None
    p = c.result.point
    how = (f"{c.resolution}x{c.resolution} and its hold-out thresholds for "
           f"{c.result.budget.describe(value)} (q={float(p.q):.4g}; best hold-out accuracy "
           f"over {', '.join(map(str, sizes))})")
    return c.resolution, list(p.thresholds), how

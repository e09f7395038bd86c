"""Evaluation of multi-exit models from their logits, the way the paper does it.

Anytime (every exit's accuracy against its cumulative FLOPs) and budgeted batch
evaluation (thresholds on the max softmax probability found on a hold-out for
q = 1/20 ... 39/20, applied to the test set), plus thresholds for a FLOPs or
latency budget. Pure numpy (matplotlib for the plots); never imports TensorFlow.

Typical use:

    data = load_logits("run/logits.npz")
    result = evaluate_logits(data, budget=flops_budget(5e7, data.exit_flops))
    write_outputs(result, "run", dataset="cifar100")
"""

from msdnet_tf.evaluation.anytime import AnytimeExit, anytime_results
from msdnet_tf.evaluation.budgeted import (
    BudgetedPoint, SplitOutcome, ThresholdFinder, assign_exits, budgeted_curve, evaluate_q,
    exit_counts, paper_q_values, split_outcome,
)
from msdnet_tf.evaluation.budgets import (
    Budget, BudgetResult, LatencyProfile, budget_record, flops_budget, latency_budget,
    load_latency, search_budget,
)
from msdnet_tf.evaluation.common import EvaluationError
from msdnet_tf.evaluation.logits_io import LogitsSet, load_logits, save_logits, validate_logits
from msdnet_tf.evaluation.pipeline import EvaluationResult, evaluate_logits
from msdnet_tf.evaluation.published import PublishedCurve, published_curve, published_curves
from msdnet_tf.evaluation.report import (
    anytime_json, budgeted_json, format_anytime_table, format_budget, format_budgeted_table,
    write_outputs,
)
from msdnet_tf.evaluation.scores import ExitScores, exit_scores, max_softmax
from msdnet_tf.evaluation.thresholds_io import Thresholds, load_thresholds, save_thresholds

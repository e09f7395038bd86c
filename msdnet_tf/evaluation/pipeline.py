"""From a logits file to every evaluation result (no I/O, no printing)."""

import dataclasses

from msdnet_tf.evaluation import anytime, budgeted, budgets, scores


@dataclasses.dataclass(frozen=True)
class EvaluationResult:
    """Anytime results (test set), the paper's budgeted curve, and optionally
    the setting chosen for a budget."""

    anytime: list
    curve: list
    exit_flops: tuple
    budget: budgets.BudgetResult | None
    model: str | None
    num_val: int
    num_test: int

    @property
    def num_exits(self):
        return len(self.exit_flops)


def evaluate_logits(data, num_q=39, top_k=5, budget=None):
    """Evaluates a `LogitsSet` the paper's way.

    num_q: number of q = m/20 values on the budgeted curve (the paper: 39).
    top_k: the second accuracy of the anytime table (the paper: top-5).
    budget: a `budgets.Budget` (FLOPs or latency) to choose thresholds for, or None.
    """
    val = scores.exit_scores(data.val_logits, data.val_labels, top_k=top_k)
    test = scores.exit_scores(data.test_logits, data.test_labels, top_k=top_k)
    finder = budgeted.ThresholdFinder(val.max_prob)
    params = None if data.exit_params is None else data.exit_params.tolist()
    return EvaluationResult(
        anytime=anytime.anytime_results(test, data.exit_flops.tolist(), params),
        curve=budgeted.budgeted_curve(val, test, num_q=num_q, finder=finder),
        exit_flops=tuple(data.exit_flops.tolist()),
        budget=None if budget is None else budgets.search_budget(budget, val, test, finder),
        model=data.model, num_val=val.num_samples, num_test=test.num_samples,
    )

"""Anytime evaluation: every exit's accuracy on the test set against its
cumulative cost (exit k has run blocks and classifiers 1..k)."""

import dataclasses


@dataclasses.dataclass(frozen=True)
class AnytimeExit:
    """Accuracy of exit `exit` (0-based: exit_0 ... exit_{K-1}), in percent."""

    exit: int
    top1: float
    top_k: float
    k: int
    flops: float
    params: float | None

    @property
    def name(self):
        return f"exit_{self.exit}"


def anytime_results(scores, exit_flops, exit_params=None):
    """One `AnytimeExit` per exit of an `ExitScores` (normally the test set)."""
    if len(exit_flops) != scores.num_exits:
        raise ValueError(f"need one FLOPs figure per exit ({scores.num_exits}). "
                         f"Received: {len(exit_flops)}")
    n = scores.num_samples
    top1 = scores.correct.sum(axis=1)
    top_k = scores.correct_top_k.sum(axis=1)
    return [
        AnytimeExit(
            exit=k, top1=100.0 * int(top1[k]) / n, top_k=100.0 * int(top_k[k]) / n,
            k=scores.top_k, flops=float(exit_flops[k]),
            params=None if exit_params is None else float(exit_params[k]),
        )
        for k in range(scores.num_exits)
    ]

package msdnet.cascade;

import java.util.Locale;
import java.util.Map;

/**
 * Picks the input side and the thresholds of a resolution-switchable model for a latency
 * budget, from what the phone has: each side's budgeted curve (budgeted.json's
 * {@code resolutions}: per exit-share q, the hold-out thresholds, the hold-out share of
 * images leaving at each exit and the hold-out accuracy) and this phone's measured path
 * latency of every (side, exit). A point's expected latency is
 * {@code sum_k valShare_k * pathMs[side][k]}; of the points within the budget, the one with
 * the best hold-out accuracy wins (ties: the cheaper). This is the rule of
 * {@code msdnet_tf.evaluation.resolution.choose}, restricted to the paper's q values the
 * curves hold.
 */
public final class ResolutionBudget {
    /** The side and point chosen, and the expected latency on this phone. */
    public static final class Choice {
        public final int resolution;
        public final BudgetTable.Point point;
        public final double expectedMs;

        Choice(int resolution, BudgetTable.Point point, double expectedMs) {
            this.resolution = resolution;
            this.point = point;
            this.expectedMs = expectedMs;
        }

        @Override
        public String toString() {
            return String.format(Locale.ROOT, "%dx%d, q = %.2f: hold-out %.1f%% top-1 at %.2f ms",
                    resolution, resolution, point.q, point.valAccuracy, expectedMs);
        }
    }

    private ResolutionBudget() {
    }

    /**
     * The best choice within {@code budgetMs}, or null when no point of any side fits.
     *
     * @param curves per side, its budgeted curve
     * @param pathMs per side, the measured cost of answering at each exit; sides missing
     *     here are not considered
     */
    public static Choice choose(double budgetMs, Map<Integer, BudgetTable> curves,
                                Map<Integer, double[]> pathMs) {
        Choice best = null;
        for (Map.Entry<Integer, BudgetTable> e : curves.entrySet()) {
            double[] costs = pathMs.get(e.getKey());
            if (costs == null) {
                continue;
            }
            for (BudgetTable.Point p : e.getValue().points) {
                double ms = p.expectedCost(costs);
                if (!(ms <= budgetMs) || Double.isNaN(p.valAccuracy)) {
                    continue;
                }
                if (best == null || p.valAccuracy > best.point.valAccuracy
                        || (p.valAccuracy == best.point.valAccuracy && ms < best.expectedMs)) {
                    best = new Choice(e.getKey(), p, ms);
                }
            }
        }
        return best;
    }

    /** The cheapest expected latency any point reaches (for the message when none fits). */
    public static double cheapestMs(Map<Integer, BudgetTable> curves, Map<Integer, double[]> pathMs) {
        double cheapest = Double.POSITIVE_INFINITY;
        for (Map.Entry<Integer, BudgetTable> e : curves.entrySet()) {
            double[] costs = pathMs.get(e.getKey());
            if (costs == null) {
                continue;
            }
            for (BudgetTable.Point p : e.getValue().points) {
                cheapest = Math.min(cheapest, p.expectedCost(costs));
            }
        }
        return cheapest;
    }
}

package msdnet.cascade;

import java.util.Locale;
import java.util.Map;

/**
 * How the cascade decides where an image leaves, as the app's budget control offers it, and
 * what each choice needs: the shipped thresholds (thresholds.json or the manifest's),
 * budgeted.json for an exit share q, this phone's measured stage latencies for a deadline.
 *
 * <p>A choice whose input is missing does not fail image after image: {@link #resolve} falls
 * back to the last exit (every stage runs, always possible) and says why in
 * {@link Resolved#fallback}, for the app to show once and keep on screen. The shipped
 * thresholds are the default choice, so a model bundled without thresholds.json lands here
 * on the first frame.
 */
public final class BudgetPolicy {
    /** The choices of the budget control. */
    public enum Mode {
        /** The thresholds shipped with the model. */
        THRESHOLDS,
        /** The paper's exit share q: the hold-out thresholds of the nearest q of budgeted.json. */
        EXIT_SHARE,
        /** Anytime: go on only while the next stage fits the deadline (measured costs). */
        DEADLINE,
        /** Every stage runs: the baseline the savings are measured against. */
        LAST_EXIT,
        /**
         * A resolution-switchable model: the input side and thresholds with the best hold-out
         * accuracy whose expected latency on this phone fits the budget ({@link ResolutionBudget}).
         */
        LATENCY_BUDGET,
    }

    /** What the cascade runs with for one image, and what the screen says about it. */
    public static final class Resolved {
        /** Null: no exit by confidence (every stage runs, or the deadline decides). */
        public final Thresholds thresholds;
        /** Null: no deadline. */
        public final DeadlinePolicy deadline;
        /** One line describing the policy in force. */
        public final String note;
        /** Why the chosen policy cannot apply and every stage runs instead; null if it applies. */
        public final String fallback;
        /** The input side to run; null: the thresholds' own side, else the largest. */
        public final Integer resolution;

        Resolved(Thresholds thresholds, DeadlinePolicy deadline, String note, String fallback) {
            this(thresholds, deadline, note, fallback, thresholds == null ? null
                    : thresholds.resolution);
        }

        Resolved(Thresholds thresholds, DeadlinePolicy deadline, String note, String fallback,
                 Integer resolution) {
            this.thresholds = thresholds;
            this.deadline = deadline;
            this.note = note;
            this.fallback = fallback;
            this.resolution = resolution;
        }
    }

    static final String INSTEAD = ": every stage runs (last exit) instead";

    public final Mode mode;
    /** The exit share asked for (EXIT_SHARE only). */
    public final double q;
    /** The deadline in milliseconds (DEADLINE), or the mean latency budget (LATENCY_BUDGET). */
    public final double deadlineMs;

    private BudgetPolicy(Mode mode, double q, double deadlineMs) {
        this.mode = mode;
        this.q = q;
        this.deadlineMs = deadlineMs;
    }

    public static BudgetPolicy thresholds() {
        return new BudgetPolicy(Mode.THRESHOLDS, Double.NaN, Double.NaN);
    }

    public static BudgetPolicy exitShare(double q) {
        if (!(q >= 0)) {
            throw new IllegalArgumentException("q must be >= 0. Received: " + q);
        }
        return new BudgetPolicy(Mode.EXIT_SHARE, q, Double.NaN);
    }

    public static BudgetPolicy deadline(double ms) {
        if (!(ms > 0) || Double.isInfinite(ms)) {
            throw new IllegalArgumentException("the deadline must be a positive number of ms. "
                    + "Received: " + ms);
        }
        return new BudgetPolicy(Mode.DEADLINE, Double.NaN, ms);
    }

    public static BudgetPolicy lastExit() {
        return new BudgetPolicy(Mode.LAST_EXIT, Double.NaN, Double.NaN);
    }

    /** A mean latency per image, spent on the best side and thresholds (switchable models). */
    public static BudgetPolicy latencyBudget(double ms) {
        if (!(ms > 0) || Double.isInfinite(ms)) {
            throw new IllegalArgumentException("the budget must be a positive number of ms. "
                    + "Received: " + ms);
        }
        return new BudgetPolicy(Mode.LATENCY_BUDGET, Double.NaN, ms);
    }

    /**
     * {@link #resolve(Thresholds, String, BudgetTable, LatencyBenchmark.Result)}, and for
     * LATENCY_BUDGET the side and thresholds from every side's curve and this phone's
     * timings of every side.
     *
     * @param curves budgeted.json's per-side curves (empty without them)
     * @param pathMs per side, this phone's measured path latencies (sides not measured absent)
     */
    public Resolved resolve(Thresholds shipped, String shippedSource, BudgetTable budgets,
                            LatencyBenchmark.Result measured, Map<Integer, BudgetTable> curves,
                            Map<Integer, double[]> pathMs) {
        if (mode != Mode.LATENCY_BUDGET) {
            return resolve(shipped, shippedSource, budgets, measured);
        }
        if (curves == null || curves.isEmpty()) {
            return fallback("no per-resolution curves were bundled (budgeted.json of a "
                    + "resolution-switchable model, from msdnet_tf.evaluate)");
        }
        for (Integer side : curves.keySet()) {
            if (pathMs == null || !pathMs.containsKey(side)) {
                return fallback("a latency budget needs this phone's timings of every "
                        + "resolution with these settings (run the benchmark)");
            }
        }
        ResolutionBudget.Choice choice = ResolutionBudget.choose(deadlineMs, curves, pathMs);
        if (choice == null) {
            return fallback(String.format(Locale.ROOT, "no resolution meets %.2f ms on this "
                    + "phone (the cheapest setting takes %.2f ms)", deadlineMs,
                    ResolutionBudget.cheapestMs(curves, pathMs)));
        }
        return new Resolved(choice.point.thresholds, null, String.format(Locale.ROOT,
                "budget %.2f ms: %s", deadlineMs, choice), null, choice.resolution);
    }

    /**
     * The thresholds and deadline for this choice, given what the app has.
     *
     * @param shipped the thresholds bundled with the model, or null
     * @param shippedSource where they came from ("thresholds.json", "manifest.json"), for the note
     * @param budgets budgeted.json, or null
     * @param measured this phone's latencies for the runtime options in use, or null
     */
    public Resolved resolve(Thresholds shipped, String shippedSource, BudgetTable budgets,
                            LatencyBenchmark.Result measured) {
        switch (mode) {
            case THRESHOLDS:
                if (shipped == null) {
                    return fallback("no thresholds were bundled (thresholds.json, or the "
                            + "manifest's)");
                }
                return new Resolved(shipped, null, "thresholds from " + shippedSource, null);
            case EXIT_SHARE: {
                if (budgets == null) {
                    return fallback("no budgeted.json was bundled (rebuild with "
                            + "-PbudgetedJson=RUN/budgeted.json)");
                }
                BudgetTable.Point p = budgets.nearest(q);
                return new Resolved(p.thresholds, null, String.format(Locale.ROOT,
                        "q = %.2f: hold-out thresholds; on the test set %.1f%% top-1, "
                                + "%.2f MFLOPs per image",
                        p.q, p.testAccuracy, p.expectedFlops / 1e6), null);
            }
            case DEADLINE: {
                if (measured == null) {
                    return fallback("a deadline needs this phone's stage latencies with these "
                            + "settings (run the benchmark)");
                }
                DeadlinePolicy deadline = new DeadlinePolicy(deadlineMs, measured.stageMedians());
                String note = String.format(Locale.ROOT,
                        "deadline %.1f ms (deepest exit that always fits: exit_%d)", deadlineMs,
                        DeadlinePolicy.deepestExitWithin(deadlineMs, measured.pathMedians()));
                return new Resolved(shipped, deadline,
                        shipped != null ? note + ", with thresholds" : note, null);
            }
            case LAST_EXIT:
                return new Resolved(null, null, "every stage runs", null);
            case LATENCY_BUDGET:
                return fallback("a latency budget needs every resolution's curve and timings");
            default:
                throw new AssertionError(mode);
        }
    }

    private static Resolved fallback(String why) {
        String text = why + INSTEAD;
        return new Resolved(null, null, text, text);
    }

    @Override
    public String toString() {
        switch (mode) {
            case EXIT_SHARE:
                return "exit share q = " + q;
            case LATENCY_BUDGET:
                return "latency budget " + deadlineMs + " ms";
            case DEADLINE:
                return "deadline " + deadlineMs + " ms";
            default:
                return mode.name().toLowerCase(Locale.ROOT);
        }
    }
}

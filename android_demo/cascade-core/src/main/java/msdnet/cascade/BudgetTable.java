package msdnet.cascade;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;

/**
 * The budgeted curve of budgeted.json, written by {@code msdnet_tf.evaluate}: for each
 * exit-share q of the paper (q = 1/20 ... 39/20) the thresholds found on the hold-out and
 * what they achieve on the test set. The app's q control picks one of these points; the
 * phone cannot find thresholds itself (that needs the hold-out's logits).
 */
public final class BudgetTable {
    /** One q of the curve. */
    public static final class Point {
        public final double q;
        public final Thresholds thresholds;
        public final double expectedFlops;
        public final double testAccuracy;
        /** Hold-out top-1 (%), NaN in files without it. */
        public final double valAccuracy;
        private final double[] exitFractions;
        private final double[] valExitFractions;

        Point(double q, Thresholds thresholds, double expectedFlops, double testAccuracy,
              double[] exitFractions, double valAccuracy, double[] valExitFractions) {
            this.q = q;
            this.thresholds = thresholds;
            this.expectedFlops = expectedFlops;
            this.testAccuracy = testAccuracy;
            this.exitFractions = exitFractions;
            this.valAccuracy = valAccuracy;
            this.valExitFractions = valExitFractions;
        }

        /** Share of test images that left at each exit. */
        public double[] exitFractions() {
            return exitFractions.clone();
        }

        /** Share of hold-out images that left at each exit (the test shares if absent). */
        public double[] valExitFractions() {
            return (valExitFractions != null ? valExitFractions : exitFractions).clone();
        }

        /** Hold-out expected cost with per-exit costs {@code pathCost} (e.g. measured ms). */
        public double expectedCost(double[] pathCost) {
            double[] f = valExitFractions != null ? valExitFractions : exitFractions;
            double sum = 0;
            for (int k = 0; k < f.length; k++) {
                sum += f[k] * pathCost[k];
            }
            return sum;
        }
    }

    public final String model;
    public final List<Point> points;

    private BudgetTable(String model, List<Point> points) {
        this.model = model;
        this.points = points;
    }

    /** Parses the text of a budgeted.json named {@code file}, for a model with K exits. */
    public static BudgetTable parse(String text, String file, int numExits) {
        JsonObject o = JsonObject.parse(text, file);
        checkCriterion(o);
        return parseCurve(o, o.optionalString("model"), numExits);
    }

    /**
     * The curve of every input side of a resolution-switchable model (budgeted.json's
     * {@code resolutions}: {@code [{"resolution", "exit_cumulative_flops", "points"}]}), keyed
     * by side, largest first; empty for a file without them.
     */
    public static java.util.Map<Integer, BudgetTable> parseResolutions(String text, String file,
                                                                     int numExits) {
        JsonObject o = JsonObject.parse(text, file);
        checkCriterion(o);
        java.util.Map<Integer, BudgetTable> out = new java.util.LinkedHashMap<>();
        if (!o.has("resolutions") || o.isNull("resolutions")) {
            return out;
        }
        for (JsonObject side : o.objects("resolutions")) {
            int r = side.smallInt("resolution");
            if (out.put(r, parseCurve(side, o.optionalString("model"), numExits)) != null) {
                throw side.fail("resolution", "appears twice: " + r);
            }
        }
        return java.util.Collections.unmodifiableMap(out);
    }

    private static void checkCriterion(JsonObject o) {
        String criterion = o.string("criterion");
        if (!Thresholds.CRITERION.equals(criterion)) {
            throw o.fail("criterion", "must be \"" + Thresholds.CRITERION + "\". Received: \""
                    + criterion + "\"");
        }
    }

    private static BudgetTable parseCurve(JsonObject o, String model, int numExits) {
        // Files written before the key was named exit_cumulative_flops call it exit_flops.
        String flopsKey = o.has("exit_cumulative_flops") || !o.has("exit_flops")
                ? "exit_cumulative_flops" : "exit_flops";
        double[] exitFlops = o.numbers(flopsKey);
        if (exitFlops.length != numExits) {
            throw o.fail(flopsKey, "has " + exitFlops.length + " exits, the model "
                    + numExits);
        }
        List<Point> points = new ArrayList<>();
        for (JsonObject p : o.objects("points")) {
            double q = p.numberOrInfinity("q");
            if (!(q >= 0)) {
                throw p.fail("q", "must be >= 0 or \"inf\". Received: " + q);
            }
            double[] values = Thresholds.parseValues(p, "thresholds", numExits);
            double[] fractions = p.numbers("exit_fractions");
            if (fractions.length != numExits) {
                throw p.fail("exit_fractions", "must hold " + numExits + " values");
            }
            double[] valFractions = null;
            if (p.has("val_exit_fractions") && !p.isNull("val_exit_fractions")) {
                valFractions = p.numbers("val_exit_fractions");
                if (valFractions.length != numExits) {
                    throw p.fail("val_exit_fractions", "must hold " + numExits + " values");
                }
            }
            double valAccuracy = p.has("val_accuracy") && !p.isNull("val_accuracy")
                    ? p.number("val_accuracy") : Double.NaN;
            points.add(new Point(q, Thresholds.of(values), p.number("expected_flops"),
                    p.number("test_accuracy"), fractions, valAccuracy, valFractions));
        }
        if (points.isEmpty()) {
            throw o.fail("points", "is empty");
        }
        return new BudgetTable(model, Collections.unmodifiableList(points));
    }

    /** Refuses a table made for another model. */
    public BudgetTable checkFor(Manifest manifest, String file) {
        if (model != null && manifest.model != null && !model.equals(manifest.model)) {
            throw new FormatException(file + " was made for model \"" + model + "\", not \""
                    + manifest.model + "\"");
        }
        return this;
    }

    /** The point whose q is nearest to {@code q} (on a log scale). */
    public Point nearest(double q) {
        Point best = points.get(0);
        double bestDistance = Double.POSITIVE_INFINITY;
        for (Point p : points) {
            double d = Math.abs(Math.log(Math.max(p.q, 1e-12)) - Math.log(Math.max(q, 1e-12)));
            if (d < bestDistance) {
                best = p;
                bestDistance = d;
            }
        }
        return best;
    }
}

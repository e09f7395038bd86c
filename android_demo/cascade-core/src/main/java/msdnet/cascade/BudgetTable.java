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
        private final double[] exitFractions;

        Point(double q, Thresholds thresholds, double expectedFlops, double testAccuracy,
              double[] exitFractions) {
            this.q = q;
            this.thresholds = thresholds;
            this.expectedFlops = expectedFlops;
            this.testAccuracy = testAccuracy;
            this.exitFractions = exitFractions;
        }

        /** Share of test images that left at each exit. */
        public double[] exitFractions() {
            return exitFractions.clone();
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
        String criterion = o.string("criterion");
        if (!Thresholds.CRITERION.equals(criterion)) {
            throw o.fail("criterion", "must be \"" + Thresholds.CRITERION + "\". Received: \""
                    + criterion + "\"");
        }
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
            points.add(new Point(q, Thresholds.of(values), p.number("expected_flops"),
                    p.number("test_accuracy"), fractions));
        }
        if (points.isEmpty()) {
            throw o.fail("points", "is empty");
        }
        return new BudgetTable(o.optionalString("model"), Collections.unmodifiableList(points));
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

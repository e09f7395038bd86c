package msdnet.cascade;

import java.util.Map;

/**
 * A validated thresholds.json (or the "thresholds" field of manifest.json):
 * {@code {"num_exits": K, "thresholds": [T_0, ..., "-inf"], "criterion": "max_softmax",
 * "budget": {...} | null, "model": "..." | null}}, and for a resolution-switchable model
 * {@code "resolution": R}, the input side they belong to. Files written before the count was
 * named {@code num_exits} call it {@code exits}; both are read.
 *
 * <p>Checked like msdnet_tf/evaluation/thresholds_io.py: every threshold is a probability
 * in [0, 1] or "inf" (nobody leaves there); the last is "-inf" and only the last may be.
 */
public final class Thresholds {
    public static final String CRITERION = "max_softmax";

    private final double[] values;
    /** What was asked and achieved (free-form), or null. */
    public final Map<String, Object> budget;
    /** The model fingerprint the thresholds were made for, or null. */
    public final String model;
    /** The input side they belong to, or null (the model's only, or largest, side). */
    public final Integer resolution;

    private Thresholds(double[] values, Map<String, Object> budget, String model,
                       Integer resolution) {
        this.values = values;
        this.budget = budget;
        this.model = model;
        this.resolution = resolution;
    }

    /** Parses the text of a thresholds.json named {@code file}. */
    public static Thresholds parse(String text, String file) {
        return parse(JsonObject.parse(text, file));
    }

    static Thresholds parse(JsonObject o) {
        String countKey = o.has("num_exits") || !o.has("exits") ? "num_exits" : "exits";
        long exits = o.integer(countKey);
        if (exits < 1) {
            throw o.fail(countKey, "must be a positive integer. Received: " + exits);
        }
        double[] values = parseValues(o, "thresholds", (int) Math.min(exits, Integer.MAX_VALUE));
        String criterion = o.string("criterion");
        if (!CRITERION.equals(criterion)) {
            throw o.fail("criterion", "must be \"" + CRITERION + "\". Received: \"" + criterion
                    + "\"");
        }
        JsonObject budget = o.optionalObject("budget");
        String model = o.optionalString("model");
        Integer resolution = null;
        if (o.has("resolution") && !o.isNull("resolution")) {
            resolution = o.smallInt("resolution");
            if (resolution < 1) {
                throw o.fail("resolution", "must be a positive integer. Received: " + resolution);
            }
        }
        return new Thresholds(values, budget == null ? null : budget.map(), model, resolution);
    }

    /** Thresholds given directly (e.g. chosen in the app); checked like a file's. */
    public static Thresholds of(double... values) {
        String where = "thresholds";
        check(values, where);
        return new Thresholds(values.clone(), null, null, null);
    }

    /** A list of K thresholds under {@code key}, checked. */
    static double[] parseValues(JsonObject o, String key, int expected) {
        java.util.List<Object> raw = o.array(key);
        if (raw.size() != expected) {
            throw o.fail(key, "must hold " + expected + " values (one per exit). Received "
                    + raw.size() + ": " + JsonObject.show(raw));
        }
        double[] values = new double[raw.size()];
        for (int k = 0; k < values.length; k++) {
            values[k] = JsonObject.asNumberOrInfinity(raw.get(k), o.where(key) + "[" + k + "]");
        }
        check(values, o.where(key));
        return values;
    }

    private static void check(double[] values, String where) {
        if (values.length == 0) {
            throw new FormatException(where + " must hold one threshold per exit. Received none");
        }
        int last = values.length - 1;
        for (int k = 0; k < values.length; k++) {
            double t = values[k];
            boolean probability = t >= 0.0 && t <= 1.0;
            boolean allowed = probability || t == Double.POSITIVE_INFINITY
                    || (t == Double.NEGATIVE_INFINITY && k == last);
            if (!allowed) {
                throw new FormatException(where + ": the threshold of exit_" + k + " must be a "
                        + "probability in [0, 1] or \"inf\" (\"-inf\" only at the last exit). "
                        + "Received: " + t);
            }
        }
        if (values[last] != Double.NEGATIVE_INFINITY) {
            throw new FormatException(where + ": the threshold of the last exit (exit_" + last
                    + ") must be \"-inf\" so that every image leaves somewhere. Received: "
                    + values[last]);
        }
    }

    /** Refuses thresholds made for another model or exit count. */
    public Thresholds checkFor(Manifest manifest, String file) {
        if (values.length != manifest.numExits) {
            throw new FormatException(file + " holds thresholds for " + values.length
                    + " exits but the model has " + manifest.numExits);
        }
        if (model != null && manifest.model != null && !model.equals(manifest.model)) {
            throw new FormatException(file + " was made for model \"" + model + "\", not \""
                    + manifest.model + "\"");
        }
        if (resolution != null && !manifest.resolutions.contains(resolution)) {
            throw new FormatException(file + " is for " + resolution + "x" + resolution
                    + " inputs; the model serves " + manifest.resolutions);
        }
        return this;
    }

    public int numExits() {
        return values.length;
    }

    public double get(int exit) {
        return values[exit];
    }

    public double[] values() {
        return values.clone();
    }

    /** For JSON: finite values as numbers, infinities as "inf" / "-inf". */
    public java.util.List<Object> encoded() {
        java.util.List<Object> out = new java.util.ArrayList<>(values.length);
        for (double t : values) {
            out.add(JsonWriter.encodeFloat(t));
        }
        return out;
    }
}

package msdnet.cascade;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * latency.json (docs/deployment-format.md), the format tflite/benchmark.py writes:
 * {@code {"device", "threads", "mode", "model", "reps", "exits": [{"exit", "stage_ms",
 * "stage_p95_ms", "path_ms", "path_p95_ms", "truncated_ms", "truncated_p95_ms",
 * "cumulative_flops"}]}}, times in milliseconds (medians and 95th percentiles). The phone
 * runs cascade.tflite only, so its truncated times are null; it adds how it measured.
 */
public final class LatencyReport {
    private final double[] stageMs;
    private final double[] pathMs;

    private LatencyReport(double[] stageMs, double[] pathMs) {
        this.stageMs = stageMs;
        this.pathMs = pathMs;
    }

    /** Median cost of each stage alone. */
    public double[] stageMs() {
        return stageMs.clone();
    }

    /** Median cost of answering at each exit (stages 0..k). */
    public double[] pathMs() {
        return pathMs.clone();
    }

    /** The JSON object of a measurement made on this device. */
    public static Map<String, Object> toJson(LatencyBenchmark.Result result, Manifest manifest,
                                             String device, int threads, String accelerator) {
        Map<String, Object> root = new LinkedHashMap<>();
        root.put("device", device);
        root.put("threads", threads);
        root.put("mode", manifest.mode);
        root.put("model", manifest.model);
        root.put("reps", result.repetitions);
        root.put("warmup", result.warmup);
        root.put("accelerator", accelerator);
        root.put("source", "android_demo benchmark screen (LiteRT CompiledModel, cascade.tflite)");
        List<Object> exits = new ArrayList<>();
        for (LatencyBenchmark.ExitTiming e : result.exits) {
            Map<String, Object> row = new LinkedHashMap<>();
            row.put("exit", e.exit);
            row.put("stage_ms", e.stage.medianMs);
            row.put("stage_p95_ms", e.stage.p95Ms);
            row.put("path_ms", e.path.medianMs);
            row.put("path_p95_ms", e.path.p95Ms);
            row.put("truncated_ms", null);
            row.put("truncated_p95_ms", null);
            row.put("cumulative_flops", manifest.exits.get(e.exit).cumulativeFlops);
            exits.add(row);
        }
        root.put("exits", exits);
        return root;
    }

    /**
     * The JSON object of a measurement of every input side of a switchable model: the
     * largest side at the top level, every side under {@code resolutions} (as
     * tflite/benchmark.py writes it).
     */
    public static Map<String, Object> toJson(Map<Integer, LatencyBenchmark.Result> results,
                                             Manifest manifest, String device, int threads,
                                             String accelerator) {
        Map<String, Object> root = null;
        List<Object> sides = new ArrayList<>();
        for (Map.Entry<Integer, LatencyBenchmark.Result> e : results.entrySet()) {
            Map<String, Object> one = toJson(e.getValue(), manifest.forResolution(e.getKey()),
                    device, threads, accelerator);
            one.put("resolution", e.getKey());
            if (root == null) {
                root = new LinkedHashMap<>(one);
            }
            Map<String, Object> side = new LinkedHashMap<>();
            side.put("resolution", e.getKey());
            side.put("exits", one.get("exits"));
            sides.add(side);
        }
        if (root == null) {
            throw new IllegalArgumentException("no measurements");
        }
        if (sides.size() > 1) {
            root.put("resolutions", sides);
        }
        return root;
    }

    /**
     * Per input side, the latency.json of a switchable model (its {@code resolutions}); a
     * file without them times the one side {@code defaultSide}.
     */
    public static Map<Integer, LatencyReport> parseResolutions(String text, String file,
                                                               int numExits, int defaultSide) {
        JsonObject o = JsonObject.parse(text, file);
        Map<Integer, LatencyReport> out = new LinkedHashMap<>();
        if (!o.has("resolutions") || o.isNull("resolutions")) {
            out.put(defaultSide, parse(o, numExits));
            return out;
        }
        for (JsonObject side : o.objects("resolutions")) {
            out.put(side.smallInt("resolution"), parse(side, numExits));
        }
        return out;
    }

    /**
     * Reads a latency.json, checked as msdnet_tf.evaluation.budgets.load_latency checks it:
     * exits numbered 0..K-1 once each, positive finite path_ms (stage_ms too, when given).
     */
    public static LatencyReport parse(String text, String file, int numExits) {
        return parse(JsonObject.parse(text, file), numExits);
    }

    private static LatencyReport parse(JsonObject o, int numExits) {
        List<JsonObject> rows = o.objects("exits");
        if (rows.size() != numExits) {
            throw o.fail("exits", "has " + rows.size() + " exits but the model has " + numExits);
        }
        double[] stage = new double[numExits];
        double[] path = new double[numExits];
        boolean[] seen = new boolean[numExits];
        for (JsonObject row : rows) {
            long k = row.integer("exit");
            if (k < 0 || k >= numExits || seen[(int) k]) {
                throw row.fail("exit", "must number the exits 0.." + (numExits - 1)
                        + ", each once. Received: " + k);
            }
            seen[(int) k] = true;
            path[(int) k] = positive(row, "path_ms");
            stage[(int) k] = row.has("stage_ms") && !row.isNull("stage_ms")
                    ? positive(row, "stage_ms") : Double.NaN;
        }
        return new LatencyReport(stage, path);
    }

    private static double positive(JsonObject row, String key) {
        double ms = row.number(key);
        if (!(ms > 0) || Double.isInfinite(ms)) {
            throw row.fail(key, "must be a positive number. Received: " + ms);
        }
        return ms;
    }
}

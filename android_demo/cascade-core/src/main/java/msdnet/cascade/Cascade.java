package msdnet.cascade;

import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * Cascaded early exit over a {@link StageRunner}, the Java twin of
 * msdnet_tf/runtime/cascade.py: stage k runs on the feature maps stage k - 1 returned
 * (passed on by name, no layer runs twice); the image leaves at the first exit whose
 * confidence reaches its threshold, or, with a deadline, at the last stage that still
 * fits. Not thread-safe: one cascade per inference thread.
 */
public final class Cascade {
    /** What the cascade answered for one image. */
    public static final class Decision {
        public final int exit;
        public final int prediction;
        /** Max softmax probability at the exit taken (float64). */
        public final double confidence;
        /** Wall time of the stages and the decisions between them. */
        public final double latencyMs;
        private final double[] stageMs;
        private final float[] logits;

        Decision(int exit, int prediction, double confidence, double latencyMs, double[] stageMs,
                 float[] logits) {
            this.exit = exit;
            this.prediction = prediction;
            this.confidence = confidence;
            this.latencyMs = latencyMs;
            this.stageMs = stageMs;
            this.logits = logits;
        }

        /** Time of each stage that ran (exit + 1 values). */
        public double[] stageMs() {
            return stageMs.clone();
        }

        /** The logits of the exit taken (dequantised). */
        public float[] logits() {
            return logits.clone();
        }
    }

    private final Manifest manifest;
    private final StageRunner runner;
    private final Clock clock;

    public Cascade(Manifest manifest, StageRunner runner, Clock clock) {
        this.manifest = manifest;
        this.runner = runner;
        this.clock = clock;
    }

    public Cascade(Manifest manifest, StageRunner runner) {
        this(manifest, runner, Clock.SYSTEM);
    }

    public Manifest manifest() {
        return manifest;
    }

    /**
     * Classifies one preprocessed image (float32 [1, S, S, 3] flat).
     *
     * @param thresholds null runs to the deadline or to the last exit
     * @param deadline null for no deadline
     */
    public Decision classify(float[] image, Thresholds thresholds, DeadlinePolicy deadline)
            throws Exception {
        if (thresholds != null && thresholds.numExits() != manifest.numExits) {
            throw new IllegalArgumentException(thresholds.numExits() + " thresholds for a model "
                    + "with " + manifest.numExits + " exits");
        }
        return run(image, thresholds, deadline, manifest.numExits - 1);
    }

    /**
     * Runs stages 0..exit and answers at {@code exit}, whatever the confidences: the cost of
     * answering there (latency.json "path_ms").
     */
    public Decision answerAt(float[] image, int exit) throws Exception {
        if (exit < 0 || exit >= manifest.numExits) {
            throw new IllegalArgumentException("no exit_" + exit + " in a model with "
                    + manifest.numExits + " exits");
        }
        return run(image, null, null, exit);
    }

    private Decision run(float[] image, Thresholds thresholds, DeadlinePolicy deadline,
                         int lastExit) throws Exception {
        long start = clock.nanos();
        Map<String, Tensor> feats = imageInput(image);
        double[] stageMs = new double[lastExit + 1];
        float[] logits = null;
        double confidence = Double.NaN;
        int k = 0;
        for (; k <= lastExit; k++) {
            long t0 = clock.nanos();
            Map<String, Tensor> out = runStage(k, feats);
            logits = logits(k, out);
            confidence = Softmax.maxProbability(logits);
            stageMs[k] = Clock.millisBetween(t0, clock.nanos());
            if (k == lastExit) {
                break;
            }
            if (thresholds != null && ExitPolicy.stopsAt(k, confidence, thresholds)) {
                break;
            }
            if (deadline != null
                    && !deadline.mayContinue(k, Clock.millisBetween(start, clock.nanos()))) {
                break;
            }
            feats = nextInputs(k + 1, out);
        }
        double latencyMs = Clock.millisBetween(start, clock.nanos());
        double[] ran = java.util.Arrays.copyOf(stageMs, k + 1);
        return new Decision(k, Softmax.argmax(logits), confidence, latencyMs, ran, logits);
    }

    /** The logits of every exit (every stage runs): [K][C]. For checks and benchmarks. */
    public float[][] allLogits(float[] image) throws Exception {
        float[][] rows = new float[manifest.numExits][];
        Map<String, Tensor> feats = imageInput(image);
        for (int k = 0; k < manifest.numExits; k++) {
            Map<String, Tensor> out = runStage(k, feats);
            rows[k] = logits(k, out);
            if (k + 1 < manifest.numExits) {
                feats = nextInputs(k + 1, out);
            }
        }
        return rows;
    }

    /**
     * The inputs each stage receives for this image (index k: stage k's inputs), for timing
     * stages alone on realistic feature maps.
     */
    public java.util.List<Map<String, Tensor>> stageInputs(float[] image) throws Exception {
        java.util.List<Map<String, Tensor>> inputs = new java.util.ArrayList<>();
        Map<String, Tensor> feats = imageInput(image);
        for (int k = 0; k < manifest.numExits; k++) {
            inputs.add(feats);
            if (k + 1 < manifest.numExits) {
                feats = nextInputs(k + 1, runStage(k, feats));
            }
        }
        return inputs;
    }

    /** Runs stage k and checks it returned what the manifest promised. */
    public Map<String, Tensor> runStage(int k, Map<String, Tensor> inputs) throws Exception {
        Map<String, Tensor> out = runner.run(k, inputs);
        for (TensorSpec spec : manifest.stages.get(k).outputs) {
            Tensor t = out.get(spec.name);
            if (t == null || t.size() != spec.elementCount() || t.isInt8() != spec.isInt8()) {
                throw new IllegalStateException(manifest.stages.get(k).signature + " returned "
                        + (t == null ? "no " + spec.name : spec.name + " of " + t.size()
                        + (t.isInt8() ? " int8" : " float32") + " values")
                        + "; the manifest says " + spec + ": model and manifest differ");
            }
        }
        return out;
    }

    private Map<String, Tensor> imageInput(float[] image) {
        TensorSpec spec = manifest.stages.get(0).input("image");
        if (image.length != spec.elementCount()) {
            throw new IllegalArgumentException("the image has " + image.length + " values, the "
                    + "model takes " + spec);
        }
        Map<String, Tensor> feats = new HashMap<>();
        feats.put("image", Tensor.forInput(spec, image));
        return feats;
    }

    private float[] logits(int k, Map<String, Tensor> out) {
        TensorSpec spec = manifest.stages.get(k).output("logits");
        return out.get("logits").realValues(spec.quantization);
    }

    /** Stage k's outputs but the logits, as the inputs of stage k + 1 (float32 by contract). */
    private Map<String, Tensor> nextInputs(int next, Map<String, Tensor> out) {
        Map<String, Tensor> feats = new LinkedHashMap<>();
        for (TensorSpec spec : manifest.stages.get(next).inputs) {
            feats.put(spec.name, out.get(spec.name));
        }
        return feats;
    }
}

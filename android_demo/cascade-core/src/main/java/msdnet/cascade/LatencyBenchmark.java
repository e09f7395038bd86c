package msdnet.cascade;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;

/**
 * Per-exit latency of a cascade on this device, measured like
 * msdnet_tf/runtime/benchmark.py: for every exit k, the stage alone ({@code stage_ms}, on
 * the feature maps a real image leaves) and the path through stages 0..k with the feature
 * maps passed on and each exit's confidence computed ({@code path_ms}, the cost of
 * answering at exit k), after warm-up runs, as the median and 95th percentile of repeated
 * runs. The numbers go into latency.json
 * ({@link LatencyReport}) for {@code msdnet_tf.evaluate --budget-ms}.
 */
public final class LatencyBenchmark {
    /** Called after every timed or warm-up run; {@code done} of {@code total}. */
    public interface Progress {
        void update(int done, int total);
    }

    /** Timings of one exit. */
    public static final class ExitTiming {
        public final int exit;
        public final LatencyStats stage;
        public final LatencyStats path;

        ExitTiming(int exit, LatencyStats stage, LatencyStats path) {
            this.exit = exit;
            this.stage = stage;
            this.path = path;
        }
    }

    /** The whole measurement. */
    public static final class Result {
        public final int warmup;
        public final int repetitions;
        public final List<ExitTiming> exits;

        Result(int warmup, int repetitions, List<ExitTiming> exits) {
            this.warmup = warmup;
            this.repetitions = repetitions;
            this.exits = exits;
        }

        public double[] stageMedians() {
            double[] out = new double[exits.size()];
            for (int k = 0; k < out.length; k++) {
                out[k] = exits.get(k).stage.medianMs;
            }
            return out;
        }

        public double[] pathMedians() {
            double[] out = new double[exits.size()];
            for (int k = 0; k < out.length; k++) {
                out[k] = exits.get(k).path.medianMs;
            }
            return out;
        }
    }

    private LatencyBenchmark() {
    }

    /**
     * Times every stage and every path on one preprocessed image.
     *
     * @param warmup untimed runs before each measurement (first calls allocate and pack
     *     weights; keep them out of the statistics)
     * @param repetitions timed runs per measurement
     */
    public static Result run(Cascade cascade, float[] image, int warmup, int repetitions,
                             Clock clock, Progress progress) throws Exception {
        if (warmup < 0 || repetitions < 1) {
            throw new IllegalArgumentException("need warmup >= 0 and repetitions >= 1. Received: "
                    + warmup + ", " + repetitions);
        }
        int numExits = cascade.manifest().numExits;
        int total = 2 * numExits * (warmup + repetitions);
        int[] done = {0};
        List<Map<String, Tensor>> inputs = cascade.stageInputs(image);
        List<ExitTiming> exits = new ArrayList<>(numExits);
        for (int k = 0; k < numExits; k++) {
            final int stage = k;
            LatencyStats stageStats = time(warmup, repetitions, clock, progress, done, total,
                    () -> cascade.runStage(stage, inputs.get(stage)));
            LatencyStats pathStats = time(warmup, repetitions, clock, progress, done, total,
                    () -> cascade.answerAt(image, stage));
            exits.add(new ExitTiming(k, stageStats, pathStats));
        }
        return new Result(warmup, repetitions, Collections.unmodifiableList(exits));
    }

    private interface Work {
        void run() throws Exception;
    }

    private static LatencyStats time(int warmup, int repetitions, Clock clock, Progress progress,
                                     int[] done, int total, Work work) throws Exception {
        for (int i = 0; i < warmup; i++) {
            work.run();
            report(progress, ++done[0], total);
        }
        double[] samples = new double[repetitions];
        for (int i = 0; i < repetitions; i++) {
            long t0 = clock.nanos();
            work.run();
            samples[i] = Clock.millisBetween(t0, clock.nanos());
            report(progress, ++done[0], total);
        }
        return LatencyStats.of(samples);
    }

    private static void report(Progress progress, int done, int total) {
        if (progress != null) {
            progress.update(done, total);
        }
    }
}

package msdnet.cascade;

/**
 * Anytime mode with a deadline (msdnet_tf/runtime/cascade.py): after stage k the cascade
 * goes on to stage k + 1 only if the time spent so far plus the measured cost of stage
 * k + 1 still fits the deadline; otherwise it answers with exit k. Exit 0 always runs.
 * Combined with thresholds, a confident image may stop even earlier.
 */
public final class DeadlinePolicy {
    public final double deadlineMs;
    private final double[] stageMs;

    /**
     * @param deadlineMs the time allowed per image
     * @param stageMs the measured cost of each stage alone (latency.json "stage_ms")
     */
    public DeadlinePolicy(double deadlineMs, double[] stageMs) {
        if (!(deadlineMs > 0) || Double.isInfinite(deadlineMs)) {
            throw new IllegalArgumentException("the deadline must be a positive number of ms. "
                    + "Received: " + deadlineMs);
        }
        for (double ms : stageMs) {
            if (!(ms >= 0) || Double.isInfinite(ms)) {
                throw new IllegalArgumentException("stage costs must be finite and >= 0. "
                        + "Received: " + java.util.Arrays.toString(stageMs));
            }
        }
        this.deadlineMs = deadlineMs;
        this.stageMs = stageMs.clone();
    }

    /** After stage {@code exit} ran (not the last), {@code spentMs} into the image. */
    public boolean mayContinue(int exit, double spentMs) {
        return !(spentMs + stageMs[exit + 1] > deadlineMs);
    }

    /**
     * The deepest exit whose path cost (latency.json "path_ms") fits the deadline, at least
     * exit 0: what the deadline allows before any image is seen.
     */
    public static int deepestExitWithin(double deadlineMs, double[] pathMs) {
        int exit = 0;
        for (int k = 1; k < pathMs.length; k++) {
            if (pathMs[k] <= deadlineMs) {
                exit = k;
            }
        }
        return exit;
    }
}

package msdnet.cascade;

/**
 * The budgeted cascade's rule (msdnet_tf.evaluation.budgeted.assign_exits): an image leaves
 * at the first exit k whose max softmax probability is {@code >= thresholds[k]}; the last
 * threshold is -inf so everyone leaves somewhere, and +inf means nobody leaves there.
 */
public final class ExitPolicy {
    private ExitPolicy() {
    }

    /** Whether an image with this confidence at exit k stops there. */
    public static boolean stopsAt(int exit, double confidence, Thresholds thresholds) {
        if (exit == thresholds.numExits() - 1) {
            return true;
        }
        return confidence >= thresholds.get(exit);
    }

    /** The exit taken, given the confidence at every exit (as the evaluation computes it). */
    public static int exitFor(double[] confidences, Thresholds thresholds) {
        if (confidences.length != thresholds.numExits()) {
            throw new IllegalArgumentException(confidences.length + " confidences for "
                    + thresholds.numExits() + " thresholds");
        }
        for (int k = 0; k < confidences.length; k++) {
            if (stopsAt(k, confidences[k], thresholds)) {
                return k;
            }
        }
        throw new AssertionError("the last threshold is -inf");
    }
}

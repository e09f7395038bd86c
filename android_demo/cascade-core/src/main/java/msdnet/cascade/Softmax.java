package msdnet.cascade;

/**
 * The confidence the cascade thresholds: the largest softmax probability of float32
 * logits, in float64, as {@code msdnet_tf.evaluation.scores.max_softmax} computes it:
 * {@code 1 / sum_j exp(z_j - max(z))}.
 *
 * <p>The sum follows NumPy's pairwise summation order, so the only difference from the
 * Python value can come from {@code exp} itself: NumPy's vectorised exp and
 * {@link StrictMath#exp} (fdlibm, the same on every JVM and on Android) may differ in the
 * last bit. The exit decision is the same unless a confidence lies within a few ulps of a
 * threshold; the parity tests measure it.
 */
public final class Softmax {
    private static final int PAIRWISE_BLOCK = 128;

    private Softmax() {
    }

    /** max_j softmax(logits)_j in float64. Logits must be finite. */
    public static double maxProbability(float[] logits) {
        if (logits.length == 0) {
            throw new IllegalArgumentException("no logits");
        }
        double max = Double.NEGATIVE_INFINITY;
        for (float z : logits) {
            if (Float.isNaN(z) || Float.isInfinite(z)) {
                throw new IllegalArgumentException("the model returned a non-finite logit ("
                        + z + "): the .tflite file or its inputs are broken");
            }
            max = Math.max(max, z);
        }
        double[] e = new double[logits.length];
        for (int j = 0; j < e.length; j++) {
            e[j] = StrictMath.exp((double) logits[j] - max);
        }
        return 1.0 / pairwiseSum(e, 0, e.length);
    }

    /** The predicted class: the first index of the largest logit (NumPy's argmax). */
    public static int argmax(float[] logits) {
        int best = 0;
        for (int j = 1; j < logits.length; j++) {
            if (logits[j] > logits[best]) {
                best = j;
            }
        }
        return best;
    }

    /** NumPy's pairwise summation of a contiguous float64 array (the order np.sum uses). */
    static double pairwiseSum(double[] a, int offset, int n) {
        if (n < 8) {
            double res = 0.0;
            for (int i = 0; i < n; i++) {
                res += a[offset + i];
            }
            return res;
        }
        if (n <= PAIRWISE_BLOCK) {
            double[] r = new double[8];
            System.arraycopy(a, offset, r, 0, 8);
            int i = 8;
            for (; i < n - (n % 8); i += 8) {
                for (int j = 0; j < 8; j++) {
                    r[j] += a[offset + i + j];
                }
            }
            double res = ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]));
            for (; i < n; i++) {
                res += a[offset + i];
            }
            return res;
        }
        int n2 = n / 2;
        n2 -= n2 % 8;
        return pairwiseSum(a, offset, n2) + pairwiseSum(a, offset + n2, n - n2);
    }
}

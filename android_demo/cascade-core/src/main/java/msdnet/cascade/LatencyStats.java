package msdnet.cascade;

import java.util.Arrays;

/**
 * Summary of repeated timings, with NumPy's definitions: the median ({@code np.median})
 * averages the two middle values of an even count; {@link #percentile} interpolates linearly between order
 * statistics ({@code np.percentile}'s default).
 */
public final class LatencyStats {
    public final int count;
    public final double medianMs;
    public final double p95Ms;
    public final double meanMs;
    public final double minMs;
    public final double maxMs;

    private LatencyStats(int count, double medianMs, double p95Ms, double meanMs, double minMs,
                         double maxMs) {
        this.count = count;
        this.medianMs = medianMs;
        this.p95Ms = p95Ms;
        this.meanMs = meanMs;
        this.minMs = minMs;
        this.maxMs = maxMs;
    }

    public static LatencyStats of(double[] samplesMs) {
        if (samplesMs.length == 0) {
            throw new IllegalArgumentException("no timings");
        }
        double[] sorted = samplesMs.clone();
        Arrays.sort(sorted);
        double sum = 0;
        for (double s : sorted) {
            if (Double.isNaN(s)) {
                throw new IllegalArgumentException("a timing is NaN");
            }
            sum += s;
        }
        return new LatencyStats(sorted.length, medianOfSorted(sorted),
                percentileOfSorted(sorted, 95), sum / sorted.length, sorted[0],
                sorted[sorted.length - 1]);
    }

    /** np.median: the middle value, or the mean of the two middle values. */
    static double medianOfSorted(double[] sorted) {
        int n = sorted.length;
        return n % 2 == 1 ? sorted[n / 2] : (sorted[n / 2 - 1] + sorted[n / 2]) / 2.0;
    }

    /** The q-th percentile (0..100), linear interpolation (NumPy's default method). */
    public static double percentile(double[] samples, double q) {
        double[] sorted = samples.clone();
        Arrays.sort(sorted);
        return percentileOfSorted(sorted, q);
    }

    static double percentileOfSorted(double[] sorted, double q) {
        if (sorted.length == 0) {
            throw new IllegalArgumentException("no samples");
        }
        if (!(q >= 0 && q <= 100)) {
            throw new IllegalArgumentException("percentile must be in [0, 100]. Received: " + q);
        }
        double index = q / 100.0 * (sorted.length - 1);
        int lo = (int) Math.floor(index);
        int hi = Math.min(lo + 1, sorted.length - 1);
        double frac = index - lo;
        // NumPy's lerp: a + (b - a) * t, written from the nearer end for t >= 0.5.
        double a = sorted[lo];
        double b = sorted[hi];
        double diff = b - a;
        return frac >= 0.5 ? b - diff * (1 - frac) : a + diff * frac;
    }
}

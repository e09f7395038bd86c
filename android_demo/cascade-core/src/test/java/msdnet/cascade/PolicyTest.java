package msdnet.cascade;

import static org.junit.Assert.assertArrayEquals;
import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertFalse;
import static org.junit.Assert.assertTrue;

import org.junit.Test;

/** Softmax, quantisation, the exit rule and the deadline rule on hand-made numbers. */
public class PolicyTest {
    private static final double NEG_INF = Double.NEGATIVE_INFINITY;
    private static final double INF = Double.POSITIVE_INFINITY;

    @Test
    public void maxProbabilityIsOneOverTheSumOfShiftedExponentials() {
        assertEquals(0.25, Softmax.maxProbability(new float[] {3f, 3f, 3f, 3f}), 0);
        double e = Math.exp(-1);
        assertEquals(1 / (1 + e), Softmax.maxProbability(new float[] {1f, 0f}), 1e-16);
        // Huge logits do not overflow: only differences matter (1001 and 1000 are exact in
        // float32, and the shift by the maximum makes the computation the same as for 1, 0).
        assertEquals(Softmax.maxProbability(new float[] {1f, 0f}),
                Softmax.maxProbability(new float[] {1001f, 1000f}), 0);
        assertEquals(0.5, Softmax.maxProbability(new float[] {1e30f, 1e30f}), 0);
        assertEquals(1.0 / 3, Softmax.maxProbability(new float[] {3e38f, 3e38f, 3e38f}), 1e-16);
        assertEquals(1.0, Softmax.maxProbability(new float[] {1000f, -1000f}), 0);
        assertEquals(1.0, Softmax.maxProbability(new float[] {3e38f, -3e38f}), 0);
    }

    @Test
    public void argmaxTakesTheFirstOfEqualMaxima() {
        assertEquals(1, Softmax.argmax(new float[] {0f, 2f, 2f, -1f}));
        assertEquals(0, Softmax.argmax(new float[] {5f}));
    }

    @Test(expected = IllegalArgumentException.class)
    public void nonFiniteLogitsAreAnError() {
        Softmax.maxProbability(new float[] {0f, Float.NaN});
    }

    @Test
    public void pairwiseSumFollowsNumpysOrder() {
        // 1e16 + 1 + ... : naive left-to-right and pairwise orders give different results.
        double[] a = new double[20];
        a[0] = 1e16;
        for (int i = 1; i < a.length; i++) {
            a[i] = 1.0;
        }
        // NumPy: np.sum(a) == 1.0000000000000016e16 for this array (8-way blocks).
        assertEquals(1.0000000000000016e16, Softmax.pairwiseSum(a, 0, a.length), 0);
        double naive = 0;
        for (double v : a) {
            naive += v;
        }
        assertEquals(1.0e16, naive, 0);
        double[] big = new double[300];
        java.util.Arrays.fill(big, 0.1);
        // np.sum(np.full(300, 0.1)) == 29.999999999999996 (recursive halves of 144 + 156)
        assertEquals(29.999999999999996, Softmax.pairwiseSum(big, 0, big.length), 0);
    }

    @Test
    public void quantisesLikeNumpyRoundHalfEven() {
        Quantization q = new Quantization(0.5, 3);
        // x / 0.5: 0.25 -> 0.5 -> 0 (half to even), 0.75 -> 1.5 -> 2, -0.25 -> -0.5 -> -0
        assertArrayEquals(new byte[] {3, 5, 3, 127, -128},
                q.quantize(new float[] {0.25f, 0.75f, -0.25f, 1000f, -1000f}));
        assertEquals(-1.5f, q.dequantize((byte) 0), 0);
        assertEquals(62f, q.dequantize((byte) 127), 0);
        assertArrayEquals(new float[] {0f, 0.5f}, q.dequantize(new byte[] {3, 4}), 0);
    }

    @Test
    public void stopsAtTheFirstExitWhoseConfidenceReachesItsThreshold() {
        Thresholds t = Thresholds.of(0.9, 0.5, NEG_INF);
        assertEquals(0, ExitPolicy.exitFor(new double[] {0.9, 0.99, 0.1}, t)); // >= , not >
        assertEquals(1, ExitPolicy.exitFor(new double[] {0.8999999999999999, 0.5, 0.1}, t));
        assertEquals(2, ExitPolicy.exitFor(new double[] {0.1, 0.49, 0.0}, t));
        Thresholds never = Thresholds.of(INF, INF, NEG_INF);
        assertEquals(2, ExitPolicy.exitFor(new double[] {1.0, 1.0, 0.2}, never));
        Thresholds always = Thresholds.of(0.0, 0.0, NEG_INF);
        assertEquals(0, ExitPolicy.exitFor(new double[] {0.1, 1.0, 1.0}, always));
        assertTrue(ExitPolicy.stopsAt(2, 0.0, t));
    }

    @Test
    public void deadlineGoesOnOnlyWhileTheNextStageFits() {
        DeadlinePolicy d = new DeadlinePolicy(10.0, new double[] {4, 3, 5});
        assertTrue(d.mayContinue(0, 7.0));  // 7 + 3 = 10 fits exactly
        assertFalse(d.mayContinue(0, 7.5));
        assertFalse(d.mayContinue(1, 5.5)); // 5.5 + 5 > 10
        assertEquals(1, DeadlinePolicy.deepestExitWithin(7.5, new double[] {4, 7, 12}));
        assertEquals(0, DeadlinePolicy.deepestExitWithin(1.0, new double[] {4, 7, 12}));
        assertEquals(2, DeadlinePolicy.deepestExitWithin(50, new double[] {4, 7, 12}));
    }

    @Test(expected = IllegalArgumentException.class)
    public void deadlineMustBePositive() {
        new DeadlinePolicy(0, new double[] {1});
    }
}

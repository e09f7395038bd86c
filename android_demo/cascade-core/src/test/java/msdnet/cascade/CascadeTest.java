package msdnet.cascade;

import static org.junit.Assert.assertArrayEquals;
import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertSame;
import static org.junit.Assert.assertTrue;
import static org.junit.Assert.fail;

import java.util.Arrays;
import org.junit.Test;

/** The cascade on the small int8 manifest with a scripted runtime. */
public class CascadeTest {
    private static final double NEG_INF = Double.NEGATIVE_INFINITY;
    // Raw int8 logits (scale 0.125, zero point 2): stage 0 unsure, stage 1 sure of class 3.
    private static final Object[] LOGITS = {
        new byte[] {10, 12, 8, 11},
        new byte[] {2, 2, 2, 60},
        new byte[] {70, 2, 2, 2},
    };
    private static final double[] COST_MS = {2.0, 3.0, 5.0};

    private final Manifest manifest = TestFiles.smallManifest();
    private final FakeRunner runner = new FakeRunner(manifest, LOGITS, COST_MS);
    private final Cascade cascade = new Cascade(manifest, runner, runner.clock);
    private final float[] image = new float[4 * 4 * 3];

    private static double confidence(byte[] raw) {
        float[] real = new Quantization(0.125, 2).dequantize(raw);
        return Softmax.maxProbability(real);
    }

    @Test
    public void leavesAtTheFirstConfidentExit() throws Exception {
        double c0 = confidence((byte[]) LOGITS[0]);
        Cascade.Decision d = cascade.classify(image, Thresholds.of(0.9, 0.9, NEG_INF), null);
        assertTrue(c0 < 0.9);
        assertEquals(1, d.exit);
        assertEquals(3, d.prediction);
        assertEquals(confidence((byte[]) LOGITS[1]), d.confidence, 0);
        assertEquals(Arrays.asList(0, 1), runner.stagesRun);
        assertEquals(5.0, d.latencyMs, 1e-9);
        assertArrayEquals(new double[] {2.0, 3.0}, d.stageMs(), 1e-9);
        assertArrayEquals(new float[] {0f, 0f, 0f, 7.25f}, d.logits(), 0);
    }

    @Test
    public void withoutThresholdsRunsToTheLastExit() throws Exception {
        Cascade.Decision d = cascade.classify(image, null, null);
        assertEquals(2, d.exit);
        assertEquals(0, d.prediction);
        assertEquals(10.0, d.latencyMs, 1e-9);
    }

    @Test
    public void thresholdAtExactlyTheConfidenceStops() throws Exception {
        double c0 = confidence((byte[]) LOGITS[0]);
        assertEquals(0, cascade.classify(image, Thresholds.of(c0, 0, NEG_INF), null).exit);
        double above = Math.nextUp(c0);
        assertEquals(1, cascade.classify(image, Thresholds.of(above, 0, NEG_INF), null).exit);
    }

    @Test
    public void deadlineStopsBeforeAStageThatWouldNotFit() throws Exception {
        // After stage 0: 2 ms spent + 3 ms for stage 1 = 5 <= 6: go on. After stage 1:
        // 5 + 5 > 6: answer with exit 1.
        DeadlinePolicy deadline = new DeadlinePolicy(6.0, COST_MS);
        Cascade.Decision d = cascade.classify(image, null, deadline);
        assertEquals(1, d.exit);
        assertEquals(Arrays.asList(0, 1), runner.stagesRun);
        DeadlinePolicy tight = new DeadlinePolicy(4.9, COST_MS);
        assertEquals(0, cascade.classify(image, null, tight).exit);
        // Thresholds still stop earlier than the deadline would.
        Cascade.Decision sure = cascade.classify(image, Thresholds.of(0.0, 0.0, NEG_INF),
                new DeadlinePolicy(100, COST_MS));
        assertEquals(0, sure.exit);
    }

    @Test
    public void quantisesTheImageAndPassesFeatureMapsByName() throws Exception {
        float[] x = new float[48];
        x[0] = 0.0235f * 10;
        cascade.classify(x, null, null);
        Tensor in = runner.inputsSeen.get(0).get("image");
        assertTrue(in.isInt8());
        assertEquals(7, in.int8()[0]); // round(10) + (-3)
        assertEquals(-3, in.int8()[1]);
        assertEquals(2, runner.inputsSeen.get(1).size());
        assertTrue(runner.inputsSeen.get(1).containsKey("scale_0"));
        assertEquals(1, runner.inputsSeen.get(2).size());
        assertTrue(runner.inputsSeen.get(2).containsKey("scale_1"));
    }

    @Test
    public void answerAtRunsExactlyThePath() throws Exception {
        Cascade.Decision d = cascade.answerAt(image, 1);
        assertEquals(1, d.exit);
        assertEquals(Arrays.asList(0, 1), runner.stagesRun);
        float[][] all = cascade.allLogits(image);
        assertEquals(3, all.length);
        assertEquals(8.5f, all[2][0], 0);
        assertSame(manifest, cascade.manifest());
    }

    @Test
    public void refusesARuntimeThatDisagreesWithTheManifest() throws Exception {
        Object[] wrong = {new byte[] {1, 2, 3}, LOGITS[1], LOGITS[2]};
        FakeRunner bad = new FakeRunner(manifest, wrong, COST_MS);
        try {
            new Cascade(manifest, bad, bad.clock).classify(image, null, null);
            fail();
        } catch (IllegalStateException e) {
            assertTrue(e.getMessage(), e.getMessage().contains("stage_0 returned logits of 3 int8"));
            assertTrue(e.getMessage(), e.getMessage().contains("model and manifest differ"));
        }
        try {
            cascade.classify(new float[5], null, null);
            fail();
        } catch (IllegalArgumentException e) {
            assertTrue(e.getMessage(), e.getMessage().contains("the image has 5 values"));
        }
        try {
            cascade.classify(image, Thresholds.of(0.5, NEG_INF), null);
            fail();
        } catch (IllegalArgumentException e) {
            assertTrue(e.getMessage(), e.getMessage().contains("2 thresholds for a model with 3"));
        }
    }
}

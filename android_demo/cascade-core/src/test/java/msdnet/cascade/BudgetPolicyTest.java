package msdnet.cascade;

import static org.junit.Assert.assertArrayEquals;
import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertNotNull;
import static org.junit.Assert.assertNull;
import static org.junit.Assert.assertSame;
import static org.junit.Assert.assertTrue;
import static org.junit.Assert.fail;

import org.junit.Test;

/** Each budget choice with and without what it needs; a missing input falls back to the last exit. */
public class BudgetPolicyTest {
    private static final double NEG_INF = Double.NEGATIVE_INFINITY;
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
    private final Thresholds shipped = Thresholds.of(0.9, 0.9, NEG_INF);
    private final BudgetTable budgets = BudgetTable.parse(BudgetTableTest.BUDGETED,
            "budgeted.json", 3);

    private LatencyBenchmark.Result measured() throws Exception {
        return LatencyBenchmark.run(cascade, image, 0, 1, runner.clock, null);
    }

    private int exitWith(BudgetPolicy.Resolved r) throws Exception {
        return cascade.classify(image, r.thresholds, r.deadline).exit;
    }

    @Test
    public void shippedThresholds() throws Exception {
        BudgetPolicy.Resolved r = BudgetPolicy.thresholds()
                .resolve(shipped, "thresholds.json", null, null);
        assertSame(shipped, r.thresholds);
        assertNull(r.deadline);
        assertNull(r.fallback);
        assertEquals("thresholds from thresholds.json", r.note);
        assertEquals(1, exitWith(r));
    }

    @Test
    public void missingThresholdsFallBackToTheLastExitAndSaySo() throws Exception {
        // The default choice on a model converted without thresholds.json.
        BudgetPolicy.Resolved r = BudgetPolicy.thresholds().resolve(null, null, budgets, null);
        assertNull(r.thresholds);
        assertNull(r.deadline);
        assertEquals("no thresholds were bundled (thresholds.json, or the manifest's): every "
                + "stage runs (last exit) instead", r.fallback);
        assertEquals(r.fallback, r.note);
        assertEquals(2, exitWith(r));
        // The same text every frame: what ReportOnce needs to show it once.
        assertEquals(r.fallback, BudgetPolicy.thresholds().resolve(null, null, null, null).fallback);
    }

    @Test
    public void exitShareUsesTheNearestQOfBudgetedJson() throws Exception {
        BudgetPolicy.Resolved r = BudgetPolicy.exitShare(0.9).resolve(null, null, budgets, null);
        assertArrayEquals(new double[] {0.9, 0.8, NEG_INF}, r.thresholds.values(), 0);
        assertNull(r.fallback);
        assertEquals("q = 1.00: hold-out thresholds; on the test set 87.0% top-1, 0.00 MFLOPs "
                + "per image", r.note);
        BudgetPolicy.Resolved none = BudgetPolicy.exitShare(0.9)
                .resolve(shipped, "thresholds.json", null, null);
        assertNull(none.thresholds);
        assertTrue(none.fallback, none.fallback.startsWith("no budgeted.json was bundled"));
        assertEquals(2, exitWith(none));
    }

    @Test
    public void deadlineNeedsThisPhonesLatencies() throws Exception {
        LatencyBenchmark.Result measured = measured();
        BudgetPolicy.Resolved r = BudgetPolicy.deadline(6.0).resolve(null, null, null, measured);
        assertNull(r.thresholds);
        assertNotNull(r.deadline);
        assertNull(r.fallback);
        assertEquals("deadline 6.0 ms (deepest exit that always fits: exit_1)", r.note);
        assertEquals(1, exitWith(r));
        BudgetPolicy.Resolved both = BudgetPolicy.deadline(6.0)
                .resolve(shipped, "thresholds.json", null, measured);
        assertSame(shipped, both.thresholds);
        assertEquals("deadline 6.0 ms (deepest exit that always fits: exit_1), with thresholds",
                both.note);

        BudgetPolicy.Resolved unmeasured = BudgetPolicy.deadline(6.0)
                .resolve(shipped, "thresholds.json", budgets, null);
        assertNull(unmeasured.thresholds);
        assertNull(unmeasured.deadline);
        assertTrue(unmeasured.fallback, unmeasured.fallback.startsWith(
                "a deadline needs this phone's stage latencies"));
        assertTrue(unmeasured.fallback.endsWith(BudgetPolicy.INSTEAD));
    }

    @Test
    public void lastExitRunsEveryStage() throws Exception {
        BudgetPolicy.Resolved r = BudgetPolicy.lastExit()
                .resolve(shipped, "thresholds.json", budgets, measured());
        assertNull(r.thresholds);
        assertNull(r.deadline);
        assertNull(r.fallback);
        assertEquals("every stage runs", r.note);
        assertEquals(2, exitWith(r));
    }

    @Test
    public void refusesMeaninglessSettings() {
        for (Runnable bad : new Runnable[] {
            () -> BudgetPolicy.exitShare(-1),
            () -> BudgetPolicy.exitShare(Double.NaN),
            () -> BudgetPolicy.deadline(0),
            () -> BudgetPolicy.deadline(Double.POSITIVE_INFINITY),
        }) {
            try {
                bad.run();
                fail();
            } catch (IllegalArgumentException expected) {
                // refused
            }
        }
        assertEquals(BudgetPolicy.Mode.DEADLINE, BudgetPolicy.deadline(4).mode);
        assertEquals("exit share q = 0.5", BudgetPolicy.exitShare(0.5).toString());
    }
}

package msdnet.cascade;

import static org.junit.Assert.assertArrayEquals;
import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertNotNull;
import static org.junit.Assert.assertNull;
import static org.junit.Assert.assertSame;
import static org.junit.Assert.assertTrue;
import static org.junit.Assert.fail;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.Test;

/** Resolution-switchable models: the manifest's sides, per-side curves and timings, the choice. */
public class ResolutionTest {
    /** The small manifest (4x4) plus a 3x3 side: the same cascade taking smaller images. */
    static Map<String, Object> twoSides() {
        Map<String, Object> tree = TestFiles.smallManifestTree();
        Map<String, Object> big = side(tree, 4);
        Map<String, Object> small = side(tree, 3);
        small.put("thresholds", null);
        TestFiles.map(small.get("cascade")).put("file", "cascade_r3.tflite");
        tree.put("resolutions", new ArrayList<>(Arrays.asList(big, small)));
        return tree;
    }

    static Map<String, Object> side(Map<String, Object> tree, int r) {
        Map<String, Object> entry = new LinkedHashMap<>();
        entry.put("resolution", (long) r);
        for (String key : new String[] {"input", "preprocessing", "exits", "cascade", "thresholds"}) {
            entry.put(key, TestFiles.mutable(tree.get(key)));
        }
        List<Object> shape = Arrays.asList(1L, (long) r, (long) r, 3L);
        TestFiles.map(entry.get("input")).put("shape", new ArrayList<>(shape));
        Map<String, Object> output = TestFiles.map(TestFiles.map(entry.get("preprocessing")).get("output"));
        output.put("height", (long) r);
        output.put("width", (long) r);
        Map<String, Object> stage0 = TestFiles.map(TestFiles.list(
                TestFiles.map(entry.get("cascade")).get("stages")).get(0));
        TestFiles.map(TestFiles.list(stage0.get("inputs")).get(0)).put("shape", new ArrayList<>(shape));
        return entry;
    }

    static Manifest parse(Map<String, Object> tree) {
        return Manifest.parse(JsonWriter.write(tree), "manifest.json");
    }

    @Test
    public void readsEverySideOfTheManifest() {
        Manifest m = parse(twoSides());
        assertEquals(Arrays.asList(4, 3), m.resolutions);
        assertEquals(4, m.resolution);
        assertEquals("cascade.tflite", m.cascadeFile);
        Manifest small = m.forResolution(3);
        assertEquals(3, small.input.dim(1));
        assertEquals(3, small.preprocessing.outputHeight);
        assertEquals("cascade_r3.tflite", small.cascadeFile);
        assertNull(small.thresholds);
        assertSame(m, small.forResolution(4));
        assertEquals(Arrays.asList(4), TestFiles.smallManifest().resolutions);
        try {
            m.forResolution(5);
            fail();
        } catch (IllegalArgumentException e) {
            assertTrue(e.getMessage(), e.getMessage().contains("[4, 3]"));
        }
    }

    @Test
    public void checksTheSides() {
        Map<String, Object> tree = twoSides();
        TestFiles.map(TestFiles.list(tree.get("resolutions")).get(1)).put("resolution", 5L);
        expectFailure(tree, "largest first");
        tree = twoSides();
        TestFiles.map(TestFiles.list(tree.get("resolutions")).get(0)).put("resolution", 3L);
        expectFailure(tree, "largest first");
        tree = twoSides();
        Map<String, Object> small = TestFiles.map(TestFiles.list(tree.get("resolutions")).get(1));
        TestFiles.map(small.get("input")).put("shape", new ArrayList<>(Arrays.asList(1L, 2L, 2L, 3L)));
        expectFailure(tree, "preprocessing");
    }

    private static void expectFailure(Map<String, Object> tree, String text) {
        try {
            parse(tree);
            fail("accepted a bad manifest");
        } catch (FormatException e) {
            assertTrue(e.getMessage(), e.getMessage().contains(text));
        }
    }

    @Test
    public void thresholdsNameTheirSide() {
        Manifest m = parse(twoSides());
        String text = "{\"num_exits\": 3, \"thresholds\": [0.9, 0.8, \"-inf\"], "
                + "\"criterion\": \"max_softmax\", \"model\": \"0a4a3adc6e479ff7\", \"resolution\": 3}";
        Thresholds t = Thresholds.parse(text, "thresholds.json").checkFor(m, "thresholds.json");
        assertEquals(Integer.valueOf(3), t.resolution);
        try {
            Thresholds.parse(text.replace("\"resolution\": 3", "\"resolution\": 7"),
                    "thresholds.json").checkFor(m, "thresholds.json");
            fail();
        } catch (FormatException e) {
            assertTrue(e.getMessage(), e.getMessage().contains("7x7"));
        }
    }

    // Two sides of a 3-exit model: per q point the hold-out accuracy and exit shares.
    static final String CURVES = "{\"criterion\": \"max_softmax\", \"model\": \"m\","
            + " \"exit_cumulative_flops\": [1, 2, 3], \"points\": [" + point(0.5, 90, "0, 0, 1") + "],"
            + " \"resolutions\": ["
            + "  {\"resolution\": 4, \"exit_cumulative_flops\": [1, 2, 3], \"points\": ["
            + point(1.95, 90, "0, 0, 1") + ", " + point(1.0, 85, "0.5, 0.25, 0.25") + "]},"
            + "  {\"resolution\": 3, \"exit_cumulative_flops\": [0.5, 1, 1.5], \"points\": ["
            + point(0.05, 80, "1, 0, 0") + ", " + point(1.95, 84, "0, 0, 1") + "]}]}";

    static String point(double q, double valAccuracy, String fractions) {
        return "{\"q\": " + q + ", \"thresholds\": [0.9, 0.8, \"-inf\"], \"exit_fractions\": ["
                + fractions + "], \"val_accuracy\": " + valAccuracy + ", \"test_accuracy\": "
                + (valAccuracy - 1) + ", \"expected_flops\": 1.0, \"val_exit_fractions\": ["
                + fractions + "]}";
    }

    static Map<Integer, double[]> timings() {
        Map<Integer, double[]> ms = new LinkedHashMap<>();
        ms.put(4, new double[] {1, 2, 3});
        ms.put(3, new double[] {0.5, 1, 1.5});
        return ms;
    }

    @Test
    public void picksTheSideWithTheBestHoldOutAccuracyWithinTheBudget() {
        Map<Integer, BudgetTable> curves = BudgetTable.parseResolutions(CURVES, "budgeted.json", 3);
        assertEquals(Arrays.asList(4, 3), new ArrayList<>(curves.keySet()));
        // 1.0 ms: only 3x3 at q = 0.05 (everyone at exit_0, 0.5 ms) fits.
        ResolutionBudget.Choice c = ResolutionBudget.choose(1.0, curves, timings());
        assertEquals(3, c.resolution);
        assertEquals(80.0, c.point.valAccuracy, 0);
        assertEquals(0.5, c.expectedMs, 0);
        // 1.8 ms: 4x4 at q = 1 (1.75 ms, 85%) beats 3x3 at q = 1.95 (1.5 ms, 84%).
        c = ResolutionBudget.choose(1.8, curves, timings());
        assertEquals(4, c.resolution);
        assertEquals(1.75, c.expectedMs, 1e-12);
        assertEquals(90.0, ResolutionBudget.choose(3, curves, timings()).point.valAccuracy, 0);
        assertNull(ResolutionBudget.choose(0.4, curves, timings()));
        assertEquals(0.5, ResolutionBudget.cheapestMs(curves, timings()), 0);
        assertTrue(BudgetTable.parseResolutions(BudgetTableTest.BUDGETED, "b.json", 3).isEmpty());
    }

    @Test
    public void theLatencyBudgetPolicyFallsBackWhenItLacksItsInput() {
        Map<Integer, BudgetTable> curves = BudgetTable.parseResolutions(CURVES, "budgeted.json", 3);
        BudgetPolicy policy = BudgetPolicy.latencyBudget(1.0);
        BudgetPolicy.Resolved r = policy.resolve(null, null, null, null, curves, timings());
        assertNull(r.fallback);
        assertEquals(Integer.valueOf(3), r.resolution);
        assertArrayEquals(new double[] {0.9, 0.8, Double.NEGATIVE_INFINITY}, r.thresholds.values(), 0);
        assertTrue(r.note, r.note.contains("3x3"));
        Map<Integer, double[]> one = timings();
        one.remove(3);
        assertNotNull(policy.resolve(null, null, null, null, curves, one).fallback);
        assertNotNull(policy.resolve(null, null, null, null, new LinkedHashMap<>(), timings()).fallback);
        String none = BudgetPolicy.latencyBudget(0.1).resolve(null, null, null, null, curves,
                timings()).fallback;
        assertTrue(none, none.contains("cheapest setting takes 0.50 ms"));
    }

    @Test
    public void latencyFilesListEverySide() {
        Manifest m = parse(twoSides());
        Map<Integer, LatencyBenchmark.Result> results = new LinkedHashMap<>();
        for (int side : new int[] {4, 3}) {
            List<LatencyBenchmark.ExitTiming> exits = new ArrayList<>();
            for (int k = 0; k < 3; k++) {
                LatencyStats s = LatencyStats.of(new double[] {side * (k + 1.0)});
                exits.add(new LatencyBenchmark.ExitTiming(k, s, s));
            }
            results.put(side, new LatencyBenchmark.Result(1, 1, exits));
        }
        String text = JsonWriter.write(LatencyReport.toJson(results, m, "phone", 2, "cpu"));
        Map<Integer, LatencyReport> read = LatencyReport.parseResolutions(text, "latency.json", 3, 4);
        assertArrayEquals(new double[] {3, 6, 9}, read.get(3).pathMs(), 0);
        assertArrayEquals(new double[] {4, 8, 12}, read.get(4).pathMs(), 0);
        assertArrayEquals(new double[] {4, 8, 12},
                LatencyReport.parse(text, "latency.json", 3).pathMs(), 0);
    }
}

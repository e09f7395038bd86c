package msdnet.cascade;

import static org.junit.Assert.assertArrayEquals;
import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertNull;
import static org.junit.Assert.assertTrue;
import static org.junit.Assert.fail;

import java.util.List;
import java.util.Map;
import org.junit.Test;

public class LatencyTest {
    @Test
    public void statisticsMatchNumpy() {
        double[] s = {5.0, 1.0, 4.0, 2.0, 3.0, 10.0};
        LatencyStats stats = LatencyStats.of(s);
        // np.median -> 3.5, np.percentile(s, 95) -> 8.75, np.mean -> 4.1666...
        assertEquals(3.5, stats.medianMs, 0);
        assertEquals(8.75, stats.p95Ms, 1e-12);
        assertEquals(25.0 / 6, stats.meanMs, 1e-12);
        assertEquals(1.0, stats.minMs, 0);
        assertEquals(10.0, stats.maxMs, 0);
        assertEquals(3.0, LatencyStats.of(new double[] {3, 1, 7}).medianMs, 0);
        // np.percentile([0.1, 0.2, 0.7], 95) == 0.6499999999999999
        assertEquals(0.6499999999999999, LatencyStats.percentile(new double[] {0.1, 0.2, 0.7}, 95), 0);
        assertEquals(7.0, LatencyStats.percentile(new double[] {1, 7}, 100), 0);
    }

    @Test
    public void benchmarkTimesStagesAndPaths() throws Exception {
        Manifest m = TestFiles.smallManifest();
        Object[] logits = {new byte[] {1, 2, 3, 4}, new byte[] {1, 2, 3, 4}, new byte[] {1, 2, 3, 4}};
        FakeRunner runner = new FakeRunner(m, logits, new double[] {1.0, 2.0, 4.0});
        Cascade cascade = new Cascade(m, runner, runner.clock);
        int[] calls = {0, 0};
        LatencyBenchmark.Result r = LatencyBenchmark.run(cascade, new float[48], 2, 5,
                runner.clock, (done, total) -> {
                    calls[0]++;
                    calls[1] = total;
                });
        assertEquals(2 * 3 * 7, calls[0]);
        assertEquals(2 * 3 * 7, calls[1]);
        assertArrayEquals(new double[] {1.0, 2.0, 4.0}, r.stageMedians(), 1e-9);
        assertArrayEquals(new double[] {1.0, 3.0, 7.0}, r.pathMedians(), 1e-9);

        Map<String, Object> json = LatencyReport.toJson(r, m, "Pixel 7", 2, "cpu");
        String text = JsonWriter.write(json);
        Map<String, Object> back = Json.parseObject(text);
        assertEquals("Pixel 7", back.get("device"));
        assertEquals(2L, back.get("threads"));
        assertEquals("int8", back.get("mode"));
        assertEquals(5L, back.get("reps"));
        List<Object> exits = TestFiles.list(back.get("exits"));
        Map<String, Object> e2 = TestFiles.map(exits.get(2));
        assertEquals(2L, e2.get("exit"));
        assertEquals(7.0, (Double) e2.get("path_ms"), 1e-9);
        assertEquals(4.0, (Double) e2.get("stage_ms"), 1e-9);
        assertTrue(e2.containsKey("truncated_ms"));
        assertNull(e2.get("truncated_ms"));
        assertEquals(4000.0, e2.get("cumulative_flops"));

        LatencyReport report = LatencyReport.parse(text, "latency.json", 3);
        assertArrayEquals(new double[] {1.0, 3.0, 7.0}, report.pathMs(), 1e-9);
        assertArrayEquals(new double[] {1.0, 2.0, 4.0}, report.stageMs(), 1e-9);
    }

    @Test
    public void readsTheContractExampleAndChecksIt() {
        String example = "{\"device\": \"x86_64 ... / Pixel 7\", \"threads\": 2, \"mode\": \"int8\","
                + " \"exits\": [{\"exit\": 0, \"stage_ms\": 0.41, \"path_ms\": 0.41,"
                + " \"truncated_ms\": 0.40}]}";
        assertArrayEquals(new double[] {0.41},
                LatencyReport.parse(example, "latency.json", 1).pathMs(), 0);
        String[][] bad = {
            {example.replace("\"path_ms\": 0.41", "\"path_ms\": 0"), "path_ms must be a positive"},
            {example.replace("\"exit\": 0", "\"exit\": 1"), "must number the exits 0..0"},
            {example, "has 1 exits but the model has 2"},
        };
        for (int i = 0; i < bad.length; i++) {
            try {
                LatencyReport.parse(bad[i][0], "latency.json", i == 2 ? 2 : 1);
                fail(bad[i][1]);
            } catch (FormatException e) {
                assertTrue(e.getMessage(), e.getMessage().contains(bad[i][1]));
            }
        }
    }
}

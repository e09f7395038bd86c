package msdnet.cascade;

import static org.junit.Assert.assertArrayEquals;
import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertTrue;

import java.util.List;
import java.util.Map;
import org.junit.Test;

/**
 * The Java cascade against the Python runtime of record on a real converted model
 * (vectors/<mode>/cascade.json, written by android_demo/tools/make_test_vectors.py from
 * LiteRT runs of cascade.tflite on real test images). The runtime is replaced by the
 * recorded per-stage logits; everything Java computes around it must agree: the model
 * input (preprocessing, int8 quantisation), dequantised logits, predictions, confidences
 * (to a few ulps: NumPy's exp vs StrictMath.exp) and the exits of every threshold setting.
 */
public class CascadeParityTest {
    /** Largest confidence difference allowed, in units in the last place of a double. */
    static final long MAX_ULPS = 8;

    private static final class ModelVectors {
        final String mode;
        final Manifest manifest;
        final List<Object> images;
        final List<Object> settings;

        ModelVectors(String mode) {
            this.mode = mode;
            this.manifest = Manifest.parse(TestFiles.vectors(mode + "/manifest.json"),
                    mode + "/manifest.json");
            Map<String, Object> root = Json.parseObject(TestFiles.vectors(mode + "/cascade.json"));
            this.images = TestFiles.list(root.get("images"));
            this.settings = TestFiles.list(root.get("settings"));
            assertEquals(manifest.model, root.get("model"));
        }

        List<Object> stages(int image) {
            return TestFiles.list(TestFiles.map(images.get(image)).get("stages"));
        }

        /** Per stage, the logits as the runtime returned them (raw int8 when quantised). */
        Object[] rawLogits(int image) {
            List<Object> stages = stages(image);
            Object[] out = new Object[stages.size()];
            for (int k = 0; k < out.length; k++) {
                Map<String, Object> s = TestFiles.map(stages.get(k));
                if (s.containsKey("logits_i8")) {
                    List<Object> raw = TestFiles.list(s.get("logits_i8"));
                    byte[] b = new byte[raw.size()];
                    for (int j = 0; j < b.length; j++) {
                        b[j] = (byte) ((Number) raw.get(j)).intValue();
                    }
                    out[k] = b;
                } else {
                    out[k] = TestFiles.floatList(s.get("logits"));
                }
            }
            return out;
        }

        float[] input(int image) {
            return TestFiles.floats(TestFiles.map(images.get(image)).get("input_f32"));
        }
    }

    private static final double[] NO_COST = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0};

    @Test
    public void preprocessesTheTestImagesExactly() {
        for (String mode : TestFiles.modes()) {
            ModelVectors v = new ModelVectors(mode);
            Preprocessor pre = new Preprocessor(v.manifest.preprocessing);
            for (Object o : v.images) {
                Map<String, Object> im = TestFiles.map(o);
                List<Object> shape = TestFiles.list(im.get("shape"));
                ImageU8 image = new ImageU8(((Number) shape.get(0)).intValue(),
                        ((Number) shape.get(1)).intValue(), ((Number) shape.get(2)).intValue(),
                        TestFiles.bytes(im.get("image_u8")));
                assertArrayEquals(mode + " image " + im.get("index"),
                        TestFiles.floats(im.get("input_f32")), pre.apply(image), 0f);
            }
        }
    }

    @Test
    public void feedsTheSameModelInput() throws Exception {
        for (String mode : TestFiles.modes()) {
            ModelVectors v = new ModelVectors(mode);
            for (int i = 0; i < v.images.size(); i++) {
                FakeRunner runner = new FakeRunner(v.manifest, v.rawLogits(i), NO_COST);
                new Cascade(v.manifest, runner, runner.clock).classify(v.input(i), null, null);
                Tensor fed = runner.inputsSeen.get(0).get("image");
                Map<String, Object> im = TestFiles.map(v.images.get(i));
                if (im.containsKey("input_i8")) {
                    assertArrayEquals(mode + " image " + i, TestFiles.bytes(im.get("input_i8")),
                            fed.int8());
                } else {
                    assertArrayEquals(v.input(i), fed.floats(), 0f);
                }
            }
        }
    }

    @Test
    public void reproducesLogitsPredictionsAndConfidences() throws Exception {
        long worst = 0;
        for (String mode : TestFiles.modes()) {
            ModelVectors v = new ModelVectors(mode);
            for (int i = 0; i < v.images.size(); i++) {
                FakeRunner runner = new FakeRunner(v.manifest, v.rawLogits(i), NO_COST);
                float[][] logits = new Cascade(v.manifest, runner, runner.clock)
                        .allLogits(v.input(i));
                List<Object> stages = v.stages(i);
                for (int k = 0; k < logits.length; k++) {
                    Map<String, Object> s = TestFiles.map(stages.get(k));
                    String where = mode + " image " + i + " exit " + k;
                    assertArrayEquals(where, TestFiles.floatList(s.get("logits")), logits[k], 0f);
                    assertEquals(where, ((Number) s.get("prediction")).intValue(),
                            Softmax.argmax(logits[k]));
                    double expected = ((Number) s.get("confidence")).doubleValue();
                    long ulps = TestFiles.ulps(expected, Softmax.maxProbability(logits[k]));
                    assertTrue(where + ": " + ulps + " ulps", ulps <= MAX_ULPS);
                    worst = Math.max(worst, ulps);
                }
            }
        }
        System.out.println("  (confidence: largest difference from NumPy " + worst + " ulp)");
    }

    @Test
    public void takesTheSameExitsForEveryThresholdSetting() throws Exception {
        int checked = 0;
        for (String mode : TestFiles.modes()) {
            ModelVectors v = new ModelVectors(mode);
            for (Object o : v.settings) {
                Map<String, Object> setting = TestFiles.map(o);
                Thresholds t = Thresholds.parse(JsonWriter.write(thresholdsFile(setting,
                        v.manifest.numExits)), "settings").checkFor(v.manifest, "settings");
                List<Object> exits = TestFiles.list(setting.get("exits"));
                List<Object> preds = TestFiles.list(setting.get("predictions"));
                boolean tie = Boolean.TRUE.equals(setting.get("tie"));
                for (int i = 0; i < v.images.size(); i++) {
                    String where = mode + " '" + setting.get("name") + "' image " + i;
                    int exit = ((Number) exits.get(i)).intValue();
                    // The rule itself, on Python's confidences: exact, ties included.
                    double[] conf = new double[v.manifest.numExits];
                    for (int k = 0; k < conf.length; k++) {
                        conf[k] = ((Number) TestFiles.map(v.stages(i).get(k)).get("confidence"))
                                .doubleValue();
                    }
                    assertEquals(where, exit, ExitPolicy.exitFor(conf, t));
                    if (tie) {
                        continue; // an exact tie is only meaningful on Python's own values
                    }
                    // The whole Java cascade, confidences computed in Java.
                    FakeRunner runner = new FakeRunner(v.manifest, v.rawLogits(i), NO_COST);
                    Cascade.Decision d = new Cascade(v.manifest, runner, runner.clock)
                            .classify(v.input(i), t, null);
                    assertEquals(where, exit, d.exit);
                    assertEquals(where, ((Number) preds.get(i)).intValue(), d.prediction);
                    assertEquals(where, exit + 1, runner.stagesRun.size());
                    checked++;
                }
            }
        }
        assertTrue(checked > 0);
    }

    private static Map<String, Object> thresholdsFile(Map<String, Object> setting, int exits) {
        Map<String, Object> file = new java.util.LinkedHashMap<>();
        file.put("exits", exits);
        file.put("thresholds", setting.get("thresholds"));
        file.put("criterion", "max_softmax");
        return file;
    }
}

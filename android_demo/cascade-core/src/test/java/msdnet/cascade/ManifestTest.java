package msdnet.cascade;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertNull;
import static org.junit.Assert.assertTrue;
import static org.junit.Assert.fail;

import java.util.List;
import java.util.Map;
import java.util.function.Consumer;
import org.junit.Test;

public class ManifestTest {
    @Test
    public void readsEveryField() {
        Manifest m = TestFiles.smallManifest();
        assertEquals("0a4a3adc6e479ff7", m.model);
        assertEquals("msdnet", m.family);  // manifest_small.json predates the family key
        assertEquals("int8", m.mode);
        assertEquals(3, m.numExits);
        assertEquals(4, m.numClasses);
        assertEquals("bird", m.label(2));
        assertEquals("image", m.input.name);
        assertTrue(m.input.isInt8());
        assertEquals(0.0235, m.input.quantization.scale, 0);
        assertEquals(-3, m.input.quantization.zeroPoint);
        assertEquals("fashion_mnist", m.preprocessing.dataset);
        assertEquals(2, m.preprocessing.ops.size());
        assertEquals("cascade.tflite", m.cascadeFile);
        assertEquals("stage_1", m.stages.get(1).signature);
        assertEquals(2, m.stages.get(1).inputs.size());
        assertEquals(0.125, m.stages.get(2).output("logits").quantization.scale, 0);
        assertEquals(0.9, m.thresholds.get(0), 0);
        assertEquals(Double.POSITIVE_INFINITY, m.thresholds.get(1), 0);
        assertEquals(4000.0, m.exits.get(2).cumulativeFlops, 0);
        assertEquals(0.75, m.flopsSaved(0), 1e-12);
        assertEquals(0.0, m.flopsSaved(2), 0);
    }

    @Test
    public void readsTheRealConvertedManifests() {
        for (String mode : TestFiles.modes()) {
            Manifest m = Manifest.parse(TestFiles.vectors(mode + "/manifest.json"), "manifest.json");
            assertEquals(mode, m.mode);
            assertEquals(m.numExits, m.stages.size());
            assertEquals(m.numClasses, m.labels.size());
        }
    }

    @Test
    public void readsTheFamily() {
        Map<String, Object> tree = TestFiles.smallManifestTree();
        tree.put("family", "ranet");
        assertEquals("ranet", Manifest.parse(JsonWriter.write(tree), "manifest.json").family);
        tree.put("family", 3L);
        try {
            Manifest.parse(JsonWriter.write(tree), "manifest.json");
            fail("accepted a numeric family");
        } catch (FormatException e) {
            assertTrue(e.getMessage(), e.getMessage().contains("family"));
        }
    }

    private static void assertRejected(String expected, Consumer<Map<String, Object>> breakIt) {
        Map<String, Object> tree = TestFiles.smallManifestTree();
        breakIt.accept(tree);
        try {
            Manifest.parse(JsonWriter.write(tree), "manifest.json");
            fail("accepted a manifest that should fail with: " + expected);
        } catch (FormatException e) {
            assertTrue("'" + e.getMessage() + "' lacks '" + expected + "'",
                    e.getMessage().contains(expected));
            assertTrue(e.getMessage(), e.getMessage().startsWith("manifest.json"));
        }
    }

    private static Map<String, Object> stage(Map<String, Object> tree, int k) {
        return TestFiles.map(TestFiles.list(TestFiles.map(tree.get("cascade")).get("stages")).get(k));
    }

    private static List<Object> tensors(Map<String, Object> tree, int k, String key) {
        return TestFiles.list(stage(tree, k).get(key));
    }

    @Test
    public void namesWhatIsWrong() {
        assertRejected("format is \"msdnet_tf.deployment/2\"",
            t -> t.put("format", "msdnet_tf.deployment/2"));
        assertRejected("lacks the field \"cascade\"", t -> t.remove("cascade"));
        assertRejected("mode must be one of", t -> t.put("mode", "fp8"));
        assertRejected("num_exits must be an integer. Received: \"3\"",
            t -> t.put("num_exits", "3"));
        assertRejected("labels must name the 4 classes", t -> TestFiles.list(t.get("labels")).remove(0));
        assertRejected("exits must list the 3 exits", t -> TestFiles.list(t.get("exits")).remove(2));
        assertRejected("exits[1].exit must be 1",
            t -> TestFiles.map(TestFiles.list(t.get("exits")).get(1)).put("exit", 2L));
        assertRejected("exits[1].cumulative_flops must be positive and not below",
            t -> TestFiles.map(TestFiles.list(t.get("exits")).get(1)).put("cumulative_flops", 10L));
        assertRejected("cascade.stages[1].signature must be \"stage_1\"",
            t -> stage(t, 1).put("signature", "stage_one"));
        assertRejected("stages must list one stage per exit",
            t -> TestFiles.list(TestFiles.map(t.get("cascade")).get("stages")).remove(2));
        assertRejected("must include \"logits\"", t -> tensors(t, 1, "outputs").remove(0));
        assertRejected("must be the feature maps stage_0 returns",
            t -> TestFiles.map(tensors(t, 1, "inputs").get(0)).put("shape",
                java.util.Arrays.asList(1L, 2L, 2L, 5L)));
        assertRejected("must take every feature map stage_0 returns",
            t -> tensors(t, 1, "inputs").remove(1));
        assertRejected("of the last stage must be \"logits\" only",
            t -> tensors(t, 2, "outputs").add(TestFiles.mutable(tensors(t, 1, "outputs").get(1))));
        assertRejected("between stages must stay float32", t -> {
            Map<String, Object> s0 = TestFiles.map(tensors(t, 0, "outputs").get(2));
            Map<String, Object> s1 = TestFiles.map(tensors(t, 1, "inputs").get(0));
            for (Map<String, Object> s : java.util.Arrays.asList(s0, s1)) {
                s.put("dtype", "int8");
                s.put("quantization", Json.parse("{\"scale\": 0.1, \"zero_point\": 0}"));
            }
        });
        assertRejected("inputs of stage_0 must be the single input",
            t -> TestFiles.map(tensors(t, 0, "inputs").get(0)).put("name", "pixels"));
        assertRejected("quantization must give scale and zero_point for an int8 tensor",
            t -> TestFiles.map(t.get("input")).put("quantization", null));
        assertRejected("zero_point must be in -128..127",
            t -> TestFiles.map(TestFiles.map(t.get("input")).get("quantization"))
                .put("zero_point", 300L));
        assertRejected("shape must be [1, S, S, 3]",
            t -> TestFiles.map(t.get("input")).put("shape", java.util.Arrays.asList(1L, 4L, 4L)));
        assertRejected("dtype must be \"float32\" or \"int8\"",
            t -> TestFiles.map(t.get("input")).put("dtype", "uint8"));
        assertRejected("ops[0].op is a training-only op",
            t -> TestFiles.list(TestFiles.map(t.get("preprocessing")).get("ops")).add(0,
                Json.parse("{\"op\": \"random_crop\", \"height\": 2, \"width\": 2}")));
        assertRejected("is not an op this runtime knows",
            t -> TestFiles.list(TestFiles.map(t.get("preprocessing")).get("ops")).add(
                Json.parse("{\"op\": \"sharpen\"}")));
        assertRejected("preprocessing makes 5x4 images but the input is",
            t -> TestFiles.map(TestFiles.map(t.get("preprocessing")).get("output"))
                .put("height", 5L));
        assertRejected("thresholds were made for model \"ffff\"",
            t -> TestFiles.map(t.get("thresholds")).put("model", "ffff"));
        assertRejected("thresholds holds 2 thresholds for a model with 3 exits", t -> {
            Map<String, Object> th = TestFiles.map(t.get("thresholds"));
            th.put("exits", 2L);
            TestFiles.list(th.get("thresholds")).remove(0);
        });
    }

    @Test
    public void reportsBrokenJsonWithItsPosition() {
        try {
            Manifest.parse("{\"format\": ", "manifest.json");
            fail();
        } catch (FormatException e) {
            assertTrue(e.getMessage(), e.getMessage().startsWith("manifest.json is not valid JSON"));
            assertTrue(e.getMessage(), e.getMessage().contains("line 1, column 12"));
        }
    }

    @Test
    public void defaultsLabelsAndThresholds() {
        Map<String, Object> tree = TestFiles.smallManifestTree();
        tree.put("labels", null);
        tree.put("thresholds", null);
        Manifest m = Manifest.parse(JsonWriter.write(tree), "manifest.json");
        assertEquals("class 3", m.label(3));
        assertNull(m.thresholds);
    }
}

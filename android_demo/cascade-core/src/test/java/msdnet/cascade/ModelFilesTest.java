package msdnet.cascade;

import static org.junit.Assert.assertFalse;
import static org.junit.Assert.assertNull;
import static org.junit.Assert.assertTrue;
import static org.junit.Assert.fail;

import java.io.ByteArrayInputStream;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import org.junit.Test;

/**
 * A converted directory is self-consistent or refused: the file digests manifest.json
 * records, and the tensors of the model as the runtime loaded it.
 */
public class ModelFilesTest {
    private static final byte[] CASCADE = "the cascade".getBytes(StandardCharsets.UTF_8);

    private static String sha256(byte[] data) throws Exception {
        StringBuilder out = new StringBuilder();
        for (byte b : MessageDigest.getInstance("SHA-256").digest(data)) {
            out.append(String.format("%02x", b & 0xff));
        }
        return out.toString();
    }

    /** manifest_small.json with digests: the exit files hold "exit k", cascade.tflite CASCADE. */
    private static Map<String, Object> withDigests() throws Exception {
        Map<String, Object> tree = TestFiles.smallManifestTree();
        List<Object> entries = new ArrayList<>(TestFiles.list(tree.get("exits")));
        entries.add(tree.get("cascade"));
        for (Object o : entries) {
            Map<String, Object> e = TestFiles.map(o);
            byte[] content = e.get("file").equals("cascade.tflite") ? CASCADE
                    : ("exit " + e.get("exit")).getBytes(StandardCharsets.UTF_8);
            e.put("sha256", sha256(content));
            e.put("bytes", (long) content.length);
        }
        return tree;
    }

    private static Manifest parse(Map<String, Object> tree) {
        return Manifest.parse(JsonWriter.write(tree), "manifest.json");
    }

    private static void assertRefused(String expected, Runnable check) {
        try {
            check.run();
            fail("accepted; expected: " + expected);
        } catch (FormatException e) {
            assertTrue("'" + e.getMessage() + "' lacks '" + expected + "'",
                    e.getMessage().contains(expected));
        }
    }

    /** Records digests in one part of a manifest (the top level or a side): the exit files
     * hold "exit k", its cascade file {@code cascade}. */
    private static void digest(Map<String, Object> part, byte[] cascade) throws Exception {
        List<Object> entries = new ArrayList<>(TestFiles.list(part.get("exits")));
        entries.add(part.get("cascade"));
        for (Object o : entries) {
            Map<String, Object> e = TestFiles.map(o);
            byte[] content = e.containsKey("stages") ? cascade
                    : ("exit " + e.get("exit")).getBytes(StandardCharsets.UTF_8);
            e.put("sha256", sha256(content));
            e.put("bytes", (long) content.length);
        }
    }

    @Test
    public void everySideOfASwitchableModelIsCheckedAgainstItsOwnDigests() throws Exception {
        byte[] small = "the 3x3 cascade".getBytes(StandardCharsets.UTF_8);
        Map<String, Object> tree = ResolutionTest.twoSides();
        List<Object> sides = TestFiles.list(tree.get("resolutions"));
        digest(tree, CASCADE);
        digest(TestFiles.map(sides.get(0)), CASCADE);
        digest(TestFiles.map(sides.get(1)), small);
        Manifest m = parse(tree);
        assertTrue(m.hasDigests() && m.forResolution(3).hasDigests());
        m.checkFile("cascade.tflite", CASCADE);
        m.forResolution(3).checkFile("cascade_r3.tflite", small);
        m.checkFile("cascade_r3.tflite", small);  // a file of another side of the same model
        assertRefused("cascade_r3.tflite is not the file manifest.json describes",
            () -> m.forResolution(3).checkFile("cascade_r3.tflite", CASCADE));
        assertRefused("cascade.tflite is not the file manifest.json describes",
            () -> m.checkFile("cascade.tflite", small));

        Map<String, Object> half = ResolutionTest.twoSides();
        digest(half, CASCADE);
        digest(TestFiles.map(TestFiles.list(half.get("resolutions")).get(0)), CASCADE);
        assertRefused("must all record sha256 or none", () -> parse(half));
    }

    @Test
    public void acceptsTheFilesOfItsConversion() throws Exception {
        Manifest m = parse(withDigests());
        assertTrue(m.hasDigests());
        m.checkFile("cascade.tflite", CASCADE);
        m.checkFile("cascade.tflite", new ByteArrayInputStream(CASCADE));
        m.checkFile("exit_2.tflite", "exit 2".getBytes(StandardCharsets.UTF_8));
    }

    @Test
    public void refusesFilesOfAnotherConversion() throws Exception {
        Manifest m = parse(withDigests());
        byte[] other = CASCADE.clone();
        other[0] ^= 1;  // same size, another digest
        assertRefused("cascade.tflite is not the file manifest.json describes",
            () -> m.checkFile("cascade.tflite", other));
        assertRefused("the file has 3 bytes", () -> m.checkFile("cascade.tflite", new byte[3]));
        assertRefused("exit_1.tflite is not the file",
            () -> m.checkFile("exit_1.tflite", "exit 2".getBytes(StandardCharsets.UTF_8)));
        assertRefused("early_exit.tflite is not a file manifest.json describes",
            () -> m.checkFile("early_exit.tflite", CASCADE));
    }

    @Test
    public void olderManifestsHaveNoDigestsAndCheckNothing() {
        Manifest m = TestFiles.smallManifest();
        assertFalse(m.hasDigests());
        assertNull(m.digest("cascade.tflite"));
        m.checkFile("cascade.tflite", new byte[] {1, 2, 3});
    }

    @Test
    public void refusesHalfRecordedOrMalformedDigests() throws Exception {
        Map<String, Object> half = withDigests();
        TestFiles.map(half.get("cascade")).remove("sha256");
        assertRefused("must all record sha256 or none", () -> parse(half));
        Map<String, Object> upper = withDigests();
        TestFiles.map(upper.get("cascade")).put("sha256", sha256(CASCADE).toUpperCase());
        assertRefused("sha256 must be 64 lowercase hex digits", () -> parse(upper));
        Map<String, Object> noSize = withDigests();
        TestFiles.map(noSize.get("cascade")).remove("bytes");
        assertRefused("lacks the field \"bytes\"", () -> parse(noSize));
    }

    /** The tensors as a runtime reports them: the manifest's own, with one changed. */
    private static ModelCheck.Tensors model(Manifest m, String signature, String name,
                                            TensorSpec replacement) {
        ModelCheck.Tensors same = ModelCheck.of(m.stages);
        return new ModelCheck.Tensors() {
            @Override
            public TensorSpec input(String sig, String n) throws Exception {
                return sig.equals(signature) && n.equals(name) ? replacement : same.input(sig, n);
            }

            @Override
            public TensorSpec output(String sig, String n) throws Exception {
                return sig.equals(signature) && n.equals(name) ? replacement : same.output(sig, n);
            }
        };
    }

    @Test
    public void checksTheModelTensorsAgainstTheManifest() {
        Manifest m = TestFiles.smallManifest();
        ModelCheck.checkStages(m, ModelCheck.of(m.stages), "cascade.tflite");
        TensorSpec image = m.stages.get(0).input("image");
        int[] bigger = image.shape();
        bigger[1] += 1;
        assertRefused("signature stage_0 input image int8[1, " + bigger[1],
            () -> ModelCheck.checkStages(m, model(m, "stage_0", "image",
                new TensorSpec("image", bigger, image.dtype, image.quantization)),
                "cascade.tflite"));
        TensorSpec logits = m.stages.get(2).output("logits");
        assertRefused("differs from manifest.json's",
            () -> ModelCheck.checkStages(m, model(m, "stage_2", "logits",
                new TensorSpec("logits", new int[] {1, m.numClasses + 1}, logits.dtype,
                    logits.quantization)), "cascade.tflite"));
        assertRefused("has no output \"logits\" in signature stage_1",
            () -> ModelCheck.checkStages(m, model(m, "stage_1", "logits", null),
                "cascade.tflite"));
        String mapName = m.stages.get(1).inputs.get(0).name;
        TensorSpec map = m.stages.get(1).inputs.get(0);
        assertRefused("input " + mapName,
            () -> ModelCheck.checkStages(m, model(m, "stage_1", mapName,
                new TensorSpec(mapName, map.shape(), "int8", new Quantization(0.1, 0))),
                "cascade.tflite"));
        // A runtime that throws for an unknown tensor is "no such tensor", not a crash.
        ModelCheck.Tensors throwing = new ModelCheck.Tensors() {
            @Override
            public TensorSpec input(String sig, String n) throws Exception {
                throw new IllegalArgumentException("unknown tensor " + n);
            }

            @Override
            public TensorSpec output(String sig, String n) {
                return null;
            }
        };
        assertRefused("has no input \"image\"",
            () -> ModelCheck.checkStages(m, throwing, "cascade.tflite"));
        assertTrue(Arrays.equals(image.shape(), m.input.shape()));
    }
}

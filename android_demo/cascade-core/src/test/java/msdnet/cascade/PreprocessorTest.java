package msdnet.cascade;

import static org.junit.Assert.assertArrayEquals;
import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertTrue;
import static org.junit.Assert.fail;

import java.util.Map;
import org.junit.Test;

public class PreprocessorTest {
    /** Every case of preprocessing.json: Java's float32 output equals TensorFlow's, bit for bit. */
    @Test
    public void reproducesThePythonPreprocessingExactly() {
        assertTrue(checkVectors("preprocessing.json") >= 10);
    }

    /**
     * Datasets described by their data (folder, tfds:NAME): RGB images of any size, mean/std
     * computed from the data, the same ops; bit for bit too.
     */
    @Test
    public void reproducesThePreprocessingOfYourOwnData() {
        assertTrue(checkVectors("preprocessing_data.json") >= 4);
    }

    private static int checkVectors(String file) {
        Map<String, Object> root = Json.parseObject(TestFiles.vectors(file));
        int checked = 0;
        for (Object c : TestFiles.list(root.get("cases"))) {
            Map<String, Object> cs = TestFiles.map(c);
            PreprocessingSpec spec = PreprocessingSpec.parse(
                    JsonWriter.write(cs.get("spec")), file);
            Preprocessor pre = new Preprocessor(spec);
            for (Object i : TestFiles.list(cs.get("images"))) {
                Map<String, Object> im = TestFiles.map(i);
                ImageU8 image = new ImageU8(((Number) im.get("height")).intValue(),
                        ((Number) im.get("width")).intValue(),
                        ((Number) im.get("channels")).intValue(), TestFiles.bytes(im.get("image_u8")));
                float[] expected = TestFiles.floats(im.get("expected_f32"));
                float[] actual = pre.apply(image);
                assertEquals(cs.get("what") + ": size", expected.length, actual.length);
                for (int j = 0; j < expected.length; j++) {
                    if (Float.floatToIntBits(expected[j]) != Float.floatToIntBits(actual[j])) {
                        fail(cs.get("what") + ": value " + j + " is " + actual[j] + ", Python "
                                + expected[j]);
                    }
                }
                checked++;
            }
        }
        return checked;
    }

    @Test
    public void padsGrayImagesAndNormalises() {
        Manifest m = TestFiles.smallManifest();
        byte[] pixels = {0, (byte) 255, 51, 102};
        float[] out = new Preprocessor(m.preprocessing).apply(new ImageU8(2, 2, 1, pixels));
        assertEquals(4 * 4 * 3, out.length);
        float zero = (0f * (float) (1 / 255.0) - 0.286f) * (1f / 0.353f);
        float white = (255f * (float) (1 / 255.0) - 0.286f) * (1f / 0.353f);
        assertEquals(zero, out[0], 0f); // the black border
        int inner = (1 * 4 + 1) * 3; // row 1, column 1: the first image pixel
        assertEquals(zero, out[inner], 0f);
        assertEquals(white, out[inner + 3], 0f);
        assertEquals(out[inner + 3], out[inner + 4], 0f); // gray -> three equal channels
        assertEquals(out[inner + 3], out[inner + 5], 0f);
    }

    @Test
    public void centreCropRoundsHalfToEven() {
        Preprocessor.Pixels x = new Preprocessor.Pixels(1, 7, 1,
                new float[] {0, 1, 2, 3, 4, 5, 6});
        // (7 - 2) / 2 = 2.5 -> 2 (half to even), like tf.round
        assertArrayEquals(new float[] {2, 3}, Preprocessor.centerCrop(x, 1, 2).data, 0f);
        // (7 - 4) / 2 = 1.5 -> 2
        assertArrayEquals(new float[] {2, 3, 4, 5}, Preprocessor.centerCrop(x, 1, 4).data, 0f);
    }

    @Test
    public void nearestUsesHalfPixelCentres() {
        Preprocessor.Pixels x = new Preprocessor.Pixels(1, 3, 1, new float[] {10, 20, 30});
        // out 0..5 sample at (i + 0.5) * 0.5 -> 0, 0, 1, 1, 2, 2
        assertArrayEquals(new float[] {10, 10, 20, 20, 30, 30},
                Preprocessor.resizeNearest(x, 1, 6).data, 0f);
    }

    @Test
    public void antialiasedResizeKeepsConstantImagesAndIdentity() {
        float[] data = new float[6 * 8 * 3];
        java.util.Arrays.fill(data, 77f);
        Preprocessor.Pixels x = new Preprocessor.Pixels(6, 8, 3, data);
        for (float v : Preprocessor.resizeAntialiasedBilinear(x, 3, 5).data) {
            assertEquals(77f, v, 1e-4f);
        }
        float[] ramp = new float[4 * 4];
        for (int i = 0; i < ramp.length; i++) {
            ramp[i] = i;
        }
        Preprocessor.Pixels r = new Preprocessor.Pixels(4, 4, 1, ramp);
        assertArrayEquals(ramp, Preprocessor.resizeAntialiasedBilinear(r, 4, 4).data, 0f);
    }

    @Test
    public void shorterSideFollowsTheFloorRule() {
        Preprocessor.Pixels x = new Preprocessor.Pixels(41, 57, 1, new float[41 * 57]);
        Preprocessor.Pixels y = Preprocessor.resizeShorterSide(x, 37, "bilinear");
        assertEquals(37, y.height);
        assertEquals(51, y.width); // floor(37 * 57 / 41) = floor(51.44)
    }

    @Test
    public void refusesImagesOfTheWrongKind() {
        Manifest m = TestFiles.smallManifest();
        Preprocessor pre = new Preprocessor(m.preprocessing);
        try {
            pre.apply(new ImageU8(2, 2, 3, new byte[12]));
            fail();
        } catch (IllegalArgumentException e) {
            assertTrue(e.getMessage(), e.getMessage().contains("1 channel"));
        }
        try {
            pre.apply(new ImageU8(3, 3, 1, new byte[9]));
            fail();
        } catch (IllegalStateException e) {
            assertTrue(e.getMessage(), e.getMessage().contains("5x5x3"));
        }
    }
}

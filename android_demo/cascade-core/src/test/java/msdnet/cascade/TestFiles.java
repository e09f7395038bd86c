package msdnet.cascade;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.ArrayList;
import java.util.Base64;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/** Test resources: the hand-written small manifest and the generated parity vectors. */
final class TestFiles {
    static final String REGENERATE = "generate them with: .venv/bin/python "
            + "android_demo/tools/make_test_vectors.py --models DIR...";

    private TestFiles() {
    }

    /**
     * Where the parity vectors come from: src/test/resources/vectors (the frozen files), or
     * the directory named by the system property msdnet.vectors.dir (vectors made from a
     * fresh conversion, e.g. by tests/test_parity_vectors.py).
     */
    static final String VECTORS_DIR = System.getProperty("msdnet.vectors.dir");
    /** The model modes whose vectors must be there (a missing one is a failure). */
    static final List<String> MODES = List.of(
            System.getProperty("msdnet.vectors.modes", "float,int8").split(","));

    /** A resource's text, or null if it is absent. */
    static String resource(String path) {
        if (VECTORS_DIR != null && path.startsWith("/vectors/")) {
            Path file = Paths.get(VECTORS_DIR, path.substring("/vectors/".length()));
            try {
                return Files.isRegularFile(file)
                        ? new String(Files.readAllBytes(file), StandardCharsets.UTF_8) : null;
            } catch (IOException e) {
                throw new IllegalStateException(e);
            }
        }
        try (InputStream in = TestFiles.class.getResourceAsStream(path)) {
            if (in == null) {
                return null;
            }
            ByteArrayOutputStream out = new ByteArrayOutputStream();
            byte[] buf = new byte[1 << 16];
            for (int n; (n = in.read(buf)) > 0; ) {
                out.write(buf, 0, n);
            }
            return new String(out.toByteArray(), StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw new IllegalStateException(e);
        }
    }

    static String required(String path) {
        String text = resource(path);
        if (text == null) {
            throw new IllegalStateException("missing test resource " + path);
        }
        return text;
    }

    /** A generated vectors file; a missing one fails the test (the vectors are frozen). */
    static String vectors(String path) {
        String text = resource("/vectors/" + path);
        if (text == null) {
            throw new AssertionError("no parity vectors " + path + " in "
                    + (VECTORS_DIR != null ? VECTORS_DIR : "src/test/resources/vectors")
                    + "; " + REGENERATE);
        }
        return text;
    }

    /** The model modes that must have vectors (float and int8); all must be there. */
    static List<String> modes() {
        for (String mode : MODES) {
            vectors(mode + "/cascade.json");
            vectors(mode + "/manifest.json");
        }
        return MODES;
    }

    static Manifest smallManifest() {
        return Manifest.parse(required("/manifest_small.json"), "manifest_small.json");
    }

    /** The small manifest as a mutable tree, to break one field at a time. */
    @SuppressWarnings("unchecked")
    static Map<String, Object> smallManifestTree() {
        return (Map<String, Object>) mutable(Json.parse(required("/manifest_small.json")));
    }

    @SuppressWarnings("unchecked")
    static Object mutable(Object value) {
        if (value instanceof Map) {
            Map<String, Object> out = new LinkedHashMap<>();
            for (Map.Entry<String, Object> e : ((Map<String, Object>) value).entrySet()) {
                out.put(e.getKey(), mutable(e.getValue()));
            }
            return out;
        }
        if (value instanceof List) {
            List<Object> out = new ArrayList<>();
            for (Object v : (List<Object>) value) {
                out.add(mutable(v));
            }
            return out;
        }
        return value;
    }

    @SuppressWarnings("unchecked")
    static Map<String, Object> map(Object value) {
        return (Map<String, Object>) value;
    }

    @SuppressWarnings("unchecked")
    static List<Object> list(Object value) {
        return (List<Object>) value;
    }

    static byte[] bytes(Object base64) {
        return Base64.getDecoder().decode((String) base64);
    }

    static float[] floats(Object base64) {
        ByteBuffer buf = ByteBuffer.wrap(bytes(base64)).order(ByteOrder.LITTLE_ENDIAN);
        float[] out = new float[buf.remaining() / 4];
        buf.asFloatBuffer().get(out);
        return out;
    }

    static float[] floatList(Object numbers) {
        List<Object> list = list(numbers);
        float[] out = new float[list.size()];
        for (int i = 0; i < out.length; i++) {
            out[i] = (float) ((Number) list.get(i)).doubleValue();
        }
        return out;
    }

    /** Distance in units in the last place between two doubles of the same sign. */
    static long ulps(double a, double b) {
        return Math.abs(Double.doubleToLongBits(a) - Double.doubleToLongBits(b));
    }
}

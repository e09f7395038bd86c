package msdnet.cascade;

import java.io.IOException;
import java.io.InputStream;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * A validated manifest.json (docs/deployment-format.md): everything the app needs to run
 * cascade.tflite. Parsing checks the file against itself (exits, stages, the feature maps
 * passed from stage to stage by name) so a broken export fails here, with a message,
 * rather than inside the runtime.
 *
 * <p>A resolution-switchable model's manifest lists one cascade per input side under
 * {@code resolutions}; this object describes the top level (the largest side), and
 * {@link #forResolution} the manifest of any other side, every side checked at parse time.
 * An older manifest serves its one side.
 */
public final class Manifest {
    public static final String FORMAT = "msdnet_tf.deployment/1";
    private static final List<String> MODES =
            java.util.Arrays.asList("float", "dynamic", "float16", "int8", "qat");

    /** One exit: its cumulative cost from the input. */
    public static final class Exit {
        public final int index;
        public final String file;
        public final double cumulativeFlops;
        public final double stageFlops;

        Exit(int index, String file, double cumulativeFlops, double stageFlops) {
            this.index = index;
            this.file = file;
            this.cumulativeFlops = cumulativeFlops;
            this.stageFlops = stageFlops;
        }
    }

    /** One signature of cascade.tflite. */
    public static final class Stage {
        public final String signature;
        public final List<TensorSpec> inputs;
        public final List<TensorSpec> outputs;

        Stage(String signature, List<TensorSpec> inputs, List<TensorSpec> outputs) {
            this.signature = signature;
            this.inputs = inputs;
            this.outputs = outputs;
        }

        public TensorSpec input(String name) {
            return find(inputs, name);
        }

        public TensorSpec output(String name) {
            return find(outputs, name);
        }

        private static TensorSpec find(List<TensorSpec> specs, String name) {
            for (TensorSpec s : specs) {
                if (s.name.equals(name)) {
                    return s;
                }
            }
            return null;
        }
    }

    /** The model family ("msdnet", ...), which names the maps the stages carry. */
    public final String family;
    public final String model;
    public final String mode;
    public final int numExits;
    public final int numClasses;
    public final List<String> labels;
    public final TensorSpec input;
    public final PreprocessingSpec preprocessing;
    public final List<Exit> exits;
    public final String cascadeFile;
    public final List<Stage> stages;
    /** The thresholds shipped with the model, or null. */
    public final Thresholds thresholds;
    /**
     * sha256 (lowercase hex) and size of every file the manifest describes, by file name;
     * empty for manifests written before digests existed.
     */
    private final Map<String, Digest> digests;

    /** What manifest.json records about one of its files. */
    public static final class Digest {
        public final String sha256;
        public final long bytes;

        Digest(String sha256, long bytes) {
            this.sha256 = sha256;
            this.bytes = bytes;
        }
    }
    /** The input side this manifest's cascade takes. */
    public final int resolution;
    /** Every side the model serves, largest first (this one only for older files). */
    public final List<Integer> resolutions;
    private Map<Integer, Manifest> sides = Collections.emptyMap();

    private Manifest(String family, String model, String mode, int numExits, int numClasses, List<String> labels,
                     TensorSpec input, PreprocessingSpec preprocessing, List<Exit> exits,
                     String cascadeFile, List<Stage> stages, Thresholds thresholds,
                     Map<String, Digest> digests, List<Integer> resolutions) {
        this.family = family;
        this.model = model;
        this.mode = mode;
        this.numExits = numExits;
        this.numClasses = numClasses;
        this.labels = labels;
        this.input = input;
        this.preprocessing = preprocessing;
        this.exits = exits;
        this.cascadeFile = cascadeFile;
        this.stages = stages;
        this.thresholds = thresholds;
        this.digests = digests;
        this.resolution = input.dim(1);
        this.resolutions = resolutions;
    }

    /** Parses and checks the text of a manifest.json named {@code file}. */
    public static Manifest parse(String text, String file) {
        JsonObject o = JsonObject.parse(text, file);
        if (!o.has("resolutions") || o.isNull("resolutions")) {
            return build(o, o, null);
        }
        List<JsonObject> entries = o.objects("resolutions");
        List<Integer> sizes = new ArrayList<>();
        for (JsonObject e : entries) {
            int r = e.smallInt("resolution");
            if (!sizes.isEmpty() && r >= sizes.get(sizes.size() - 1)) {
                throw e.fail("resolution", "sides must be distinct, largest first. Received "
                        + r + " after " + sizes);
            }
            sizes.add(r);
        }
        sizes = Collections.unmodifiableList(sizes);
        Manifest top = build(o, o, sizes);
        if (top.resolution != sizes.get(0)) {
            throw o.fail("resolutions", "must start with the top level's side " + top.resolution
                    + ". Received: " + sizes);
        }
        Map<Integer, Manifest> sides = new java.util.LinkedHashMap<>();
        for (int i = 0; i < entries.size(); i++) {
            Manifest side = i == 0 ? top : build(o, entries.get(i), sizes);
            if (side.resolution != sizes.get(i)) {
                throw entries.get(i).fail("input", "takes " + side.resolution + "x"
                        + side.resolution + " images, not " + sizes.get(i));
            }
            sides.put(sizes.get(i), side);
        }
        sides = Collections.unmodifiableMap(sides);
        for (Manifest side : sides.values()) {
            if (side.hasDigests() != top.hasDigests()) {
                throw o.fail("resolutions", "must all record sha256 or none do (side "
                        + side.resolution + " differs from side " + top.resolution
                        + "; a manifest edited by hand?)");
            }
            side.sides = sides;
        }
        return top;
    }

    /** The manifest of input side {@code r} (this one for its own side). */
    public Manifest forResolution(int r) {
        if (r == resolution) {
            return this;
        }
        Manifest side = sides.get(r);
        if (side == null) {
            throw new IllegalArgumentException("the model serves " + resolutions + ". Received: "
                    + r);
        }
        return side;
    }

    /**
     * The top level's keys (format, model, mode, exits count, labels) from {@code o}; the
     * side's (input, preprocessing, exits, cascade, thresholds) from {@code part}.
     */
    private static Manifest build(JsonObject o, JsonObject part, List<Integer> sizes) {
        String format = o.string("format");
        if (!FORMAT.equals(format)) {
            throw o.fail("format", "is \"" + format + "\"; this app reads \"" + FORMAT
                    + "\" (convert the model again with this version of tflite/convert.py)");
        }
        // Manifests written before the family key existed are MSDNet's.
        String family = o.has("family") ? o.string("family") : "msdnet";
        String model = o.optionalString("model");
        String mode = o.string("mode");
        if (!MODES.contains(mode)) {
            throw o.fail("mode", "must be one of " + MODES + ". Received: \"" + mode + "\"");
        }
        int numExits = o.smallInt("num_exits");
        int numClasses = o.smallInt("num_classes");
        if (numExits < 1 || numClasses < 2) {
            throw o.fail("num_exits", "must be >= 1 and num_classes >= 2. Received: " + numExits
                    + " and " + numClasses);
        }
        List<String> labels = parseLabels(o, numClasses);
        TensorSpec input = TensorSpec.parse(part.object("input"));
        checkInput(part.object("input"), input);
        PreprocessingSpec preprocessing = PreprocessingSpec.parse(part.object("preprocessing"));
        if (preprocessing.outputHeight != input.dim(1) || preprocessing.outputWidth != input.dim(2)) {
            throw part.fail("preprocessing", "makes " + preprocessing.outputHeight + "x"
                    + preprocessing.outputWidth + " images but the input is " + input);
        }
        List<Exit> exits = parseExits(part, numExits);
        JsonObject cascade = part.object("cascade");
        String cascadeFile = cascade.string("file");
        List<Stage> stages = parseStages(cascade, numExits, numClasses, input);
        Thresholds thresholds = null;
        JsonObject t = part.optionalObject("thresholds");
        if (t != null) {
            thresholds = Thresholds.parse(t);
            if (thresholds.numExits() != numExits) {
                throw o.fail("thresholds", "holds " + thresholds.numExits() + " thresholds for a "
                        + "model with " + numExits + " exits");
            }
            if (thresholds.model != null && model != null && !thresholds.model.equals(model)) {
                throw o.fail("thresholds", "were made for model \"" + thresholds.model
                        + "\", not \"" + model + "\"");
            }
        }
        if (thresholds != null && thresholds.resolution != null
                && thresholds.resolution != input.dim(1)) {
            throw part.fail("thresholds", "are for " + thresholds.resolution + "x"
                    + thresholds.resolution + " inputs, this cascade takes " + input.dim(1));
        }
        List<Integer> sides = sizes != null ? sizes
                : Collections.singletonList(input.dim(1));
        // Each side records the digests of its own files (its exits, cascade and early exit).
        Map<String, Digest> digests = parseDigests(part, cascade);
        return new Manifest(family, model, mode, numExits, numClasses, labels, input, preprocessing,
                exits, cascadeFile, stages, thresholds, digests, sides);
    }

    /** Every file entry records sha256 and bytes, or none does (an older manifest). */
    private static Map<String, Digest> parseDigests(JsonObject o, JsonObject cascade) {
        List<JsonObject> entries = new ArrayList<>(o.objects("exits"));
        entries.add(cascade);
        JsonObject early = o.optionalObject("early_exit");
        if (early != null) {
            entries.add(early);
        }
        Map<String, Digest> out = new LinkedHashMap<>();
        int with = 0;
        for (JsonObject e : entries) {
            if (e.has("sha256")) {
                with++;
            }
        }
        if (with == 0) {
            return Collections.unmodifiableMap(out);
        }
        if (with != entries.size()) {
            throw o.fail("exits", "and cascade must all record sha256 or none do (a manifest "
                    + "edited by hand?)");
        }
        for (JsonObject e : entries) {
            String sha = e.string("sha256");
            if (!sha.matches("[0-9a-f]{64}")) {
                throw e.fail("sha256", "must be 64 lowercase hex digits. Received: \"" + sha
                        + "\"");
            }
            long bytes = e.integer("bytes");
            if (bytes < 1) {
                throw e.fail("bytes", "must be positive. Received: " + bytes);
            }
            out.put(e.string("file"), new Digest(sha, bytes));
        }
        return Collections.unmodifiableMap(out);
    }

    /** Whether the manifest records file digests (manifests from before them do not). */
    public boolean hasDigests() {
        return !digests.isEmpty();
    }

    /** The recorded digest of {@code file}, or null. */
    public Digest digest(String file) {
        return digests.get(file);
    }

    /**
     * Checks that {@code content} is the file {@code file} this manifest describes (size and
     * sha256), so that files of two conversions are never run together. Does nothing for a
     * manifest without digests (see {@link #hasDigests()}).
     *
     * @throws FormatException naming the file, when it is not the one converted with this
     *     manifest
     */
    public void checkFile(String file, byte[] content) {
        MessageDigest sha = sha256();
        sha.update(content);
        checkDigest(file, content.length, sha);
    }

    /** {@link #checkFile(String, byte[])} on a stream (read to its end, not closed). */
    public void checkFile(String file, InputStream content) throws IOException {
        MessageDigest sha = sha256();
        byte[] buf = new byte[1 << 16];
        long size = 0;
        for (int n; (n = content.read(buf)) > 0; ) {
            sha.update(buf, 0, n);
            size += n;
        }
        checkDigest(file, size, sha);
    }

    private void checkDigest(String file, long size, MessageDigest sha) {
        if (digests.isEmpty()) {
            return;
        }
        Digest want = digests.get(file);
        for (Manifest side : sides.values()) {  // a file of another side of the model
            if (want == null && side != this) {
                want = side.digests.get(file);
            }
        }
        if (want == null) {
            throw new FormatException(file + " is not a file manifest.json describes (it "
                    + "describes " + digests.keySet() + ")");
        }
        String got = hex(sha.digest());
        if (size != want.bytes || !got.equals(want.sha256)) {
            throw new FormatException(file + " is not the file manifest.json describes (sha256 "
                    + want.sha256.substring(0, 12) + "..., " + want.bytes + " bytes; the file has "
                    + size + " bytes, sha256 " + got.substring(0, 12) + "...): the files come from"
                    + " different conversions; bundle the files of one conversion (the whole "
                    + "converted directory)");
        }
    }

    private static MessageDigest sha256() {
        try {
            return MessageDigest.getInstance("SHA-256");
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("no SHA-256 in this Java runtime", e);
        }
    }

    private static String hex(byte[] bytes) {
        StringBuilder out = new StringBuilder(bytes.length * 2);
        for (byte b : bytes) {
            out.append(String.format(Locale.ROOT, "%02x", b & 0xff));
        }
        return out.toString();
    }

    private static List<String> parseLabels(JsonObject o, int numClasses) {
        if (!o.has("labels") || o.isNull("labels")) {
            List<String> names = new ArrayList<>(numClasses);
            for (int i = 0; i < numClasses; i++) {
                names.add("class " + i);
            }
            return Collections.unmodifiableList(names);
        }
        List<String> labels = o.strings("labels");
        if (labels.size() != numClasses) {
            throw o.fail("labels", "must name the " + numClasses + " classes. Received "
                    + labels.size() + " names");
        }
        return labels;
    }

    private static void checkInput(JsonObject o, TensorSpec input) {
        if (!"image".equals(input.name)) {
            throw o.fail("name", "must be \"image\". Received: \"" + input.name + "\"");
        }
        if (input.rank() != 4 || input.dim(0) != 1 || input.dim(3) != 3) {
            throw o.fail("shape", "must be [1, S, S, 3] (NHWC, batch 1, RGB). Received: "
                    + java.util.Arrays.toString(input.shape()));
        }
        if (o.has("layout") && !"NHWC".equals(o.string("layout"))) {
            throw o.fail("layout", "must be \"NHWC\". Received: \"" + o.string("layout") + "\"");
        }
    }

    private static List<Exit> parseExits(JsonObject o, int numExits) {
        List<JsonObject> raw = o.objects("exits");
        if (raw.size() != numExits) {
            throw o.fail("exits", "must list the " + numExits + " exits. Received " + raw.size());
        }
        List<Exit> exits = new ArrayList<>(numExits);
        double previous = 0;
        for (int k = 0; k < numExits; k++) {
            JsonObject e = raw.get(k);
            if (e.integer("exit") != k) {
                throw e.fail("exit", "must be " + k + " (exits in order). Received: "
                        + e.integer("exit"));
            }
            double flops = e.number("cumulative_flops");
            if (!(flops > 0) || flops < previous) {
                throw e.fail("cumulative_flops", "must be positive and not below the previous "
                        + "exit's (" + previous + "). Received: " + flops);
            }
            previous = flops;
            double stage = e.has("stage_flops") ? e.number("stage_flops") : Double.NaN;
            exits.add(new Exit(k, e.optionalString("file"), flops, stage));
        }
        return Collections.unmodifiableList(exits);
    }

    private static List<Stage> parseStages(JsonObject cascade, int numExits, int numClasses,
                                           TensorSpec input) {
        List<JsonObject> raw = cascade.objects("stages");
        if (raw.size() != numExits) {
            throw cascade.fail("stages", "must list one stage per exit (" + numExits
                    + "). Received " + raw.size());
        }
        List<Stage> stages = new ArrayList<>(numExits);
        for (int k = 0; k < numExits; k++) {
            JsonObject s = raw.get(k);
            String signature = s.string("signature");
            if (!signature.equals("stage_" + k)) {
                throw s.fail("signature", "must be \"stage_" + k + "\". Received: \"" + signature
                        + "\"");
            }
            stages.add(new Stage(signature, specs(s, "inputs"), specs(s, "outputs")));
        }
        for (int k = 0; k < numExits; k++) {
            checkStage(raw.get(k), stages, k, numClasses, input);
        }
        return Collections.unmodifiableList(stages);
    }

    private static List<TensorSpec> specs(JsonObject s, String key) {
        List<TensorSpec> out = new ArrayList<>();
        Map<String, Boolean> seen = new HashMap<>();
        for (JsonObject t : s.objects(key)) {
            TensorSpec spec = TensorSpec.parse(t);
            if (seen.put(spec.name, Boolean.TRUE) != null) {
                throw s.fail(key, "names \"" + spec.name + "\" twice");
            }
            out.add(spec);
        }
        return Collections.unmodifiableList(out);
    }

    /** Stage k's inputs are what stage k - 1 leaves, by name, with the same layout. */
    private static void checkStage(JsonObject s, List<Stage> stages, int k, int numClasses,
                                   TensorSpec input) {
        Stage stage = stages.get(k);
        TensorSpec logits = stage.output("logits");
        if (logits == null || logits.rank() != 2 || logits.dim(0) != 1
                || logits.dim(1) != numClasses) {
            throw s.fail("outputs", "must include \"logits\" [1, " + numClasses + "]. Received: "
                    + logits);
        }
        boolean last = k == stages.size() - 1;
        if (k == 0) {
            TensorSpec image = stage.input("image");
            if (stage.inputs.size() != 1 || image == null || !image.sameLayout(input)) {
                throw s.fail("inputs", "of stage_0 must be the single input " + input
                        + ". Received: " + stage.inputs);
            }
        } else {
            Stage previous = stages.get(k - 1);
            for (TensorSpec in : stage.inputs) {
                TensorSpec produced = previous.output(in.name);
                if (produced == null || in.name.equals("logits") || !produced.sameLayout(in)) {
                    throw s.fail("inputs", "must be the feature maps stage_" + (k - 1)
                            + " returns (same names, shapes and dtypes). Input " + in
                            + " matches " + produced);
                }
            }
            if (stage.inputs.size() != previous.outputs.size() - 1) {
                throw s.fail("inputs", "must take every feature map stage_" + (k - 1)
                        + " returns: " + previous.outputs + " vs " + stage.inputs);
            }
        }
        if (last && stage.outputs.size() != 1) {
            throw s.fail("outputs", "of the last stage must be \"logits\" only. Received: "
                    + stage.outputs);
        }
        for (TensorSpec out : stage.outputs) {
            if (!out.name.equals("logits") && out.isInt8()) {
                throw s.fail("outputs", "between stages must stay float32 (int8 scales differ "
                        + "between signatures). Received: " + out);
            }
        }
    }

    /** The display name of class {@code index}. */
    public String label(int index) {
        return labels.get(index);
    }

    /** Share of the last exit's FLOPs that answering at {@code exit} saves, in [0, 1). */
    public double flopsSaved(int exit) {
        double last = exits.get(numExits - 1).cumulativeFlops;
        return 1.0 - exits.get(exit).cumulativeFlops / last;
    }

    public double[] cumulativeFlops() {
        double[] out = new double[numExits];
        for (int k = 0; k < numExits; k++) {
            out[k] = exits.get(k).cumulativeFlops;
        }
        return out;
    }
}

package msdnet.cascade;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;

/**
 * The "preprocessing" of manifest.json ({@code msdnet_tf.data.preprocessing_spec}): how a
 * uint8 image becomes the model input. Only the test-time {@code ops} are read;
 * {@code train_ops} are for training.
 */
public final class PreprocessingSpec {
    /** One op of the ordered list; which fields are set depends on {@link #name}. */
    public static final class Op {
        public final String name;
        public final int pixels;
        public final float value;
        public final int height;
        public final int width;
        public final int size;
        public final String method;
        public final boolean antialias;

        Op(String name, int pixels, float value, int height, int width, int size, String method,
           boolean antialias) {
            this.name = name;
            this.pixels = pixels;
            this.value = value;
            this.height = height;
            this.width = width;
            this.size = size;
            this.method = method;
            this.antialias = antialias;
        }

        @Override
        public String toString() {
            return name;
        }
    }

    public final String dataset;
    /** Size of the stored images, or 0 when they vary (ImageNet). */
    public final int inputHeight;
    public final int inputWidth;
    public final int channelsIn;
    public final int outputHeight;
    public final int outputWidth;
    public final List<Op> ops;
    public final double pixelScale;
    private final double[] mean;
    private final double[] std;

    private PreprocessingSpec(String dataset, int inputHeight, int inputWidth, int channelsIn,
                              int outputHeight, int outputWidth, List<Op> ops, double pixelScale,
                              double[] mean, double[] std) {
        this.dataset = dataset;
        this.inputHeight = inputHeight;
        this.inputWidth = inputWidth;
        this.channelsIn = channelsIn;
        this.outputHeight = outputHeight;
        this.outputWidth = outputWidth;
        this.ops = ops;
        this.pixelScale = pixelScale;
        this.mean = mean;
        this.std = std;
    }

    public static PreprocessingSpec parse(String text, String file) {
        return parse(JsonObject.parse(text, file));
    }

    static PreprocessingSpec parse(JsonObject o) {
        String dataset = o.string("dataset");
        JsonObject input = o.object("input");
        int inputHeight = input.isNull("height") ? 0 : positive(input, "height");
        int inputWidth = input.isNull("width") ? 0 : positive(input, "width");
        int channelsIn = o.smallInt("channels_in");
        if (channelsIn != 1 && channelsIn != 3) {
            throw o.fail("channels_in", "must be 1 or 3. Received: " + channelsIn);
        }
        JsonObject output = o.object("output");
        int outputHeight = positive(output, "height");
        int outputWidth = positive(output, "width");
        if (output.smallInt("channels") != 3 || o.smallInt("channels_out") != 3) {
            throw o.fail("output", "must have 3 channels (the model takes RGB)");
        }
        List<Op> ops = new ArrayList<>();
        List<JsonObject> raw = o.objects("ops");
        for (JsonObject op : raw) {
            ops.add(parseOp(op));
        }
        double pixelScale = o.number("pixel_scale");
        double[] mean = o.numbers("mean");
        double[] std = o.numbers("std");
        if (mean.length != 3 || std.length != 3) {
            throw o.fail("mean", "and std must hold 3 values (one per output channel)");
        }
        for (double s : std) {
            if (!(s > 0)) {
                throw o.fail("std", "must be positive. Received: " + s);
            }
        }
        return new PreprocessingSpec(dataset, inputHeight, inputWidth, channelsIn, outputHeight,
                outputWidth, Collections.unmodifiableList(ops), pixelScale, mean, std);
    }

    private static Op parseOp(JsonObject o) {
        String name = o.string("op");
        switch (name) {
            case "gray_to_rgb":
                return new Op(name, 0, 0f, 0, 0, 0, null, false);
            case "pad": {
                long pixels = o.integer("pixels");
                if (pixels < 0 || pixels > 4096) {
                    throw o.fail("pixels", "must be in 0..4096. Received: " + pixels);
                }
                return new Op(name, (int) pixels, (float) o.number("value"), 0, 0, 0, null, false);
            }
            case "resize":
                return new Op(name, 0, 0f, positive(o, "height"), positive(o, "width"), 0,
                        method(o), antialias(o));
            case "resize_shorter_side":
                return new Op(name, 0, 0f, 0, 0, positive(o, "size"), method(o), antialias(o));
            case "center_crop":
                return new Op(name, 0, 0f, positive(o, "height"), positive(o, "width"), 0, null,
                        false);
            case "random_crop":
            case "random_flip_left_right":
            case "random_resized_crop":
                throw o.fail("op", "is a training-only op (" + name + "); a deployment manifest "
                        + "lists test-time ops only");
            default:
                throw o.fail("op", "is not an op this runtime knows (gray_to_rgb, pad, resize, "
                        + "resize_shorter_side, center_crop). Received: \"" + name + "\"");
        }
    }

    private static String method(JsonObject o) {
        String method = o.string("method");
        boolean antialias = antialias(o);
        if ("nearest".equals(method) || ("bilinear".equals(method) && antialias)) {
            return method;
        }
        throw o.fail("method", "must be \"nearest\", or \"bilinear\" with antialias (what "
                + "msdnet_tf.data writes). Received: \"" + method + "\", antialias=" + antialias);
    }

    private static boolean antialias(JsonObject o) {
        Object v = o.raw("antialias");
        if (v == null) {
            return false;
        }
        if (!(v instanceof Boolean)) {
            throw o.fail("antialias", "must be true or false. Received: " + JsonObject.show(v));
        }
        return (Boolean) v;
    }

    private static int positive(JsonObject o, String key) {
        int v = o.smallInt(key);
        if (v < 1) {
            throw o.fail(key, "must be a positive integer. Received: " + v);
        }
        return v;
    }

    public double mean(int channel) {
        return mean[channel];
    }

    public double std(int channel) {
        return std[channel];
    }

    /** True when the stored images have one fixed size (every dataset but ImageNet). */
    public boolean hasFixedInputSize() {
        return inputHeight > 0 && inputWidth > 0;
    }
}

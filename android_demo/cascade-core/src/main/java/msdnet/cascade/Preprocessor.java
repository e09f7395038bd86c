package msdnet.cascade;

/**
 * Executes a {@link PreprocessingSpec} on a uint8 image, with the arithmetic of
 * {@code msdnet_tf.data.preprocess} (TensorFlow's kernels, float32 throughout), so the
 * phone feeds the model what training and evaluation fed it.
 *
 * <p>Pixels become float32 0..255; the ops run in that pixel space; then
 * {@code out = (x * (float) pixel_scale - (float) mean[c]) * (1f / (float) std[c])}: inside
 * {@code tf.function} (how {@code preprocess_batch} and {@code tf.data} run it) TensorFlow's
 * graph optimiser turns the division by the constant std into a multiplication by its
 * float32 reciprocal, which differs from a division in the last bit. Resizes follow
 * TensorFlow 2's {@code tf.image.resize}: "nearest" is {@code ResizeNearestNeighbor} with
 * half-pixel centres, "bilinear" with antialias is {@code ScaleAndTranslate} with the
 * triangle kernel (rows first, then columns).
 */
public final class Preprocessor {
    private final PreprocessingSpec spec;

    public Preprocessor(PreprocessingSpec spec) {
        this.spec = spec;
    }

    public PreprocessingSpec spec() {
        return spec;
    }

    /** The model input, float32 NHWC [1, H, W, 3] flattened, for one image. */
    public float[] apply(ImageU8 image) {
        if (image.channels != spec.channelsIn) {
            throw new IllegalArgumentException(spec.dataset + " images have " + spec.channelsIn
                    + " channel(s). Received: " + image.channels);
        }
        Pixels x = Pixels.of(image);
        for (PreprocessingSpec.Op op : spec.ops) {
            x = applyOp(x, op);
        }
        if (x.height != spec.outputHeight || x.width != spec.outputWidth || x.channels != 3) {
            throw new IllegalStateException("preprocessing made a " + x.height + "x" + x.width
                    + "x" + x.channels + " image, the model takes " + spec.outputHeight + "x"
                    + spec.outputWidth + "x3 (is the input image the size the dataset stores, "
                    + spec.inputHeight + "x" + spec.inputWidth + "?)");
        }
        float scale = (float) spec.pixelScale;
        float[] mean = {(float) spec.mean(0), (float) spec.mean(1), (float) spec.mean(2)};
        float[] inverseStd = new float[3];
        for (int c = 0; c < 3; c++) {
            inverseStd[c] = 1.0f / (float) spec.std(c);
        }
        float[] out = x.data;
        for (int i = 0; i < out.length; i++) {
            int c = i % 3;
            float scaled = out[i] * scale;
            out[i] = (scaled - mean[c]) * inverseStd[c];
        }
        return out;
    }

    private static Pixels applyOp(Pixels x, PreprocessingSpec.Op op) {
        switch (op.name) {
            case "gray_to_rgb":
                return x.channels == 1 ? grayToRgb(x) : x;
            case "pad":
                return pad(x, op.pixels, op.value);
            case "resize":
                return resize(x, op.height, op.width, op.method);
            case "resize_shorter_side":
                return resizeShorterSide(x, op.size, op.method);
            case "center_crop":
                return centerCrop(x, op.height, op.width);
            default:
                throw new IllegalArgumentException("unknown op " + op.name);
        }
    }

    /** Float32 pixels, HWC. */
    static final class Pixels {
        final int height;
        final int width;
        final int channels;
        final float[] data;

        Pixels(int height, int width, int channels, float[] data) {
            this.height = height;
            this.width = width;
            this.channels = channels;
            this.data = data;
        }

        static Pixels of(ImageU8 image) {
            byte[] bytes = image.data();
            float[] data = new float[bytes.length];
            for (int i = 0; i < bytes.length; i++) {
                data[i] = bytes[i] & 0xff;
            }
            return new Pixels(image.height, image.width, image.channels, data);
        }

        float get(int y, int x, int c) {
            return data[(y * width + x) * channels + c];
        }
    }

    static Pixels grayToRgb(Pixels x) {
        float[] out = new float[x.height * x.width * 3];
        for (int i = 0; i < x.height * x.width; i++) {
            out[3 * i] = out[3 * i + 1] = out[3 * i + 2] = x.data[i];
        }
        return new Pixels(x.height, x.width, 3, out);
    }

    static Pixels pad(Pixels x, int p, float value) {
        int h = x.height + 2 * p;
        int w = x.width + 2 * p;
        float[] out = new float[h * w * x.channels];
        java.util.Arrays.fill(out, value);
        for (int y = 0; y < x.height; y++) {
            System.arraycopy(x.data, y * x.width * x.channels, out,
                    ((y + p) * w + p) * x.channels, x.width * x.channels);
        }
        return new Pixels(h, w, x.channels, out);
    }

    static Pixels resize(Pixels x, int height, int width, String method) {
        if ("nearest".equals(method)) {
            return resizeNearest(x, height, width);
        }
        return resizeAntialiasedBilinear(x, height, width);
    }

    /** TensorFlow's shorter-side rule: the shorter side becomes size, the longer
     * floor(size * longer / shorter), in float64. */
    static Pixels resizeShorterSide(Pixels x, int size, String method) {
        double shorter = Math.min(x.height, x.width);
        int h = x.height == shorter ? size : (int) Math.floor((double) size * x.height / shorter);
        int w = x.width == shorter ? size : (int) Math.floor((double) size * x.width / shorter);
        return resize(x, h, w, method);
    }

    /** Offsets round((side - crop) / 2) in float32, half to even, as tf.round does. */
    static Pixels centerCrop(Pixels x, int height, int width) {
        int top = (int) Math.rint((float) (x.height - height) / 2.0f);
        int left = (int) Math.rint((float) (x.width - width) / 2.0f);
        if (top < 0 || left < 0 || top + height > x.height || left + width > x.width) {
            throw new IllegalArgumentException("cannot crop " + height + "x" + width + " from a "
                    + x.height + "x" + x.width + " image");
        }
        float[] out = new float[height * width * x.channels];
        for (int y = 0; y < height; y++) {
            System.arraycopy(x.data, ((top + y) * x.width + left) * x.channels, out,
                    y * width * x.channels, width * x.channels);
        }
        return new Pixels(height, width, x.channels, out);
    }

    /** ResizeNearestNeighbor, half_pixel_centers=True, align_corners=False. */
    static Pixels resizeNearest(Pixels x, int height, int width) {
        float heightScale = (float) x.height / (float) height;
        float widthScale = (float) x.width / (float) width;
        int[] cols = new int[width];
        for (int c = 0; c < width; c++) {
            cols[c] = nearestIndex(c, widthScale, x.width);
        }
        float[] out = new float[height * width * x.channels];
        for (int y = 0; y < height; y++) {
            int inY = nearestIndex(y, heightScale, x.height);
            for (int c = 0; c < width; c++) {
                System.arraycopy(x.data, (inY * x.width + cols[c]) * x.channels, out,
                        (y * width + c) * x.channels, x.channels);
            }
        }
        return new Pixels(height, width, x.channels, out);
    }

    private static int nearestIndex(int out, float scale, int inSize) {
        float s = ((float) out + 0.5f) * scale;
        return Math.max(0, Math.min((int) Math.floor(s), inSize - 1));
    }

    /** ScaleAndTranslate (translation 0) with the triangle kernel and antialiasing. */
    static Pixels resizeAntialiasedBilinear(Pixels x, int height, int width) {
        Spans rows = Spans.of(height, x.height, (float) height / (float) x.height);
        Spans cols = Spans.of(width, x.width, (float) width / (float) x.width);
        int rowSize = x.width * x.channels;
        float[] mid = new float[height * rowSize];
        for (int y = 0; y < height; y++) {
            int start = rows.starts[y];
            int span = Math.min(start + rows.size, x.height) - start;
            int base = y * rowSize;
            for (int s = 0; s < span; s++) {
                float w = rows.weights[y * rows.size + s];
                int in = (start + s) * rowSize;
                for (int i = 0; i < rowSize; i++) {
                    mid[base + i] += w * x.data[in + i];
                }
            }
        }
        int ch = x.channels;
        float[] out = new float[height * width * ch];
        for (int y = 0; y < height; y++) {
            for (int c = 0; c < width; c++) {
                int start = cols.starts[c];
                int span = Math.min(start + cols.size, x.width) - start;
                int o = (y * width + c) * ch;
                for (int s = 0; s < span; s++) {
                    float w = cols.weights[c * cols.size + s];
                    int in = (y * x.width + start + s) * ch;
                    for (int k = 0; k < ch; k++) {
                        out[o + k] += w * mid[in + k];
                    }
                }
            }
        }
        return new Pixels(height, width, ch, out);
    }

    /** Per output position: the first input index and the normalised kernel weights. */
    static final class Spans {
        final int size;
        final int[] starts;
        final float[] weights;

        private Spans(int size, int[] starts, float[] weights) {
            this.size = size;
            this.starts = starts;
            this.weights = weights;
        }

        static Spans of(int outSize, int inSize, float scale) {
            final float radius = 1.0f; // triangle kernel
            float invScale = (float) (1.0 / scale);
            float invTranslate = -invScale * 0.0f;
            float kernelScale = Math.max(invScale, 1.0f);
            int size = Math.min(2 * (int) Math.ceil(radius * kernelScale) + 1, inSize);
            float oneOverKernelScale = 1.0f / kernelScale;
            int[] starts = new int[outSize];
            float[] weights = new float[outSize * size];
            float[] temp = new float[size + 2];
            for (int x = 0; x < outSize; x++) {
                float colF = x + 0.5f;
                float sampleF = colF * invScale + invTranslate;
                if (sampleF < 0 || sampleF > inSize) {
                    continue; // empty span: start 0, weights 0
                }
                long start = (long) Math.ceil(sampleF - radius * kernelScale - 0.5f);
                long end = (long) Math.floor(sampleF + radius * kernelScale - 0.5f);
                start = Math.max(0, Math.min(start, inSize - 1));
                end = Math.max(0, Math.min(end, inSize - 1)) + 1;
                int n = (int) (end - start);
                if (n > size) {
                    throw new IllegalStateException("resize span " + n + " > " + size);
                }
                float total = 0f;
                for (int i = 0; i < n; i++) {
                    float kernelPos = (float) (start + i) + 0.5f - sampleF;
                    float a = Math.abs(kernelPos * oneOverKernelScale);
                    float weight = a < 1.0f ? 1.0f - a : 0.0f;
                    total += weight;
                    temp[i] = weight;
                }
                if (Math.abs(total) >= 1000.0f * Float.MIN_NORMAL) {
                    float oneOverTotal = 1.0f / total;
                    for (int i = 0; i < n; i++) {
                        weights[x * size + i] = temp[i] * oneOverTotal;
                    }
                }
                starts[x] = (int) start;
            }
            return new Spans(size, starts, weights);
        }
    }
}

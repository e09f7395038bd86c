package msdnet.cascade;

/**
 * Affine int8 quantisation of one tensor: {@code real = (q - zeroPoint) * scale}.
 *
 * <p>The arithmetic is that of the Python runtime of record (msdnet_tf/runtime/cascade.py,
 * NumPy 2 with float32 arrays): quantise {@code q = clip(round_half_even(x / (float) scale)
 * + zeroPoint, -128, 127)} with the division in float32; dequantise
 * {@code ((float) q - zeroPoint) * (float) scale} in float32.
 */
public final class Quantization {
    public final double scale;
    public final int zeroPoint;

    public Quantization(double scale, int zeroPoint) {
        if (!(scale > 0) || Double.isInfinite(scale)) {
            throw new IllegalArgumentException("quantization scale must be a positive number. "
                    + "Received: " + scale);
        }
        if (zeroPoint < -128 || zeroPoint > 127) {
            throw new IllegalArgumentException("int8 zero_point must be in -128..127. Received: "
                    + zeroPoint);
        }
        this.scale = scale;
        this.zeroPoint = zeroPoint;
    }

    static Quantization parse(JsonObject owner, String key) {
        JsonObject q = owner.optionalObject(key);
        if (q == null) {
            return null;
        }
        double scale = q.number("scale");
        long zeroPoint = q.integer("zero_point");
        if (!(scale > 0) || Double.isInfinite(scale)) {
            throw q.fail("scale", "must be a positive number. Received: " + scale);
        }
        if (zeroPoint < -128 || zeroPoint > 127) {
            throw q.fail("zero_point", "must be in -128..127 (int8). Received: " + zeroPoint);
        }
        return new Quantization(scale, (int) zeroPoint);
    }

    public byte quantize(float x) {
        float r = (float) Math.rint(x / (float) scale);
        float q = r + zeroPoint;
        if (q < -128f) {
            return (byte) -128;
        }
        if (q > 127f) {
            return (byte) 127;
        }
        return (byte) (int) q;
    }

    public byte[] quantize(float[] x) {
        byte[] out = new byte[x.length];
        for (int i = 0; i < x.length; i++) {
            out[i] = quantize(x[i]);
        }
        return out;
    }

    public float dequantize(byte q) {
        return ((float) q - (float) zeroPoint) * (float) scale;
    }

    public float[] dequantize(byte[] q) {
        float[] out = new float[q.length];
        for (int i = 0; i < q.length; i++) {
            out[i] = dequantize(q[i]);
        }
        return out;
    }

    @Override
    public String toString() {
        return "{scale=" + scale + ", zero_point=" + zeroPoint + "}";
    }
}

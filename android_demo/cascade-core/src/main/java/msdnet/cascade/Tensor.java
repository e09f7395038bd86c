package msdnet.cascade;

/** The data of one named tensor crossing the runtime boundary: float32 or int8, flat. */
public final class Tensor {
    public final String name;
    private final float[] floats;
    private final byte[] bytes;

    private Tensor(String name, float[] floats, byte[] bytes) {
        this.name = name;
        this.floats = floats;
        this.bytes = bytes;
    }

    public static Tensor ofFloats(String name, float[] data) {
        return new Tensor(name, data, null);
    }

    public static Tensor ofInt8(String name, byte[] data) {
        return new Tensor(name, null, data);
    }

    public boolean isInt8() {
        return bytes != null;
    }

    /** The float32 data; fails on an int8 tensor. */
    public float[] floats() {
        if (floats == null) {
            throw new IllegalStateException(name + " is int8, not float32");
        }
        return floats;
    }

    /** The int8 data; fails on a float32 tensor. */
    public byte[] int8() {
        if (bytes == null) {
            throw new IllegalStateException(name + " is float32, not int8");
        }
        return bytes;
    }

    public int size() {
        return floats != null ? floats.length : bytes.length;
    }

    /** Real values as the input {@code spec} takes them: quantised if it is int8. */
    public static Tensor forInput(TensorSpec spec, float[] real) {
        return spec.isInt8() ? ofInt8(spec.name, spec.quantization.quantize(real))
                : ofFloats(spec.name, real);
    }

    /** The real values; int8 data is dequantised with {@code q} (its spec's quantization). */
    public float[] realValues(Quantization q) {
        if (!isInt8()) {
            return floats;
        }
        if (q == null) {
            throw new IllegalStateException(name + " is int8 but has no quantization");
        }
        return q.dequantize(bytes);
    }
}

package msdnet.cascade;

import java.util.Arrays;

/** One named tensor of a signature, as manifest.json describes it. */
public final class TensorSpec {
    public static final String FLOAT32 = "float32";
    public static final String INT8 = "int8";

    public final String name;
    private final int[] shape;
    public final String dtype;
    /** Null for float tensors. */
    public final Quantization quantization;

    public TensorSpec(String name, int[] shape, String dtype, Quantization quantization) {
        this.name = name;
        this.shape = shape.clone();
        this.dtype = dtype;
        this.quantization = quantization;
    }

    static TensorSpec parse(JsonObject o) {
        String name = o.string("name");
        int[] shape = o.ints("shape");
        for (int d : shape) {
            if (d < 1) {
                throw o.fail("shape", "must hold positive sizes (batch 1, no dynamic "
                        + "dimensions). Received: " + Arrays.toString(shape));
            }
        }
        String dtype = o.string("dtype");
        if (!FLOAT32.equals(dtype) && !INT8.equals(dtype)) {
            throw o.fail("dtype", "must be \"float32\" or \"int8\". Received: \"" + dtype + "\"");
        }
        Quantization q = o.has("quantization") ? Quantization.parse(o, "quantization") : null;
        if (INT8.equals(dtype) && q == null) {
            throw o.fail("quantization", "must give scale and zero_point for an int8 tensor");
        }
        if (FLOAT32.equals(dtype) && q != null) {
            throw o.fail("quantization", "must be null for a float32 tensor. Received: " + q);
        }
        return new TensorSpec(name, shape, dtype, q);
    }

    public int[] shape() {
        return shape.clone();
    }

    public int rank() {
        return shape.length;
    }

    public int dim(int i) {
        return shape[i];
    }

    public int elementCount() {
        int n = 1;
        for (int d : shape) {
            n = Math.multiplyExact(n, d);
        }
        return n;
    }

    public boolean isInt8() {
        return INT8.equals(dtype);
    }

    public boolean sameLayout(TensorSpec other) {
        return Arrays.equals(shape, other.shape) && dtype.equals(other.dtype);
    }

    @Override
    public String toString() {
        return name + " " + dtype + Arrays.toString(shape);
    }
}

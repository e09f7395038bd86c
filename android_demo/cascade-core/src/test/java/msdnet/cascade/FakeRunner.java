package msdnet.cascade;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * A {@link StageRunner} that returns given logits (raw, in the dtype the manifest says)
 * and zero feature maps of the right sizes, advances a fake clock by each stage's cost,
 * and records what it was given. Once closed it refuses to run, like a runtime whose native
 * handle is gone.
 */
final class FakeRunner implements StageRunner {
    /** A clock that only moves when told to. */
    static final class FakeClock implements Clock {
        long now;

        @Override
        public long nanos() {
            return now;
        }

        void advanceMs(double ms) {
            now += Math.round(ms * 1e6);
        }
    }

    private final Manifest manifest;
    private final Object[] logits; // per stage: float[] or byte[]
    private final double[] costMs;
    final FakeClock clock = new FakeClock();
    final List<Integer> stagesRun = new ArrayList<>();
    final List<Map<String, Tensor>> inputsSeen = new ArrayList<>();
    boolean closed;

    FakeRunner(Manifest manifest, Object[] logits, double[] costMs) {
        this.manifest = manifest;
        this.logits = logits;
        this.costMs = costMs;
    }

    @Override
    public Map<String, Tensor> run(int stage, Map<String, Tensor> inputs) {
        if (closed) {
            throw new IllegalStateException("The handle has been destroyed.");
        }
        stagesRun.add(stage);
        inputsSeen.add(inputs);
        Manifest.Stage s = manifest.stages.get(stage);
        for (TensorSpec in : s.inputs) {
            Tensor t = inputs.get(in.name);
            if (t == null || t.size() != in.elementCount() || t.isInt8() != in.isInt8()) {
                throw new IllegalStateException(s.signature + " got a bad " + in.name);
            }
        }
        Map<String, Tensor> out = new HashMap<>();
        for (TensorSpec spec : s.outputs) {
            if (spec.name.equals("logits")) {
                Object l = logits[stage];
                out.put("logits", l instanceof byte[] ? Tensor.ofInt8("logits", (byte[]) l)
                        : Tensor.ofFloats("logits", (float[]) l));
            } else {
                out.put(spec.name, Tensor.ofFloats(spec.name, new float[spec.elementCount()]));
            }
        }
        clock.advanceMs(costMs[stage]);
        return out;
    }

    @Override
    public void close() {
        closed = true;
    }
}

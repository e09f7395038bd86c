package msdnet.cascade;

import java.util.Map;

/**
 * The runtime under the cascade: runs one signature of cascade.tflite. The app implements
 * it with LiteRT's CompiledModel; tests implement it with recorded outputs, so the
 * cascade logic is tested without a phone.
 */
public interface StageRunner extends AutoCloseable {
    /**
     * Runs signature {@code stage_k} on its inputs, by name, in the dtypes the manifest
     * gives; returns every output by name ("logits" and, but for the last stage, the
     * feature maps).
     */
    Map<String, Tensor> run(int stage, Map<String, Tensor> inputs) throws Exception;

    /** Frees the runtime's resources. */
    @Override
    default void close() {
    }
}

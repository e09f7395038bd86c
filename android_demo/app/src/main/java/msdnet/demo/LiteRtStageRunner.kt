package msdnet.demo

import android.content.res.AssetManager
import android.util.Log
import com.google.ai.edge.litert.Accelerator
import com.google.ai.edge.litert.CompiledModel
import com.google.ai.edge.litert.Environment
import com.google.ai.edge.litert.TensorBuffer
import com.google.ai.edge.litert.TensorType
import msdnet.cascade.Manifest
import msdnet.cascade.ModelCheck
import msdnet.cascade.StageRunner
import msdnet.cascade.Tensor
import msdnet.cascade.TensorSpec

/**
 * cascade.tflite on LiteRT's CompiledModel API: one compiled model, one signature per
 * stage (stage_0 ... stage_{K-1}), buffers created once per signature and addressed by
 * tensor name, never by position (the manifest gives the names). CPU runs with XNNPACK and
 * [threads] threads; GPU needs the litert-gpu artifact (see [gpuAvailable]) and a device
 * driver that runs the model, and fails loudly here rather than silently running on the
 * CPU (cascade-core's CascadeRuntime then falls back to the last options that worked and
 * the app shows the error).
 *
 * Not thread-safe: [CascadeClassifier] calls it from one thread.
 */
class LiteRtStageRunner(
    assets: AssetManager,
    private val manifest: Manifest,
    accelerator: AcceleratorChoice,
    threads: Int,
) : StageRunner {
    private val model: CompiledModel
    private val inputs: List<Map<String, TensorBuffer>>
    private val outputs: List<Map<String, TensorBuffer>>

    init {
        val options = when (accelerator) {
            AcceleratorChoice.CPU -> CompiledModel.Options(Accelerator.CPU).apply {
                cpuOptions = CompiledModel.CpuOptions(numThreads = threads)
            }
            AcceleratorChoice.GPU -> CompiledModel.Options(Accelerator.GPU)
        }
        model = CompiledModel.create(assets, manifest.cascadeFile, options)
        val buffers = try {
            // Names, shapes and dtypes as the manifest declares them: LiteRT would otherwise
            // accept buffers of another size silently.
            ModelCheck.checkStages(manifest, LiteRtTensors(model), manifest.cascadeFile)
            createBuffers()
        } catch (e: Exception) {
            model.close()
            throw IllegalStateException(
                "${manifest.cascadeFile} does not have the signatures and tensors manifest.json " +
                    "describes (${e.message}): bundle the files of one conversion", e
            )
        }
        inputs = buffers.first
        outputs = buffers.second
    }

    /** Every stage's input and output buffers; on failure, those already made are closed. */
    private fun createBuffers(): Pair<List<Map<String, TensorBuffer>>, List<Map<String, TensorBuffer>>> {
        val made = mutableListOf<TensorBuffer>()
        fun keep(buffer: TensorBuffer) = buffer.also { made += it }
        try {
            return Pair(
                manifest.stages.map { stage ->
                    stage.inputs.associate { it.name to keep(model.createInputBuffer(it.name, stage.signature)) }
                },
                manifest.stages.map { stage ->
                    stage.outputs.associate { it.name to keep(model.createOutputBuffer(it.name, stage.signature)) }
                },
            )
        } catch (e: Exception) {
            made.forEach { it.close() }
            throw e
        }
    }

    override fun run(stage: Int, inputs: Map<String, Tensor>): Map<String, Tensor> {
        val spec = manifest.stages[stage]
        val inBuffers = this.inputs[stage]
        for (input in spec.inputs) {
            val tensor = inputs[input.name]
                ?: throw IllegalArgumentException("${spec.signature} needs input ${input.name}")
            val buffer = inBuffers.getValue(input.name)
            if (tensor.isInt8) buffer.writeInt8(tensor.int8()) else buffer.writeFloat(tensor.floats())
        }
        val outBuffers = outputs[stage]
        model.run(inBuffers, outBuffers, spec.signature)
        return spec.outputs.associate { output ->
            val buffer = outBuffers.getValue(output.name)
            output.name to if (output.isInt8) {
                Tensor.ofInt8(output.name, buffer.readInt8())
            } else {
                Tensor.ofFloats(output.name, buffer.readFloat())
            }
        }
    }

    override fun close() {
        (inputs + outputs).forEach { buffers -> buffers.values.forEach { it.close() } }
        model.close()
    }

    companion object {
        /**
         * Whether LiteRT has a GPU accelerator in this app: the accelerators a LiteRT
         * environment registered. From LiteRT 2.3.0 the GPU accelerator ships in the separate
         * litert-gpu artifact; an app built without it (`-PlitertGpu=false`) has none, and
         * the settings then offer the CPU only. Whether this phone's driver can run the model
         * shows only when a runner is built.
         */
        fun gpuAvailable(): Boolean =
            try {
                Environment.create().use { Accelerator.GPU in it.getAvailableAccelerators() }
            } catch (e: Exception) { // LiteRtException, or any other failure: no GPU is offered
                Log.w("MsdnetDemo", "LiteRT lists no accelerators; offering the CPU only", e)
                false
            }
    }
}

/** The tensors of a compiled model, as cascade-core's [ModelCheck] asks for them. */
private class LiteRtTensors(private val model: CompiledModel) : ModelCheck.Tensors {
    override fun input(signature: String, name: String): TensorSpec? =
        spec(name, model.getInputTensorType(name, signature))

    override fun output(signature: String, name: String): TensorSpec? =
        spec(name, model.getOutputTensorType(name, signature))

    private fun spec(name: String, type: TensorType): TensorSpec? {
        val dims = type.layout?.dimensions?.toList()?.toIntArray() ?: return null
        val dtype = when (type.elementType.name) {
            "FLOAT" -> TensorSpec.FLOAT32
            "INT8" -> TensorSpec.INT8
            else -> type.elementType.name.lowercase()
        }
        return TensorSpec(name, dims, dtype, null)
    }
}

enum class AcceleratorChoice { CPU, GPU }

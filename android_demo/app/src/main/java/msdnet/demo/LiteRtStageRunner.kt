package msdnet.demo

import android.content.res.AssetManager
import com.google.ai.edge.litert.Accelerator
import com.google.ai.edge.litert.CompiledModel
import com.google.ai.edge.litert.TensorBuffer
import msdnet.cascade.Manifest
import msdnet.cascade.StageRunner
import msdnet.cascade.Tensor

/**
 * cascade.tflite on LiteRT's CompiledModel API: one compiled model, one signature per
 * stage (stage_0 ... stage_{K-1}), buffers created once per signature and addressed by
 * tensor name, never by position (the manifest gives the names). CPU runs with XNNPACK and
 * [threads] threads; GPU needs the litert-gpu artifact and a device OpenCL driver, and
 * fails loudly here rather than silently falling back to the CPU.
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

    private fun createBuffers() = Pair(
        manifest.stages.map { stage ->
            stage.inputs.associate { it.name to model.createInputBuffer(it.name, stage.signature) }
        },
        manifest.stages.map { stage ->
            stage.outputs.associate { it.name to model.createOutputBuffer(it.name, stage.signature) }
        },
    )

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
}

enum class AcceleratorChoice { CPU, GPU }

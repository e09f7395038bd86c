package msdnet.demo

import android.content.res.AssetManager
import java.io.FileNotFoundException
import msdnet.cascade.BudgetTable
import msdnet.cascade.Manifest
import msdnet.cascade.Thresholds

/**
 * The deployment files the Gradle task copied into the assets (docs/deployment-format.md):
 * manifest.json and cascade.tflite always (and cascade_r<R>.tflite for every other side of
 * a resolution-switchable model), thresholds.json and budgeted.json when the converted
 * directory had them. Parsed and checked by cascade-core; a file made for another model, or
 * a cascade file that is not the one manifest.json describes, is refused with its message.
 */
class ModelAssets(
    val manifest: Manifest,
    /** thresholds.json, else the manifest's own, else null. */
    val thresholds: Thresholds?,
    val thresholdsSource: String?,
    /** The budgeted curve (one thresholds set per exit-share q), or null. */
    val budgets: BudgetTable?,
    /** Every input side's budgeted curve (switchable models; empty otherwise). */
    val curves: Map<Int, BudgetTable> = emptyMap(),
) {
    companion object {
        fun load(assets: AssetManager): ModelAssets {
            val manifestText = read(assets, "manifest.json")
                ?: throw IllegalStateException(
                    "manifest.json is not in the app's assets: build with -PmodelDir=DIR"
                )
            val manifest = Manifest.parse(manifestText, "manifest.json")
            val bundled = assets.list("")!!
            for (side in manifest.resolutions) {
                val file = manifest.forResolution(side).cascadeFile
                if (!bundled.contains(file)) {
                    throw IllegalStateException("$file is not in the app's assets")
                }
            }
            // The models bundled must be the ones this manifest was converted with (sha256 and
            // size of every side's cascade); manifests written before digests existed are not
            // checked.
            for (side in manifest.resolutions) {
                val part = manifest.forResolution(side)
                assets.open(part.cascadeFile).use { part.checkFile(part.cascadeFile, it) }
            }
            val fromFile = read(assets, "thresholds.json")
                ?.let { Thresholds.parse(it, "thresholds.json").checkFor(manifest, "thresholds.json") }
            val thresholds = fromFile ?: manifest.thresholds
            val source = when {
                fromFile != null -> "thresholds.json"
                manifest.thresholds != null -> "manifest.json"
                else -> null
            }
            val budgetedText = read(assets, "budgeted.json")
            val budgets = budgetedText?.let {
                BudgetTable.parse(it, "budgeted.json", manifest.numExits)
                    .checkFor(manifest, "budgeted.json")
            }
            val curves = budgetedText?.let {
                BudgetTable.parseResolutions(it, "budgeted.json", manifest.numExits)
            }.orEmpty()
            return ModelAssets(manifest, thresholds, source, budgets, curves)
        }

        private fun read(assets: AssetManager, name: String): String? =
            try {
                assets.open(name).use { it.readBytes().toString(Charsets.UTF_8) }
            } catch (e: FileNotFoundException) {
                null
            }
    }
}

package msdnet.cascade;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertTrue;

import java.util.Arrays;
import java.util.HashSet;
import java.util.Set;
import org.junit.Test;

/**
 * A real RANet manifest (manifest_ranet.json: the RANet quickstart converted to int8 by
 * tflite/convert.py) through the unchanged cascade core. RANet's stages hand on several named
 * maps (feats lists of a sub-network, stem maps of later ones), some of them passing through
 * stages untouched; the core must carry each by name from the stage that made it to the one
 * that reads it.
 */
public class RanetManifestTest {
    private static Manifest manifest() {
        return Manifest.parse(TestFiles.required("/manifest_ranet.json"), "manifest_ranet.json");
    }

    private static Set<String> names(java.util.List<TensorSpec> specs) {
        Set<String> out = new HashSet<>();
        for (TensorSpec s : specs) {
            out.add(s.name);
        }
        return out;
    }

    @Test
    public void parsesTheNamedStageMaps() {
        Manifest m = manifest();
        assertEquals(4, m.numExits);
        assertEquals(m.numExits, m.stages.size());
        // Stage 0 ran sub-network 0's first block: it hands on that block's feats list (its
        // input s0_stem and the map after each layer) and the stem maps of sub-networks 1, 2.
        assertEquals(new HashSet<>(Arrays.asList("s0_stem", "s0_b0_l1", "s0_b0_l2", "s1_stem",
                "s2_stem")), names(m.stages.get(1).inputs));
        assertTrue(names(m.stages.get(3).inputs).contains("s1_b2_l2"));
        assertTrue(m.exits.get(3).cumulativeFlops > m.exits.get(0).cumulativeFlops);
    }

    @Test
    public void carriesEveryMapByNameToTheStageThatReadsIt() throws Exception {
        Manifest m = manifest();
        Object[] logits = new Object[m.numExits];
        double[] cost = new double[m.numExits];
        for (int k = 0; k < m.numExits; k++) {
            float[] l = new float[m.numClasses];
            l[k] = 1f;
            logits[k] = l;
            cost[k] = 1.0;
        }
        FakeRunner runner = new FakeRunner(m, logits, cost);
        Cascade.Decision d = new Cascade(m, runner, runner.clock)
                .classify(new float[32 * 32 * 3], null, null);
        assertEquals(3, d.exit);
        assertEquals(Arrays.asList(0, 1, 2, 3), runner.stagesRun);
        for (int k = 1; k < m.numExits; k++) {
            assertEquals(names(m.stages.get(k).inputs), runner.inputsSeen.get(k).keySet());
            // The finest stem map, made by stage 0, reaches the last sub-network's stage.
            assertTrue(runner.inputsSeen.get(k).containsKey("s2_stem"));
        }
    }
}

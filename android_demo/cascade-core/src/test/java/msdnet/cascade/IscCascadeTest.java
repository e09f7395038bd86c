package msdnet.cascade;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertTrue;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.Test;

/**
 * A model trained with IMTA's inline subnetwork collaboration (docs/imta.md): every stage but
 * the last also returns its logits as "isc_logits" [1, num_classes], float32, which the next
 * stage takes as an input. The core needs no change: outputs go on to the next stage by name.
 */
public class IscCascadeTest {
    private static final Object[] LOGITS = {
        new byte[] {10, 12, 8, 11},
        new byte[] {2, 2, 2, 60},
        new byte[] {70, 2, 2, 2},
    };
    private static final double[] COST_MS = {2.0, 3.0, 5.0};

    private static Map<String, Object> iscTensor() {
        Map<String, Object> t = new LinkedHashMap<>();
        t.put("name", "isc_logits");
        t.put("shape", new ArrayList<Object>(Arrays.asList(1L, 4L)));
        t.put("dtype", "float32");
        t.put("quantization", null);
        return t;
    }

    /** The small manifest with the ISC logits carried from every stage to the next. */
    private static Manifest iscManifest() {
        Map<String, Object> tree = TestFiles.smallManifestTree();
        List<Object> stages = TestFiles.list(TestFiles.map(tree.get("cascade")).get("stages"));
        for (int k = 0; k < stages.size(); k++) {
            Map<String, Object> stage = TestFiles.map(stages.get(k));
            if (k < stages.size() - 1) {
                TestFiles.list(stage.get("outputs")).add(iscTensor());
            }
            if (k > 0) {
                TestFiles.list(stage.get("inputs")).add(iscTensor());
            }
        }
        return Manifest.parse(JsonWriter.write(tree), "manifest.json");
    }

    @Test
    public void passesTheLogitsOnByName() throws Exception {
        Manifest manifest = iscManifest();
        assertEquals(3, manifest.stages.get(1).inputs.size());
        FakeRunner runner = new FakeRunner(manifest, LOGITS, COST_MS);
        Cascade cascade = new Cascade(manifest, runner, runner.clock);
        Cascade.Decision d = cascade.classify(new float[4 * 4 * 3], null, null);
        assertEquals(2, d.exit);
        assertEquals(3, runner.inputsSeen.get(1).size());
        for (int k = 1; k < 3; k++) {
            Tensor isc = runner.inputsSeen.get(k).get("isc_logits");
            assertTrue("stage_" + k + " got no isc_logits", isc != null);
            assertEquals(4, isc.size());
        }
    }
}

package msdnet.cascade;

import static org.junit.Assert.assertArrayEquals;
import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertNull;
import static org.junit.Assert.assertTrue;
import static org.junit.Assert.fail;

import org.junit.Test;

public class ThresholdsTest {
    private static String file(String thresholds, String extra) {
        return "{\"num_exits\": 4, \"thresholds\": " + thresholds + ", \"criterion\": \"max_softmax\""
                + extra + "}";
    }

    @Test
    public void readsTheContractExample() {
        Thresholds t = Thresholds.parse(file("[0.5689, 0.4431, 0.3120, \"-inf\"]",
                ", \"budget\": {\"metric\": \"flops\", \"requested\": 9.2e6, \"q\": 0.3},"
                        + " \"model\": \"0a4a3adc6e479ff7\""), "thresholds.json");
        assertArrayEquals(new double[] {0.5689, 0.4431, 0.3120, Double.NEGATIVE_INFINITY},
                t.values(), 0);
        assertEquals("0a4a3adc6e479ff7", t.model);
        assertEquals(0.3, t.budget.get("q"));
        assertEquals(java.util.Arrays.asList(0.5689, 0.4431, 0.312, "-inf"), t.encoded());
    }

    @Test
    public void acceptsInfinityAndIntegersAndNoBudget() {
        Thresholds t = Thresholds.parse(file("[\"inf\", 1, 0, \"-inf\"]", ""), "t.json");
        assertEquals(Double.POSITIVE_INFINITY, t.get(0), 0);
        assertEquals(1.0, t.get(1), 0);
        assertNull(t.budget);
        assertNull(t.model);
    }

    private static void assertRejected(String text, String expected) {
        try {
            Thresholds.parse(text, "thresholds.json");
            fail("accepted " + text);
        } catch (FormatException e) {
            assertTrue("'" + e.getMessage() + "' lacks '" + expected + "'",
                    e.getMessage().contains(expected));
        }
    }

    @Test
    public void refusesWhatThePythonSideRefuses() {
        assertRejected(file("[0.5, \"-inf\", 0.3, \"-inf\"]", ""),
                "threshold of exit_1 must be a probability in [0, 1] or \"inf\"");
        assertRejected(file("[0.5, 0.4, 0.3, 0.2]", ""),
                "the last exit (exit_3) must be \"-inf\"");
        assertRejected(file("[1.5, 0.4, 0.3, \"-inf\"]", ""), "exit_0 must be a probability");
        assertRejected(file("[-0.1, 0.4, 0.3, \"-inf\"]", ""), "exit_0 must be a probability");
        assertRejected(file("[\"NaN\", 0.4, 0.3, \"-inf\"]", ""),
                "thresholds[0] must be a number, \"inf\" or \"-inf\". Received: \"NaN\"");
        assertRejected(file("[true, 0.4, 0.3, \"-inf\"]", ""), "thresholds[0] must be a number");
        assertRejected(file("[0.4, 0.3, \"-inf\"]", ""), "must hold 4 values (one per exit)");
        assertRejected(file("[0.4, 0.3, 0.2, \"-inf\"]", ", \"model\": 7"), "model must be a string");
        assertRejected(file("[0.4, 0.3, 0.2, \"-inf\"]", ", \"budget\": [1]"),
                "budget must be an object or null");
        assertRejected("{\"exits\": 0, \"thresholds\": [], \"criterion\": \"max_softmax\"}",
                "exits must be a positive integer");
        assertRejected("{\"exits\": 1, \"thresholds\": [\"-inf\"], \"criterion\": \"entropy\"}",
                "criterion must be \"max_softmax\"");
        assertRejected("{\"thresholds\": [\"-inf\"], \"criterion\": \"max_softmax\"}",
                "lacks the field \"num_exits\"");
    }

    @Test
    public void readsFilesThatCallTheCountExits() {
        Thresholds t = Thresholds.parse("{\"exits\": 2, \"thresholds\": [0.5, \"-inf\"], "
                + "\"criterion\": \"max_softmax\"}", "old.json");
        assertEquals(2, t.numExits());
        assertRejected("{\"exits\": 3, \"thresholds\": [0.5, \"-inf\"], "
                + "\"criterion\": \"max_softmax\"}", "must hold 3 values");
    }

    @Test
    public void refusesThresholdsOfAnotherModel() {
        Manifest m = TestFiles.smallManifest();
        Thresholds ok = Thresholds.parse("{\"exits\": 3, \"thresholds\": [0.1, 0.2, \"-inf\"], "
                + "\"criterion\": \"max_softmax\", \"model\": \"0a4a3adc6e479ff7\"}", "t.json");
        assertEquals(ok, ok.checkFor(m, "t.json"));
        Thresholds other = Thresholds.parse("{\"exits\": 3, \"thresholds\": [0.1, 0.2, \"-inf\"],"
                + " \"criterion\": \"max_softmax\", \"model\": \"feedfacefeedface\"}", "t.json");
        try {
            other.checkFor(m, "t.json");
            fail();
        } catch (FormatException e) {
            assertTrue(e.getMessage(), e.getMessage().contains("made for model \"feedfacefeedface\""));
        }
        Thresholds four = Thresholds.of(0.1, 0.2, 0.3, Double.NEGATIVE_INFINITY);
        try {
            four.checkFor(m, "t.json");
            fail();
        } catch (FormatException e) {
            assertTrue(e.getMessage(), e.getMessage().contains("4 exits but the model has 3"));
        }
    }

    @Test
    public void readsTheRealThresholdsFiles() {
        for (String mode : TestFiles.modes()) {
            String text = TestFiles.resource("/vectors/" + mode + "/thresholds.json");
            if (text != null) {
                Manifest m = Manifest.parse(TestFiles.vectors(mode + "/manifest.json"), "m");
                Thresholds.parse(text, "thresholds.json").checkFor(m, "thresholds.json");
            }
        }
    }
}

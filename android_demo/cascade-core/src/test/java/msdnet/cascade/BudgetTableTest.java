package msdnet.cascade;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertTrue;
import static org.junit.Assert.fail;

import org.junit.Test;

public class BudgetTableTest {
    // The shape of budgeted.json as msdnet_tf/evaluation/report.py writes it.
    static final String BUDGETED = "{\n"
            + " \"criterion\": \"max_softmax\", \"num_val\": 5000, \"num_test\": 10000,\n"
            + " \"exit_flops\": [1000.0, 2500.0, 4000.0], \"model\": \"0a4a3adc6e479ff7\",\n"
            + " \"points\": [\n"
            + "  {\"q\": 0.05, \"thresholds\": [0.2, 0.1, \"-inf\"],"
            + " \"exit_fractions\": [0.95, 0.05, 0.0], \"val_accuracy\": 80.0,"
            + " \"test_accuracy\": 79.5, \"expected_flops\": 1075.0,"
            + " \"val_exit_fractions\": [0.95, 0.05, 0.0], \"val_expected_flops\": 1075.0},\n"
            + "  {\"q\": 1.0, \"thresholds\": [0.9, 0.8, \"-inf\"],"
            + " \"exit_fractions\": [0.34, 0.33, 0.33], \"val_accuracy\": 88.0,"
            + " \"test_accuracy\": 87.0, \"expected_flops\": 2485.0,"
            + " \"val_exit_fractions\": [0.33, 0.33, 0.34], \"val_expected_flops\": 2500.0},\n"
            + "  {\"q\": 1.95, \"thresholds\": [\"inf\", 0.99, \"-inf\"],"
            + " \"exit_fractions\": [0.0, 0.3, 0.7], \"val_accuracy\": 90.0,"
            + " \"test_accuracy\": 89.0, \"expected_flops\": 3550.0,"
            + " \"val_exit_fractions\": [0.0, 0.3, 0.7], \"val_expected_flops\": 3550.0}\n"
            + " ]\n}\n";

    @Test
    public void readsTheCurveAndPicksTheNearestQ() {
        BudgetTable t = BudgetTable.parse(BUDGETED, "budgeted.json", 3)
                .checkFor(TestFiles.smallManifest(), "budgeted.json");
        assertEquals(3, t.points.size());
        assertEquals(0.05, t.points.get(0).q, 0);
        assertEquals(Double.POSITIVE_INFINITY, t.points.get(2).thresholds.get(0), 0);
        assertEquals(87.0, t.nearest(0.9).testAccuracy, 0);
        assertEquals(1.95, t.nearest(5).q, 0);
        assertEquals(0.05, t.nearest(0.01).q, 0);
        assertEquals(0.33, t.points.get(1).exitFractions()[2], 0);
    }

    @Test
    public void checksEveryPoint() {
        try {
            BudgetTable.parse(BUDGETED.replace("[0.9, 0.8, \"-inf\"]", "[0.9, 0.8, 0.7]"),
                    "budgeted.json", 3);
            fail();
        } catch (FormatException e) {
            assertTrue(e.getMessage(), e.getMessage().startsWith("budgeted.json: points[1]"));
            assertTrue(e.getMessage(), e.getMessage().contains("must be \"-inf\""));
        }
        try {
            BudgetTable.parse(BUDGETED, "budgeted.json", 4);
            fail();
        } catch (FormatException e) {
            assertTrue(e.getMessage(), e.getMessage().contains("exit_flops has 3 exits, the model 4"));
        }
        try {
            BudgetTable.parse(BUDGETED.replace("0a4a3adc6e479ff7", "ffff"), "budgeted.json", 3)
                    .checkFor(TestFiles.smallManifest(), "budgeted.json");
            fail();
        } catch (FormatException e) {
            assertTrue(e.getMessage(), e.getMessage().contains("made for model \"ffff\""));
        }
    }
}

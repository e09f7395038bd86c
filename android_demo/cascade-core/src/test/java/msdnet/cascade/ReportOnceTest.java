package msdnet.cascade;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertFalse;
import static org.junit.Assert.assertTrue;

import java.util.concurrent.ExecutionException;
import org.junit.Test;

/** Errors that recur on every frame are reported once; error text for the screen. */
public class ReportOnceTest {
    @Test
    public void eachMessageOnceUntilReset() {
        ReportOnce once = new ReportOnce();
        int shown = 0;
        for (int frame = 0; frame < 300; frame++) { // ten seconds of camera frames
            if (once.firstTime("no thresholds were bundled")) {
                shown++;
            }
        }
        assertEquals(1, shown);
        assertEquals(299, once.heldBack());
        assertTrue(once.firstTime("the runtime is not ready"));
        assertFalse(once.firstTime("no thresholds were bundled"));
        once.reset();
        assertEquals(0, once.heldBack());
        assertTrue(once.firstTime("no thresholds were bundled"));
    }

    @Test
    public void remembersABoundedNumberOfMessages() {
        ReportOnce once = new ReportOnce();
        for (int i = 0; i <= ReportOnce.CAPACITY; i++) {
            assertTrue(once.firstTime("error " + i));
        }
        assertTrue("the oldest was forgotten", once.firstTime("error 0"));
        assertFalse(once.firstTime("error " + ReportOnce.CAPACITY));
    }

    @Test
    public void errorTextIsTheMessageOrTheKind() {
        assertEquals("no OpenCL", ErrorText.of(new IllegalStateException("no OpenCL")));
        assertEquals("IllegalStateException", ErrorText.of(new IllegalStateException()));
        assertEquals("NullPointerException", ErrorText.of(new NullPointerException("  ")));
        assertEquals("camera in use", ErrorText.of(
                new ExecutionException(new IllegalStateException("camera in use"))));
        assertEquals("ExecutionException", ErrorText.of(new ExecutionException(null)));
    }
}

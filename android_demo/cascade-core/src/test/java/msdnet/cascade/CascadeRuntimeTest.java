package msdnet.cascade;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertFalse;
import static org.junit.Assert.assertNotNull;
import static org.junit.Assert.assertNotSame;
import static org.junit.Assert.assertNull;
import static org.junit.Assert.assertSame;
import static org.junit.Assert.assertTrue;
import static org.junit.Assert.fail;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import org.junit.Test;

/**
 * Switching runtime options: the old runner is closed before the new one is built, nothing
 * keeps using a closed runner, and a runner that cannot be built falls back to the last
 * options that worked, with the real error.
 */
public class CascadeRuntimeTest {
    private static final Object[] LOGITS = {
        new byte[] {10, 12, 8, 11},
        new byte[] {2, 2, 2, 60},
        new byte[] {70, 2, 2, 2},
    };
    private static final double[] COST_MS = {2.0, 3.0, 5.0};
    private static final String CPU = "CPU, 2 threads";
    private static final String CPU4 = "CPU, 4 threads";
    private static final String GPU = "GPU";

    private final Manifest manifest = TestFiles.smallManifest();
    private final float[] image = new float[4 * 4 * 3];
    private final FakeRunner.FakeClock clock = new FakeRunner.FakeClock();
    /** Options the factory fails for, with the error it throws. */
    private final Set<String> broken = new HashSet<>();
    private final List<String> built = new ArrayList<>();
    private final List<FakeRunner> runners = new ArrayList<>();
    /** Set if a runner was built while an earlier one was still open. */
    private boolean builtWhileAnotherWasOpen;

    private final CascadeRuntime<String> runtime = new CascadeRuntime<>(manifest, options -> {
        built.add(options);
        for (FakeRunner r : runners) {
            builtWhileAnotherWasOpen |= !r.closed;
        }
        if (broken.contains(options)) {
            throw new IllegalStateException("Failed to create the compiled model: no OpenCL");
        }
        FakeRunner runner = new FakeRunner(manifest, LOGITS, COST_MS);
        runners.add(runner);
        return runner;
    }, clock);

    private FakeRunner current() {
        return runners.get(runners.size() - 1);
    }

    @Test
    public void sameOptionsKeepTheRunner() throws Exception {
        CascadeRuntime.Outcome<String> first = runtime.open(CPU);
        assertTrue(first.ok());
        assertTrue(first.rebuilt);
        assertNull(first.message());
        Cascade cascade = runtime.cascade();
        CascadeRuntime.Outcome<String> again = runtime.open(CPU);
        assertTrue(again.ok());
        assertFalse(again.rebuilt);
        assertSame(cascade, runtime.cascade());
        assertEquals(Arrays.asList(CPU), built);
        assertEquals(2, runtime.cascade().classify(image, null, null).exit);
    }

    @Test
    public void newOptionsCloseTheOldRunnerFirstAndDropItsLatencies() throws Exception {
        runtime.open(CPU);
        FakeRunner old = current();
        runtime.setMeasured(LatencyBenchmark.run(runtime.cascade(), image, 0, 1, clock, null));
        assertNotNull(runtime.measured());

        CascadeRuntime.Outcome<String> outcome = runtime.open(CPU4);
        assertTrue(outcome.ok());
        assertTrue(outcome.rebuilt);
        assertEquals(CPU4, outcome.active);
        assertTrue(old.closed);
        assertFalse(builtWhileAnotherWasOpen);
        assertNull("latencies of other settings do not hold", runtime.measured());
        assertEquals(CPU4, runtime.active());
        runtime.cascade().classify(image, null, null);
        assertEquals(Arrays.asList(0, 1, 2), current().stagesRun);
    }

    @Test
    public void aRunnerThatCannotBeBuiltFallsBackToTheLastOptionsThatWorked() throws Exception {
        runtime.open(CPU);
        FakeRunner cpu = current();
        broken.add(GPU);

        CascadeRuntime.Outcome<String> outcome = runtime.open(GPU);
        assertFalse(outcome.ok());
        assertTrue(outcome.fellBack());
        assertEquals(GPU, outcome.requested);
        assertEquals(CPU, outcome.active);
        assertEquals(CPU, runtime.active());
        assertEquals(Arrays.asList(CPU, GPU, CPU), built);
        assertFalse(builtWhileAnotherWasOpen);
        // The real error reaches the user, with what runs now.
        assertEquals("the model cannot run with GPU (Failed to create the compiled model: "
                + "no OpenCL): back to CPU, 2 threads", outcome.message());
        // What failed before the fix: the cascade kept the closed runner ("The handle has been
        // destroyed" on every image). Now it runs on a new one.
        assertTrue(cpu.closed);
        FakeRunner now = current();
        assertNotSame(cpu, now);
        assertEquals(2, runtime.cascade().classify(image, null, null).exit);
        assertEquals(Arrays.asList(0, 1, 2), now.stagesRun);

        // Asking for the GPU again tries it again (the driver may differ per model or update).
        broken.clear();
        CascadeRuntime.Outcome<String> retry = runtime.open(GPU);
        assertTrue(retry.ok());
        assertEquals(GPU, runtime.active());
    }

    @Test
    public void withNothingThatWorkedThereIsNoCascadeAndItSaysWhy() throws Exception {
        try {
            runtime.cascade();
            fail();
        } catch (IllegalStateException e) {
            assertEquals("the runtime is not open yet", e.getMessage());
        }
        broken.add(GPU);
        CascadeRuntime.Outcome<String> outcome = runtime.open(GPU);
        assertFalse(outcome.ok());
        assertFalse(outcome.fellBack());
        assertNull(outcome.active);
        assertNull(runtime.active());
        assertEquals(Arrays.asList(GPU), built);
        try {
            runtime.cascade();
            fail();
        } catch (IllegalStateException e) {
            assertEquals("the runtime is not ready: the model cannot run with GPU (Failed to "
                    + "create the compiled model: no OpenCL)", e.getMessage());
        }
        try {
            runtime.setMeasured(null);
            fail();
        } catch (IllegalStateException e) {
            assertTrue(e.getMessage(), e.getMessage().contains("no OpenCL"));
        }
        // Other options still work, and become the ones to fall back to.
        assertTrue(runtime.open(CPU).ok());
        assertEquals(2, runtime.cascade().classify(image, null, null).exit);
    }

    @Test
    public void whenTheFallbackFailsTooBothErrorsAreShown() throws Exception {
        runtime.open(CPU);
        broken.add(GPU);
        broken.add(CPU);
        CascadeRuntime.Outcome<String> outcome = runtime.open(GPU);
        assertNull(outcome.active);
        assertNotNull(outcome.fallbackError);
        assertEquals(Arrays.asList(CPU, GPU, CPU), built);
        assertTrue(outcome.message(), outcome.message().startsWith(
                "the model cannot run with GPU (Failed to create the compiled model: no OpenCL)"
                        + ", and no longer with the previous settings either ("));
        assertTrue(runners.get(0).closed);
        try {
            runtime.cascade();
            fail();
        } catch (IllegalStateException e) {
            assertTrue(e.getMessage(), e.getMessage().startsWith("the runtime is not ready: "));
        }
    }

    @Test
    public void closeReleasesTheRunner() throws Exception {
        runtime.open(CPU);
        runtime.close();
        assertTrue(current().closed);
        assertNull(runtime.active());
        try {
            runtime.cascade();
            fail();
        } catch (IllegalStateException e) {
            assertEquals("the runtime is closed", e.getMessage());
        }
        assertTrue(runtime.open(CPU).rebuilt);
    }
}

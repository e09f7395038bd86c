package msdnet.cascade;

import java.util.Objects;

/**
 * The cascade's runtime for one choice of runtime options (for the app: accelerator and
 * threads), and what a change of choice does:
 *
 * <ul>
 *   <li>the same options: nothing;
 *   <li>other options: first the cascade and the latencies measured with it are dropped and
 *       the current runner is closed (two compiled models never hold memory at once, and
 *       nothing is left that could still call the closed runner); then a runner is built for
 *       the new options;
 *   <li>if that fails (the GPU chosen on a phone whose driver cannot run the model, say), a
 *       runner is built again with the last options that worked, and the {@link Outcome}
 *       carries the real error for the screen;
 *   <li>if no options work, there is no cascade, and {@link #cascade()} says why.
 * </ul>
 *
 * <p>Not thread-safe: the app calls it from its one inference thread.
 *
 * @param <O> the runtime options: compared with {@code equals}, named to the user by
 *     {@code toString}
 */
public final class CascadeRuntime<O> {
    /** Builds a runner for some options (the app: LiteRT's CompiledModel). */
    public interface Factory<O> {
        StageRunner open(O options) throws Exception;
    }

    /** What {@link #open} did. */
    public static final class Outcome<O> {
        /** The options asked for. */
        public final O requested;
        /** The options the cascade runs with now: the requested ones, the last ones that worked, or null. */
        public final O active;
        /** Why the requested options could not be used; null if they were. */
        public final Exception error;
        /** Why the fallback to the last options that worked failed as well; null otherwise. */
        public final Exception fallbackError;
        /** Whether a runner was closed and built (the latencies measured before are gone). */
        public final boolean rebuilt;

        Outcome(O requested, O active, Exception error, Exception fallbackError,
                boolean rebuilt) {
            this.requested = requested;
            this.active = active;
            this.error = error;
            this.fallbackError = fallbackError;
            this.rebuilt = rebuilt;
        }

        /** Whether the requested options are in use. */
        public boolean ok() {
            return error == null;
        }

        /** Whether the requested options failed and the last ones that worked run instead. */
        public boolean fellBack() {
            return error != null && active != null;
        }

        /** For the user: what failed and what runs now; null when nothing failed. */
        public String message() {
            if (error == null) {
                return null;
            }
            String failed = "the model cannot run with " + requested + " (" + ErrorText.of(error)
                    + ")";
            if (active != null) {
                return failed + ": back to " + active;
            }
            if (fallbackError != null) {
                return failed + ", and no longer with the previous settings either ("
                        + ErrorText.of(fallbackError) + ")";
            }
            return failed;
        }
    }

    private final Manifest manifest;
    private final Factory<O> factory;
    private final Clock clock;

    private StageRunner runner;
    private Cascade cascade;
    private O active;
    private O lastGood;
    private LatencyBenchmark.Result measured;
    private String notReady = "the runtime is not open yet";

    public CascadeRuntime(Manifest manifest, Factory<O> factory, Clock clock) {
        this.manifest = Objects.requireNonNull(manifest, "manifest");
        this.factory = Objects.requireNonNull(factory, "factory");
        this.clock = Objects.requireNonNull(clock, "clock");
    }

    public CascadeRuntime(Manifest manifest, Factory<O> factory) {
        this(manifest, factory, Clock.SYSTEM);
    }

    /**
     * Makes the cascade run with {@code requested}, or with the last options that worked if
     * a runner cannot be built for them (see the class comment). Never throws for a runner
     * that cannot be built: the outcome says what happened.
     */
    public Outcome<O> open(O requested) {
        Objects.requireNonNull(requested, "options");
        if (cascade != null && requested.equals(active)) {
            return new Outcome<>(requested, active, null, null, false);
        }
        drop();
        try {
            start(requested);
            return new Outcome<>(requested, requested, null, null, true);
        } catch (Exception error) {
            Exception fallbackError = null;
            if (lastGood != null && !lastGood.equals(requested)) {
                try {
                    start(lastGood);
                    return new Outcome<>(requested, lastGood, error, null, true);
                } catch (Exception again) {
                    fallbackError = again;
                }
            }
            Outcome<O> failed = new Outcome<>(requested, null, error, fallbackError, true);
            notReady = "the runtime is not ready: " + failed.message();
            return failed;
        }
    }

    /** The cascade on the current runner; throws, with the reason, when there is none. */
    public Cascade cascade() {
        if (cascade == null) {
            throw new IllegalStateException(notReady);
        }
        return cascade;
    }

    /** The options the cascade runs with, or null if there is no cascade. */
    public O active() {
        return active;
    }

    /** This phone's latencies for the current runner, or null (none measured since it was built). */
    public LatencyBenchmark.Result measured() {
        return measured;
    }

    /** Keeps the latencies just measured with the current runner (the deadline policy uses them). */
    public void setMeasured(LatencyBenchmark.Result result) {
        if (cascade == null) {
            throw new IllegalStateException("latencies without a runtime: " + notReady);
        }
        measured = result;
    }

    /** Closes the runner; the next {@link #open} builds a new one. */
    public void close() {
        drop();
        notReady = "the runtime is closed";
    }

    private void start(O options) throws Exception {
        StageRunner built = factory.open(options);
        runner = built;
        cascade = new Cascade(manifest, built, clock);
        active = options;
        lastGood = options;
    }

    /** Forgets everything that belongs to the current runner, then closes it. */
    private void drop() {
        StageRunner old = runner;
        cascade = null;
        measured = null;
        active = null;
        runner = null;
        notReady = "the runtime is being rebuilt";
        if (old != null) {
            old.close();
        }
    }
}

package msdnet.cascade;

/** A monotonic clock in nanoseconds; tests pass a fake one. */
public interface Clock {
    Clock SYSTEM = System::nanoTime;

    long nanos();

    static double millisBetween(long startNanos, long endNanos) {
        return (endNanos - startNanos) / 1e6;
    }
}

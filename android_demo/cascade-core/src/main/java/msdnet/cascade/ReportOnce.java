package msdnet.cascade;

import java.util.Iterator;
import java.util.LinkedHashSet;

/**
 * Lets each distinct message through once. An error that recurs on every camera frame (the
 * same missing file, the same broken runtime, the same policy that cannot apply) is shown
 * once, not at the camera's frame rate. {@link #reset()} when the situation changes (new
 * settings, an action of the user): a message that comes back after that is shown again.
 * Remembers the last {@link #CAPACITY} messages. Thread-safe.
 */
public final class ReportOnce {
    /** How many distinct messages are remembered; the oldest is forgotten first. */
    public static final int CAPACITY = 64;

    private final LinkedHashSet<String> seen = new LinkedHashSet<>();
    private int heldBack;

    /** True the first time {@code message} comes since the last reset, false on repeats. */
    public synchronized boolean firstTime(String message) {
        if (seen.contains(message)) {
            heldBack++;
            return false;
        }
        if (seen.size() == CAPACITY) {
            Iterator<String> oldest = seen.iterator();
            oldest.next();
            oldest.remove();
        }
        seen.add(message);
        return true;
    }

    /** How many repeats were held back since the last reset. */
    public synchronized int heldBack() {
        return heldBack;
    }

    /** Forgets every message: the next occurrence of each is reported again. */
    public synchronized void reset() {
        seen.clear();
        heldBack = 0;
    }
}

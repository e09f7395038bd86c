package msdnet.cascade;

/**
 * A deployment file (manifest.json, thresholds.json, budgeted.json, latency.json) that
 * does not follow docs/deployment-format.md. The message names the file, the field and
 * the value received.
 */
public final class FormatException extends IllegalArgumentException {
    private static final long serialVersionUID = 1L;

    public FormatException(String message) {
        super(message);
    }

    public FormatException(String message, Throwable cause) {
        super(message, cause);
    }
}

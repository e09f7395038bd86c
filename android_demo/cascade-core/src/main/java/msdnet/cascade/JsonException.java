package msdnet.cascade;

/** Text that is not valid JSON; the message gives the line and column. */
public final class JsonException extends IllegalArgumentException {
    private static final long serialVersionUID = 1L;

    public JsonException(String message) {
        super(message);
    }
}

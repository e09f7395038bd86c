package msdnet.cascade;

import java.lang.reflect.InvocationTargetException;
import java.util.concurrent.ExecutionException;

/** An error as one line for the screen: its message, else the name of its kind. */
public final class ErrorText {
    private ErrorText() {
    }

    /**
     * The message of {@code error}, or of what it wraps when it only says that something
     * failed elsewhere (a future's or a reflective call's wrapper); the class name when there
     * is no message.
     */
    public static String of(Throwable error) {
        Throwable e = error;
        while ((e instanceof ExecutionException || e instanceof InvocationTargetException)
                && e.getCause() != null) {
            e = e.getCause();
        }
        String message = e.getMessage();
        if (message == null || message.trim().isEmpty()) {
            return e.getClass().getSimpleName();
        }
        return message;
    }
}

package msdnet.cascade;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;

/**
 * Typed, checked access to a parsed JSON object. Every failure is a {@link FormatException}
 * naming the file and the path of the field, e.g.
 * {@code manifest.json: cascade.stages[1].inputs[0].shape must be ...}.
 */
public final class JsonObject {
    private final Map<String, Object> map;
    private final String file;
    private final String path;

    private JsonObject(Map<String, Object> map, String file, String path) {
        this.map = map;
        this.file = file;
        this.path = path;
    }

    /** Parses {@code text} (the content of {@code file}) as a JSON object. */
    public static JsonObject parse(String text, String file) {
        try {
            return new JsonObject(Json.parseObject(text), file, "");
        } catch (JsonException e) {
            throw new FormatException(file + " is not valid JSON: " + e.getMessage(), e);
        }
    }

    /** Wraps an object already parsed (e.g. the "thresholds" field of a manifest). */
    public static JsonObject of(Map<String, Object> map, String file, String path) {
        return new JsonObject(map, file, path);
    }

    public Map<String, Object> map() {
        return map;
    }

    public String file() {
        return file;
    }

    /** "file: a.b" for messages about this object's field {@code key}. */
    public String where(String key) {
        return file + ": " + (path.isEmpty() ? key : path + "." + key);
    }

    public FormatException fail(String key, String problem) {
        return new FormatException(where(key) + " " + problem);
    }

    public boolean has(String key) {
        return map.containsKey(key);
    }

    public boolean isNull(String key) {
        return map.get(key) == null;
    }

    public Object raw(String key) {
        return map.get(key);
    }

    private Object required(String key) {
        if (!map.containsKey(key)) {
            throw new FormatException(file + ": " + (path.isEmpty() ? "" : path + " ")
                    + "lacks the field \"" + key + "\"");
        }
        return map.get(key);
    }

    public String string(String key) {
        Object v = required(key);
        if (!(v instanceof String)) {
            throw fail(key, "must be a string. Received: " + show(v));
        }
        return (String) v;
    }

    /** A string, or null when the field is missing or null. */
    public String optionalString(String key) {
        Object v = map.get(key);
        if (v != null && !(v instanceof String)) {
            throw fail(key, "must be a string or null. Received: " + show(v));
        }
        return (String) v;
    }

    public long integer(String key) {
        return asInteger(required(key), where(key));
    }

    public int smallInt(String key) {
        long v = integer(key);
        if (v < Integer.MIN_VALUE || v > Integer.MAX_VALUE) {
            throw fail(key, "is out of range. Received: " + v);
        }
        return (int) v;
    }

    public double number(String key) {
        return asNumber(required(key), where(key));
    }

    /** A number or "inf" / "-inf" (how our files write infinities). */
    public double numberOrInfinity(String key) {
        return asNumberOrInfinity(required(key), where(key));
    }

    public JsonObject object(String key) {
        Object v = required(key);
        if (!(v instanceof Map)) {
            throw fail(key, "must be an object. Received: " + show(v));
        }
        return new JsonObject(cast(v), file, childPath(key));
    }

    /** An object, or null when the field is missing or null. */
    public JsonObject optionalObject(String key) {
        Object v = map.get(key);
        if (v == null) {
            return null;
        }
        if (!(v instanceof Map)) {
            throw fail(key, "must be an object or null. Received: " + show(v));
        }
        return new JsonObject(cast(v), file, childPath(key));
    }

    @SuppressWarnings("unchecked")
    public List<Object> array(String key) {
        Object v = required(key);
        if (!(v instanceof List)) {
            throw fail(key, "must be a list. Received: " + show(v));
        }
        return (List<Object>) v;
    }

    /** The objects of a list field, each with its path (key[i]) for messages. */
    public List<JsonObject> objects(String key) {
        List<Object> list = array(key);
        List<JsonObject> out = new ArrayList<>(list.size());
        for (int i = 0; i < list.size(); i++) {
            Object v = list.get(i);
            if (!(v instanceof Map)) {
                throw new FormatException(where(key) + "[" + i + "] must be an object. Received: "
                        + show(v));
            }
            out.add(new JsonObject(cast(v), file, childPath(key) + "[" + i + "]"));
        }
        return Collections.unmodifiableList(out);
    }

    public List<String> strings(String key) {
        List<Object> list = array(key);
        List<String> out = new ArrayList<>(list.size());
        for (int i = 0; i < list.size(); i++) {
            if (!(list.get(i) instanceof String)) {
                throw new FormatException(where(key) + "[" + i + "] must be a string. Received: "
                        + show(list.get(i)));
            }
            out.add((String) list.get(i));
        }
        return Collections.unmodifiableList(out);
    }

    public double[] numbers(String key) {
        List<Object> list = array(key);
        double[] out = new double[list.size()];
        for (int i = 0; i < out.length; i++) {
            out[i] = asNumber(list.get(i), where(key) + "[" + i + "]");
        }
        return out;
    }

    public int[] ints(String key) {
        List<Object> list = array(key);
        int[] out = new int[list.size()];
        for (int i = 0; i < out.length; i++) {
            long v = asInteger(list.get(i), where(key) + "[" + i + "]");
            if (v < Integer.MIN_VALUE || v > Integer.MAX_VALUE) {
                throw new FormatException(where(key) + "[" + i + "] is out of range. Received: " + v);
            }
            out[i] = (int) v;
        }
        return out;
    }

    private String childPath(String key) {
        return path.isEmpty() ? key : path + "." + key;
    }

    @SuppressWarnings("unchecked")
    private static Map<String, Object> cast(Object v) {
        return (Map<String, Object>) v;
    }

    static long asInteger(Object v, String where) {
        if (v instanceof Long) {
            return (Long) v;
        }
        if (v instanceof Double) {
            double d = (Double) v;
            // Python writes 3.0 for a float that holds an integer; accept it when exact.
            if (d == Math.rint(d) && Math.abs(d) < 9.007199254740992E15) {
                return (long) d;
            }
        }
        throw new FormatException(where + " must be an integer. Received: " + show(v));
    }

    static double asNumber(Object v, String where) {
        if (v instanceof Long || v instanceof Double) {
            return ((Number) v).doubleValue();
        }
        throw new FormatException(where + " must be a number. Received: " + show(v));
    }

    static double asNumberOrInfinity(Object v, String where) {
        if ("inf".equals(v)) {
            return Double.POSITIVE_INFINITY;
        }
        if ("-inf".equals(v)) {
            return Double.NEGATIVE_INFINITY;
        }
        if (v instanceof Long || v instanceof Double) {
            return ((Number) v).doubleValue();
        }
        throw new FormatException(where + " must be a number, \"inf\" or \"-inf\". Received: "
                + show(v));
    }

    /** A short JSON-like rendering of a received value for messages. */
    static String show(Object v) {
        if (v == null) {
            return "null";
        }
        if (v instanceof String) {
            return "\"" + v + "\"";
        }
        String s = (v instanceof Map || v instanceof List) ? Json.typeName(v) + " " + v : v.toString();
        return s.length() > 80 ? s.substring(0, 77) + "..." : s;
    }
}

package msdnet.cascade;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertNull;
import static org.junit.Assert.assertTrue;
import static org.junit.Assert.fail;

import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.Test;

public class JsonTest {
    @Test
    public void parsesEveryKindOfValue() {
        Map<String, Object> o = Json.parseObject(
                "{\"a\": [1, -2, 3.5, -0.0, 1e3, 2E-2, 0], \"b\": {\"c\": null},"
                        + " \"t\": true, \"f\": false, \"s\": \"x\\\"\\\\\\/\\b\\f\\n\\r\\t\\u00e9\"}");
        List<Object> a = TestFiles.list(o.get("a"));
        assertEquals(1L, a.get(0));
        assertEquals(-2L, a.get(1));
        assertEquals(3.5, a.get(2));
        assertEquals(Double.doubleToLongBits(-0.0), Double.doubleToLongBits((Double) a.get(3)));
        assertEquals(1000.0, a.get(4));
        assertEquals(0.02, a.get(5));
        assertEquals(0L, a.get(6));
        assertTrue(TestFiles.map(o.get("b")).containsKey("c"));
        assertNull(TestFiles.map(o.get("b")).get("c"));
        assertEquals(Boolean.TRUE, o.get("t"));
        assertEquals(Boolean.FALSE, o.get("f"));
        assertEquals("x\"\\/\b\f\n\r\t\u00e9", o.get("s"));
        assertEquals(Arrays.asList("a", "b", "t", "f", "s"), Arrays.asList(o.keySet().toArray()));
    }

    @Test
    public void numbersRoundLikePython() {
        // Python: float("0.1"), 2**63 (beyond long -> float), a float32 value written by repr.
        assertEquals(0.1, Json.parse("0.1"));
        assertEquals(9.223372036854775808E18, Json.parse("9223372036854775808"));
        assertEquals(Long.MAX_VALUE, Json.parse("9223372036854775807"));
        double f32 = (double) 0.8121841f;
        assertEquals(f32, Json.parse(Double.toString(f32)));
        assertEquals(5e-324, Json.parse("4.9406564584124654e-324"));
    }

    @Test
    public void decodesSurrogatePairsAndKeepsUnicode() {
        assertEquals("\uD83D\uDE00 é", Json.parse("\"\\ud83d\\ude00 é\""));
    }

    @Test
    public void acceptsAByteOrderMarkAndSurroundingWhitespace() {
        assertEquals(1L, Json.parse("\uFEFF \n\t1\r\n"));
    }

    @Test
    public void rejectsWhatIsNotStrictJson() {
        String[][] cases = {
            {"", "end of input"},
            {"{\"a\": 1,}", "trailing comma"},
            {"[1, 2,]", "trailing comma"},
            {"{'a': 1}", "expected a string key"},
            {"NaN", "expected a value"},
            {"Infinity", "expected a value"},
            {"-Infinity", "a digit must follow '-'"},
            {"01", "leading zeros"},
            {"1.", "a digit must follow '.'"},
            {".5", "expected a value"},
            {"+1", "expected a value"},
            {"1e", "exponent needs digits"},
            {"\"a\nb\"", "raw control character"},
            {"\"\\x\"", "invalid escape"},
            {"\"\\u12G4\"", "invalid \\u escape"},
            {"\"abc", "unterminated string"},
            {"{\"a\": 1, \"a\": 2}", "duplicate key \"a\""},
            {"[1 2]", "expected ',' or ']'"},
            {"{\"a\" 1}", "expected ':'"},
            {"[1] [2]", "after the JSON value"},
            {"// c\n1", "expected a value"},
            {"tru", "expected a value"},
            {"nul", "expected a value"},
        };
        for (String[] c : cases) {
            try {
                Json.parse(c[0]);
                fail("accepted " + c[0]);
            } catch (JsonException e) {
                assertTrue(c[0] + " -> " + e.getMessage(), e.getMessage().contains(c[1]));
            }
        }
    }

    @Test
    public void errorsGiveLineAndColumn() {
        try {
            Json.parse("{\n  \"a\": [1,\n        2,,\n  ]}");
            fail();
        } catch (JsonException e) {
            assertTrue(e.getMessage(), e.getMessage().endsWith("(line 3, column 11)"));
        }
    }

    @Test
    public void limitsNesting() {
        StringBuilder deep = new StringBuilder();
        for (int i = 0; i < 300; i++) {
            deep.append('[');
        }
        try {
            Json.parse(deep.toString());
            fail();
        } catch (JsonException e) {
            assertTrue(e.getMessage(), e.getMessage().contains("nesting deeper"));
        }
    }

    @Test
    public void parsedValuesAreReadOnly() {
        Map<String, Object> o = Json.parseObject("{\"a\": [1]}");
        try {
            o.put("b", 2L);
            fail();
        } catch (UnsupportedOperationException expected) {
            // fine
        }
        try {
            TestFiles.list(o.get("a")).add(2L);
            fail();
        } catch (UnsupportedOperationException expected) {
            // fine
        }
    }

    @Test
    public void writerRoundTripsAndRefusesNonFinite() {
        Map<String, Object> o = new LinkedHashMap<>();
        o.put("x", 0.1);
        o.put("tiny", 1e-7);
        o.put("n", 42);
        o.put("s", "tab\there \"q\" \u0001");
        o.put("list", Arrays.asList(1.5, null, true, JsonWriter.encodeFloat(Double.NEGATIVE_INFINITY)));
        o.put("empty", new LinkedHashMap<String, Object>());
        String text = JsonWriter.write(o);
        assertTrue(text.startsWith("{\n  \"x\": 0.1,\n"));
        assertTrue(text.endsWith("}\n"));
        Map<String, Object> back = Json.parseObject(text);
        assertEquals(0.1, back.get("x"));
        assertEquals(1e-7, back.get("tiny"));
        assertEquals(42L, back.get("n"));
        assertEquals("tab\there \"q\" \u0001", back.get("s"));
        assertEquals(Arrays.asList(1.5, null, true, "-inf"), back.get("list"));
        try {
            JsonWriter.write(Arrays.asList(Double.NaN));
            fail();
        } catch (IllegalArgumentException expected) {
            // fine
        }
        try {
            JsonWriter.encodeFloat(Double.NaN);
            fail();
        } catch (IllegalArgumentException expected) {
            // fine
        }
    }
}

package dev.stealtime.tck.runner.result;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.stealtime.tck.runner.TckCli;
import dev.stealtime.tck.runner.host.Leftovers;
import org.testng.annotations.Test;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.regex.Pattern;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The typed summary: conformance.json of a real run validates against the JSON Schema shipped in the
 * jar, reads back into the same {@link RunSummary}, and a summary of another schema version, or a
 * damaged one, is refused with a one-line reason.
 */
public class SummarySchemaTest {

    private static final ObjectMapper JSON = new ObjectMapper();

    @Test
    public void aRunsConformanceJsonValidatesAgainstTheShippedSchemaAndReadsBackUnchanged() throws Exception {
        Path out = Files.createTempDirectory("summary-schema");
        try {
            StringWriter o = new StringWriter();
            StringWriter e = new StringWriter();
            int code = TckCli.execute(new String[]{"run", "--suite", "arm64", "--out", out.toString(), "--no-report", "-q",
                    "--race-budget", "200ms"}, new PrintWriter(o, true), new PrintWriter(e, true));
            assertThat(code).as(e.toString()).isZero();
            JsonNode schema = JSON.readTree(SummaryJson.schema());
            JsonNode doc = JSON.readTree(out.resolve("conformance.json").toFile());
            List<String> errors = new ArrayList<>();
            validate(schema, doc, "$", errors);
            assertThat(errors).as("conformance.json against %s", SummaryJson.SCHEMA_RESOURCE).isEmpty();
            assertThat(doc.path("schemaVersion").asInt()).isEqualTo(RunSummary.SCHEMA_VERSION);

            RunSummary s = SummaryJson.read(out.resolve("conformance.json"));
            assertThat(SummaryJson.parse(SummaryJson.write(s), "again")).isEqualTo(s);
            assertThat(JSON.readTree(SummaryJson.write(s))).as("written again, the same JSON").isEqualTo(doc);

            // the validator itself sees a wrong document
            List<String> bad = new ArrayList<>();
            validate(schema, JSON.readTree(doc.toString().replace("\"outcome\":\"PASS\"", "\"outcome\":\"GREAT\"")), "$", bad);
            assertThat(bad).anyMatch(m -> m.contains("outcome") && m.contains("GREAT"));
        } finally {
            Leftovers.deleteQuietly(out);
        }
    }

    @Test
    public void otherSchemaVersionsAndDamagedSummariesAreRefusedWithTheReason() {
        assertThat(refusal("{\"schemaVersion\": 2}")).isEqualTo("x.json is summary schema 2; this TCK reads schema 1");
        assertThat(refusal("{\"verdict\": \"CONFORMS\"}")).startsWith("x.json has no schemaVersion");
        assertThat(refusal("{\"schemaVersion\": 1, \"verdi")).startsWith("x.json is not valid JSON");
        assertThat(refusal("[1]")).isEqualTo("x.json is not a JSON object: damaged or truncated");
        assertThat(refusal("{\"schemaVersion\": 1, \"verdict\": \"CONFORMS\"}")).contains("lacks");
        assertThat(refusal("{\"schemaVersion\": 1, \"tck\": {}, \"provider\": {}, \"verdict\": \"CONFORMS\", \"rules\": [], "
                + "\"totals\": {}, \"environment\": {}, \"surprise\": true}")).contains("does not match summary schema 1");
    }

    private static String refusal(String text) {
        try {
            SummaryJson.parse(text, "x.json");
            throw new AssertionError("accepted: " + text);
        } catch (SummaryJson.SummaryException e) {
            assertThat(e.getMessage()).doesNotContain("\n");
            return e.getMessage();
        }
    }

    /** The part of JSON Schema the shipped schema uses: type, const, enum, pattern, minimum, properties, required, additionalProperties, items. */
    static void validate(JsonNode schema, JsonNode v, String at, List<String> errors) {
        if (schema.has("type")) {
            List<String> types = new ArrayList<>();
            if (schema.get("type").isArray()) {
                schema.get("type").forEach(t -> types.add(t.asText()));
            } else {
                types.add(schema.get("type").asText());
            }
            if (types.stream().noneMatch(t -> is(t, v))) {
                errors.add(at + ": expected " + types + ", saw " + v.getNodeType());
                return;
            }
        }
        if (schema.has("const") && !schema.get("const").equals(v)) {
            errors.add(at + ": expected " + schema.get("const") + ", saw " + v);
        }
        if (schema.has("enum")) {
            boolean found = false;
            for (JsonNode e : schema.get("enum")) {
                found |= e.equals(v);
            }
            if (!found) {
                errors.add(at + ": " + v + " is not one of " + schema.get("enum"));
            }
        }
        if (schema.has("pattern") && v.isTextual() && !Pattern.compile(schema.get("pattern").asText()).matcher(v.asText()).find()) {
            errors.add(at + ": " + v + " does not match " + schema.get("pattern"));
        }
        if (schema.has("minimum") && v.isNumber() && v.asDouble() < schema.get("minimum").asDouble()) {
            errors.add(at + ": " + v + " < " + schema.get("minimum"));
        }
        if (v.isObject()) {
            schema.path("required").forEach(r -> {
                if (!v.has(r.asText())) {
                    errors.add(at + ": lacks required '" + r.asText() + "'");
                }
            });
            for (Iterator<Map.Entry<String, JsonNode>> it = v.fields(); it.hasNext(); ) {
                Map.Entry<String, JsonNode> f = it.next();
                JsonNode p = schema.path("properties").get(f.getKey());
                if (p != null) {
                    validate(p, f.getValue(), at + "." + f.getKey(), errors);
                } else if (schema.has("additionalProperties")) {
                    JsonNode ap = schema.get("additionalProperties");
                    if (ap.isBoolean() && !ap.asBoolean()) {
                        errors.add(at + ": property '" + f.getKey() + "' is not in the schema");
                    } else if (ap.isObject()) {
                        validate(ap, f.getValue(), at + "." + f.getKey(), errors);
                    }
                }
            }
        }
        if (v.isArray() && schema.has("items")) {
            for (int i = 0; i < v.size(); i++) {
                validate(schema.get("items"), v.get(i), at + "[" + i + "]", errors);
            }
        }
    }

    private static boolean is(String type, JsonNode v) {
        return switch (type) {
            case "object" -> v.isObject();
            case "array" -> v.isArray();
            case "string" -> v.isTextual();
            case "integer" -> v.isIntegralNumber();
            case "number" -> v.isNumber();
            case "boolean" -> v.isBoolean();
            case "null" -> v.isNull();
            default -> false;
        };
    }
}

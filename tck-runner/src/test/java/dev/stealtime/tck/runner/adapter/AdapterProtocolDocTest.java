package dev.stealtime.tck.runner.adapter;

import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.MappingIterator;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.stealtime.tck.runner.reference.ReferenceProvider;
import org.testng.annotations.Test;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * {@code docs/adapter-protocol.md} checked mechanically (a vendor writes an adapter from it and
 * nothing else): every request/response example — the JSON lines of its code blocks and the rows of
 * its method tables — is replayed, section by section, against {@code tck serve}'s server
 * ({@link AdapterServer} over the reference; sampled for §6), and each response shown must be what
 * the server answers (fields that depend on the provider or the machine — provider, capabilities,
 * timing, paths, nanoseconds, sampled values — only need to be there). And every statement that a
 * decimal number is a hex one ("1263947011 is `0x4b564d03`", table rows "| `0x80000000` |
 * 2147483648 |") must be arithmetic truth, with the constant named beside it.
 */
public class AdapterProtocolDocTest {

    static final Path DOC = Path.of("..", "docs", "adapter-protocol.md");
    private static final ObjectMapper JSON = new ObjectMapper();
    /** Result fields whose values depend on the provider, the machine or the moment. */
    private static final Set<String> PROVIDER_SPECIFIC = Set.of("provider", "architectures", "capabilities", "timing",
            "availability", "memory", "ram_file", "ns", "readers");
    /** The constants the document names, by the name it uses. */
    private static final Map<String, Long> KNOWN = Map.of(
            "MSR_KVM_STEAL_TIME", 0x4b564d03L, "PV_TIME_ST", 0xc5000021L, "PV_TIME_FEATURES", 0xc5000020L,
            "SMCCC_ARCH_FEATURES", 0x80000001L, "SMCCC_VERSION", 0x80000000L,
            "KVM_CPUID_FEATURES", 0x40000001L, "KVM_CPUID_SIGNATURE", 0x40000000L);

    record Exchange(ObjectNode request, JsonNode expected, String where) {
    }

    record Section(String title, List<Exchange> exchanges) {
    }

    // ------------------------------------------------------------------ "decimal is hex"

    private static final Pattern DEC_IS_HEX = Pattern.compile("(\\d{3,})`?\\s*(?:is|=)\\s*`?(0x[0-9a-fA-F]+)`?(?:\\s*\\(?,?\\s*`([A-Z_0-9]+)`)?");
    private static final Pattern HEX_IS_DEC = Pattern.compile("`(0x[0-9a-fA-F]+)`\\s*(?:is|=)\\s*(\\d{3,})");
    private static final Pattern TABLE_HEX_DEC = Pattern.compile("^\\|\\s*`(0x[0-9a-fA-F]+)`(?:,\\s*`(0x[0-9a-fA-F]+)`)?\\s*\\|\\s*([\\d, ]+)\\|\\s*(?:`([A-Z_0-9]+)`)?");

    /** Every "decimal is hex" statement of {@code text} that is false, and how many were checked (last element). */
    static List<String> falseNumberStatements(String text, int[] checked) {
        List<String> wrong = new ArrayList<>();
        String[] lines = text.split("\n");
        for (int n = 0; n < lines.length; n++) {
            String line = lines[n];
            String where = "line " + (n + 1) + ": ";
            Matcher m = DEC_IS_HEX.matcher(line);
            while (m.find()) {
                checked[0]++;
                long dec = Long.parseLong(m.group(1));
                long hex = Long.parseUnsignedLong(m.group(2).substring(2), 16);
                if (dec != hex) {
                    wrong.add(where + m.group(1) + " is not " + m.group(2) + " (it is 0x" + Long.toHexString(dec) + "; " + m.group(2) + " is " + hex + ")");
                }
                String name = m.group(3);
                if (name != null && KNOWN.containsKey(name) && KNOWN.get(name) != hex) {
                    wrong.add(where + name + " is 0x" + Long.toHexString(KNOWN.get(name)) + ", not " + m.group(2));
                }
            }
            m = HEX_IS_DEC.matcher(line);
            while (m.find()) {
                checked[0]++;
                if (Long.parseUnsignedLong(m.group(1).substring(2), 16) != Long.parseLong(m.group(2))) {
                    wrong.add(where + m.group(1) + " is not " + m.group(2));
                }
            }
            m = TABLE_HEX_DEC.matcher(line);
            if (m.find()) {
                String[] decimals = m.group(3).trim().split("\\s*,\\s*");
                String[] hexes = m.group(2) == null ? new String[]{m.group(1)} : new String[]{m.group(1), m.group(2)};
                for (int i = 0; i < hexes.length; i++) {
                    checked[0]++;
                    long hex = Long.parseUnsignedLong(hexes[i].substring(2), 16);
                    if (i >= decimals.length || Long.parseLong(decimals[i]) != hex) {
                        wrong.add(where + "table row: " + hexes[i] + " is " + hex + ", not " + (i < decimals.length ? decimals[i] : "missing"));
                    }
                }
                String name = m.group(4);
                if (name != null && KNOWN.containsKey(name) && KNOWN.get(name) != Long.parseUnsignedLong(m.group(1).substring(2), 16)) {
                    wrong.add(where + "table row: " + name + " is 0x" + Long.toHexString(KNOWN.get(name)) + ", not " + m.group(1));
                }
            }
        }
        return wrong;
    }

    @Test
    public void everyDecimalIsHexStatementIsTrue() throws IOException {
        int[] checked = {0};
        List<String> wrong = falseNumberStatements(Files.readString(DOC), checked);
        assertThat(wrong).as("false number statements in %s", DOC).isEmpty();
        assertThat(checked[0]).as("number statements checked in %s (the MSR, CPUID leaves, SMCCC ids)", DOC).isGreaterThanOrEqualTo(10);
    }

    /** The checker itself catches the statements an independent implementation found wrong. */
    @Test
    public void theCheckerCatchesTheNumbersOnceWrong() {
        int[] checked = {0};
        assertThat(falseNumberStatements("`msr` 1264209155 is `0x4b564d03` (`MSR_KVM_STEAL_TIME`)", checked)).hasSize(1);
        assertThat(falseNumberStatements("function id (3305111554 = `0xc5000022`, `PV_TIME_ST`)", checked)).hasSize(2);
        assertThat(falseNumberStatements("| `0x80000000` | 2147483649 | `SMCCC_VERSION` | x |", checked)).hasSize(1);
    }

    // ------------------------------------------------------------------ examples replayed

    static List<Section> sections(String text) throws IOException {
        List<Section> out = new ArrayList<>();
        String title = "(top)";
        List<Exchange> current = new ArrayList<>();
        StringBuilder block = null;
        int tableId = 2001;
        String[] lines = text.split("\n");
        for (int n = 0; n < lines.length; n++) {
            String line = lines[n];
            if (block != null) {
                if (line.startsWith("```")) {
                    addBlock(block.toString(), current, title);
                    block = null;
                } else {
                    block.append(line.replaceFirst("^[<>] ", "")).append('\n');
                }
                continue;
            }
            if (line.startsWith("```")) {
                block = new StringBuilder();
            } else if ((line.startsWith("## ") || line.startsWith("### ")) && !line.startsWith("### `memory.sample_stop`")) {
                // (one sampling session spans the headings of its start and its stop)
                out.add(new Section(title, current));
                title = line.replaceFirst("^#+ ", "");
                current = new ArrayList<>();
            } else if (line.startsWith("| `")) {
                String[] cells = line.split("\\|");
                if (cells.length >= 4 && cells[1].trim().matches("`[a-z0-9_.]+`") && cells[2].trim().startsWith("`{")
                        && cells[3].trim().startsWith("`{")) {
                    ObjectNode req = JSON.createObjectNode().put("jsonrpc", "2.0").put("id", tableId++)
                            .put("method", cells[1].trim().replace("`", ""));
                    req.set("params", JSON.readTree(strip(cells[2])));
                    ObjectNode resp = JSON.createObjectNode();
                    resp.set("result", JSON.readTree(strip(cells[3])));
                    current.add(new Exchange(req, resp, title + ", table row " + (n + 1)));
                }
            }
        }
        out.add(new Section(title, current));
        return out.stream().filter(s -> !s.exchanges().isEmpty()).toList();
    }

    private static String strip(String cell) {
        String c = cell.trim();
        return c.substring(1, c.length() - 1);
    }

    private static void addBlock(String text, List<Exchange> into, String where) throws IOException {
        if (!text.trim().startsWith("{")) {
            return;
        }
        try (JsonParser p = JSON.getFactory().createParser(text)) {
            MappingIterator<JsonNode> it = JSON.readValues(p, JsonNode.class);
            while (it.hasNext()) {
                JsonNode o = it.next();
                if (o.has("method")) {
                    into.add(new Exchange((ObjectNode) o, null, where));
                } else if (o.has("result") || o.has("error")) {
                    for (int i = into.size() - 1; i >= 0; i--) {
                        Exchange e = into.get(i);
                        if (e.expected() == null && e.request().path("id").equals(o.path("id"))) {
                            into.set(i, new Exchange(e.request(), o, where));
                            break;
                        }
                    }
                }
            }
        }
    }

    @Test
    public void everyExampleSessionReplaysAgainstTckServe() throws IOException {
        List<Section> sections = sections(Files.readString(DOC));
        List<String> problems = new ArrayList<>();
        int compared = 0;
        for (Section s : sections) {
            compared += replay(s, problems);
        }
        assertThat(problems).as("examples of %s that tck serve (the reference) does not answer as shown", DOC).isEmpty();
        assertThat(compared).as("responses compared (hello, open, memory, vcpu, x86, arm64, sampling, bye, the minimal session)")
                .isGreaterThanOrEqualTo(20);
    }

    private static int replay(Section s, List<String> problems) throws IOException {
        Path dir = LinkFiles.sharedDir();
        try {
            List<ObjectNode> requests = new ArrayList<>();
            boolean hasHello = s.exchanges().stream().anyMatch(e -> e.request().path("method").asText().equals("hello"));
            boolean hasOpen = s.exchanges().stream().anyMatch(e -> e.request().path("method").asText().equals("open"));
            boolean arm = s.exchanges().stream().anyMatch(e -> e.request().path("method").asText().startsWith("arm64."));
            if (!hasHello) {
                requests.add((ObjectNode) JSON.readTree("{\"jsonrpc\":\"2.0\",\"id\":1001,\"method\":\"hello\",\"params\":{\"protocol\":1,\"tck\":\"test\"}}"));
            }
            if (!hasOpen && !s.title().contains("hello")) {
                requests.add((ObjectNode) JSON.readTree("{\"jsonrpc\":\"2.0\",\"id\":1002,\"method\":\"open\",\"params\":{\"architecture\":\""
                        + (arm ? "ARM64" : "X86_64") + "\",\"vcpus\":2,\"ram\":[{\"gpa\":0,\"size\":1048576},{\"gpa\":4294967296,\"size\":65536}],"
                        + "\"steal_time_offered\":true}}"));
            }
            for (Exchange e : s.exchanges()) {
                requests.add(e.request().deepCopy());
            }
            StringBuilder in = new StringBuilder();
            for (ObjectNode r : requests) {
                if (r.path("method").asText().equals("hello")) {
                    ((ObjectNode) r.get("params")).put("shared_dir", dir + "/");
                }
                in.append(JSON.writeValueAsString(r)).append('\n');
            }
            boolean sampled = s.title().contains("Sampling") || s.title().contains("sample");
            ByteArrayOutputStream out = new ByteArrayOutputStream();
            new AdapterServer(new ReferenceProvider(), sampled, null)
                    .serve(new ByteArrayInputStream(in.toString().getBytes(StandardCharsets.UTF_8)), out);
            Map<String, JsonNode> answers = new LinkedHashMap<>();
            for (String line : out.toString(StandardCharsets.UTF_8).split("\n")) {
                if (!line.isBlank()) {
                    JsonNode a = JSON.readTree(line);
                    answers.put(a.path("id").toString(), a);
                }
            }
            int compared = 0;
            for (Exchange e : s.exchanges()) {
                String id = e.request().path("id").toString();
                JsonNode actual = answers.get(id);
                String what = "§ " + s.title() + ": " + e.request().path("method").asText() + " " + e.request().path("params");
                if (actual == null) {
                    problems.add(what + ": no answer");
                    continue;
                }
                if (e.expected() == null) {
                    if (!actual.has("result")) {
                        problems.add(what + ": expected a result (none is shown, so {}), got " + actual);
                    }
                    continue;
                }
                compared++;
                List<String> diffs = new ArrayList<>();
                compare(e.expected().has("result") ? e.expected().get("result") : e.expected().get("error"),
                        actual.has("result") ? actual.get("result") : actual.get("error"), "", diffs);
                if (e.expected().has("result") != actual.has("result")) {
                    diffs.add("the document shows " + (e.expected().has("result") ? "a result" : "an error") + ", tck serve answered " + actual);
                }
                if (!diffs.isEmpty()) {
                    problems.add(what + ": " + String.join("; ", diffs) + " (shown: " + e.expected() + ", answered: " + actual + ")");
                }
            }
            return compared;
        } finally {
            try (var files = Files.walk(dir)) {
                files.sorted(java.util.Comparator.reverseOrder()).forEach(f -> f.toFile().delete());
            }
        }
    }

    private static void compare(JsonNode shown, JsonNode actual, String path, List<String> diffs) {
        if (shown == null || actual == null) {
            diffs.add(path + ": shown " + shown + ", answered " + actual);
            return;
        }
        if (shown.isObject()) {
            if (!actual.isObject()) {
                diffs.add(path + ": shown an object, answered " + actual);
                return;
            }
            for (Iterator<String> it = shown.fieldNames(); it.hasNext(); ) {
                String k = it.next();
                if (!actual.has(k)) {
                    diffs.add(path + "." + k + ": shown, not answered");
                } else if (!PROVIDER_SPECIFIC.contains(k)) {
                    compare(shown.get(k), actual.get(k), path + "." + k, diffs);
                }
            }
            for (Iterator<String> it = actual.fieldNames(); it.hasNext(); ) {
                String k = it.next();
                if (!shown.has(k) && !k.equals("message")) {
                    diffs.add(path + "." + k + ": answered (" + actual.get(k) + "), not shown");
                }
            }
            return;
        }
        if (shown.isArray()) {
            if (!actual.isArray() || actual.size() != shown.size()) {
                diffs.add(path + ": shown " + shown + ", answered " + actual);
                return;
            }
            for (int i = 0; i < shown.size(); i++) {
                compare(shown.get(i), actual.get(i), path + "[" + i + "]", diffs);
            }
            return;
        }
        if (!shown.equals(actual) && !(shown.isNumber() && actual.isNumber() && shown.asText().equals(actual.asText()))) {
            diffs.add(path + ": shown " + shown + ", answered " + actual);
        }
    }
}

package dev.stealtime.tck.runner.result;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;

/**
 * {@code conformance.json}: the JSON form of {@link RunSummary}, written and read back. A reader
 * accepts only {@link RunSummary#SCHEMA_VERSION}; anything else, or a file that is not such a
 * summary, is a {@link SummaryException} with a one-line reason.
 */
public final class SummaryJson {

    /** The JSON Schema of conformance.json, in the runner's jar. */
    public static final String SCHEMA_RESOURCE = "/dev/stealtime/tck/runner/summary/conformance.schema.json";

    private static final ObjectMapper MAPPER = new ObjectMapper()
            .enable(SerializationFeature.INDENT_OUTPUT)
            .configure(DeserializationFeature.FAIL_ON_NULL_FOR_PRIMITIVES, true)
            .configure(DeserializationFeature.FAIL_ON_MISSING_CREATOR_PROPERTIES, false)
            .configure(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES, true);

    /** Why a file is not a readable run summary: one line. */
    public static final class SummaryException extends Exception {
        public SummaryException(String message) {
            super(message);
        }
    }

    private SummaryJson() {
    }

    public static String write(RunSummary summary) {
        try {
            return MAPPER.writeValueAsString(summary) + "\n";
        } catch (JsonProcessingException e) {
            throw new IllegalStateException("the summary cannot be serialised", e);
        }
    }

    public static RunSummary read(Path file) throws SummaryException {
        String text;
        try {
            text = Files.readString(file, StandardCharsets.UTF_8);
        } catch (NoSuchFileException e) {
            throw new SummaryException("no " + file.getFileName() + " (not a finished tck run, or not a run directory)");
        } catch (IOException e) {
            throw new SummaryException("cannot read " + file.getFileName() + ": " + e.getMessage());
        }
        return parse(text, file.getFileName().toString());
    }

    public static RunSummary parse(String text, String name) throws SummaryException {
        JsonNode tree;
        try {
            tree = MAPPER.readTree(text);
        } catch (JsonProcessingException e) {
            throw new SummaryException(name + " is not valid JSON (" + firstLine(e.getOriginalMessage())
                    + " at line " + e.getLocation().getLineNr() + "): damaged or truncated");
        }
        if (tree == null || !tree.isObject()) {
            throw new SummaryException(name + " is not a JSON object: damaged or truncated");
        }
        JsonNode v = tree.get("schemaVersion");
        if (v == null || !v.canConvertToInt()) {
            throw new SummaryException(name + " has no schemaVersion: written by a TCK older than summary schema "
                    + RunSummary.SCHEMA_VERSION + ", or not a TCK summary");
        }
        if (v.asInt() != RunSummary.SCHEMA_VERSION) {
            throw new SummaryException(name + " is summary schema " + v.asInt() + "; this TCK reads schema " + RunSummary.SCHEMA_VERSION);
        }
        for (String field : new String[]{"tck", "provider", "verdict", "rules", "totals", "environment"}) {
            if (tree.get(field) == null || tree.get(field).isNull()) {
                throw new SummaryException(name + " lacks '" + field + "': damaged or partial");
            }
        }
        RunSummary s;
        try {
            s = MAPPER.treeToValue(tree, RunSummary.class);
        } catch (JsonProcessingException e) {
            throw new SummaryException(name + " does not match summary schema " + RunSummary.SCHEMA_VERSION + ": " + firstLine(e.getOriginalMessage()));
        }
        if (s.tck().version() == null || s.tck().catalogue() == null) {
            throw new SummaryException(name + " lacks the TCK version or catalogue hash: damaged");
        }
        return s;
    }

    /** The JSON Schema text shipped in the jar. */
    public static String schema() {
        try (InputStream in = SummaryJson.class.getResourceAsStream(SCHEMA_RESOURCE)) {
            if (in == null) {
                throw new IllegalStateException(SCHEMA_RESOURCE + " missing from the jar");
            }
            return new String(in.readAllBytes(), StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw new IllegalStateException("cannot read " + SCHEMA_RESOURCE, e);
        }
    }

    static String firstLine(String s) {
        if (s == null) {
            return "";
        }
        int nl = s.indexOf('\n');
        return nl < 0 ? s : s.substring(0, nl);
    }
}

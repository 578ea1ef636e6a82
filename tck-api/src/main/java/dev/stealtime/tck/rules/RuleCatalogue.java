package dev.stealtime.tck.rules;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * The rule catalogue, read from {@code catalogue.tsv} beside this class (the data form of the
 * project's RULES.md). Order is the catalogue's order.
 */
public final class RuleCatalogue {

    private static final RuleCatalogue INSTANCE = load();

    private final Map<String, Rule> rules;

    private RuleCatalogue(Map<String, Rule> rules) {
        this.rules = Collections.unmodifiableMap(rules);
    }

    public static RuleCatalogue get() {
        return INSTANCE;
    }

    public List<Rule> all() {
        return List.copyOf(rules.values());
    }

    /** Rules of one suite ({@code x86} or {@code arm64}), catalogue order. */
    public List<Rule> suite(String suite) {
        return rules.values().stream().filter(r -> r.suite().equals(suite)).toList();
    }

    public Optional<Rule> find(String id) {
        return Optional.ofNullable(rules.get(id));
    }

    public Rule rule(String id) {
        return find(id).orElseThrow(() -> new IllegalArgumentException("no rule " + id + " in the catalogue"));
    }

    public boolean contains(String id) {
        return rules.containsKey(id);
    }

    private static RuleCatalogue load() {
        Map<String, Rule> rules = new LinkedHashMap<>();
        try (InputStream in = RuleCatalogue.class.getResourceAsStream("catalogue.tsv")) {
            if (in == null) {
                throw new IllegalStateException("catalogue.tsv missing from the classpath");
            }
            BufferedReader reader = new BufferedReader(new InputStreamReader(in, StandardCharsets.UTF_8));
            String line;
            int n = 0;
            while ((line = reader.readLine()) != null) {
                n++;
                if (line.isBlank() || line.startsWith("#")) {
                    continue;
                }
                String[] f = line.split("\t");
                if (f.length != 5) {
                    throw new IllegalStateException("catalogue.tsv line " + n + ": expected 5 tab-separated fields");
                }
                Rule rule = new Rule(f[0], Level.fromGroup(f[1]), f[2], f[3], f[4]);
                if (rules.put(rule.id(), rule) != null) {
                    throw new IllegalStateException("catalogue.tsv line " + n + ": duplicate id " + rule.id());
                }
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return new RuleCatalogue(rules);
    }

    /** Ids named by a {@link TckRule} that the catalogue lacks. */
    public List<String> unknownIds(TckRule annotation) {
        List<String> unknown = new ArrayList<>();
        for (String id : annotation.value()) {
            if (!contains(id)) {
                unknown.add(id);
            }
        }
        return unknown;
    }
}

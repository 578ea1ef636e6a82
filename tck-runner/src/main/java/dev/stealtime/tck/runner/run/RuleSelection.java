package dev.stealtime.tck.runner.run;

import dev.stealtime.tck.rules.Rule;
import dev.stealtime.tck.rules.RuleCatalogue;
import dev.stealtime.tck.runner.exit.UsageException;

import java.util.ArrayList;
import java.util.Collection;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Set;
import java.util.regex.Pattern;
import java.util.stream.Collectors;

/**
 * The rules a run was asked to test ({@code tck run --rule}): rule ids ({@code X86-ENABLE}), globs
 * ({@code ARM-EINVAL-*}, {@code *-MIGRATION-*}) or rule areas as the catalogue names them
 * ({@code Alignment}, {@code "Version protocol"}), case-insensitive. The whole catalogue when none is
 * given. A run of a subset judges nothing else: its verdict is PARTIAL, never CONFORMS.
 */
public final class RuleSelection {

    private final List<String> patterns;
    private final Set<String> ids;

    private RuleSelection(List<String> patterns, Set<String> ids) {
        this.patterns = List.copyOf(patterns);
        this.ids = Set.copyOf(ids);
    }

    /** Every rule. */
    public static RuleSelection all() {
        return new RuleSelection(List.of(), Set.of());
    }

    /** Exactly these rule ids (what a repeat of a faulty variant's named rules runs). */
    public static RuleSelection ids(Collection<String> ruleIds) {
        return new RuleSelection(List.copyOf(new LinkedHashSet<>(ruleIds)), Set.copyOf(ruleIds));
    }

    /**
     * The rules of {@code suites} that {@code patterns} name; a pattern that names none of them is a
     * usage error that says which suites were searched.
     */
    public static RuleSelection parse(List<String> patterns, List<Suite> suites) {
        if (patterns.isEmpty()) {
            return all();
        }
        List<Rule> rules = suites.stream().flatMap(s -> RuleCatalogue.get().suite(s.cliName).stream()).toList();
        Set<String> ids = new LinkedHashSet<>();
        for (String pattern : patterns) {
            List<String> hit = rules.stream().filter(r -> matches(pattern, r)).map(Rule::id).toList();
            if (hit.isEmpty()) {
                throw new UsageException("--rule '" + pattern + "' names no rule of the suite(s) "
                        + suites.stream().map(s -> s.cliName).collect(Collectors.joining(", "))
                        + " (give a rule id, a glob such as ARM-EINVAL-*, or an area; 'tck rules' lists them)");
            }
            ids.addAll(hit);
        }
        return new RuleSelection(patterns, ids);
    }

    private static boolean matches(String pattern, Rule rule) {
        String p = pattern.strip();
        if (p.equalsIgnoreCase(rule.area())) {
            return true;
        }
        String regex = Pattern.quote(p.toUpperCase(Locale.ROOT)).replace("*", "\\E.*\\Q").replace("?", "\\E.\\Q");
        return rule.id().matches(regex);
    }

    /** Whether every rule is selected. */
    public boolean whole() {
        return patterns.isEmpty();
    }

    /** Whether {@code ruleId}'s tests run. */
    public boolean includes(String ruleId) {
        return whole() || ids.contains(ruleId);
    }

    /** The suites among {@code suites} that hold a selected rule: a suite with none is not started. */
    public List<Suite> narrow(List<Suite> suites) {
        if (whole()) {
            return suites;
        }
        List<Suite> out = new ArrayList<>();
        for (Suite s : suites) {
            if (RuleCatalogue.get().suite(s.cliName).stream().anyMatch(r -> ids.contains(r.id()))) {
                out.add(s);
            }
        }
        return out;
    }

    /** The patterns as given, for the summaries ({@code X86-ENABLE, ARM-EINVAL-*}); empty when whole. */
    public String describe() {
        return String.join(", ", patterns);
    }

    /** How many rules are selected (0 when whole). */
    public int size() {
        return ids.size();
    }
}

package dev.stealtime.tck.runner.selftest;

import dev.stealtime.tck.runner.reference.ReferenceParts;
import dev.stealtime.tck.runner.reference.ReferenceProvider;

import java.util.Set;

/**
 * The reference hypervisor with exactly one defect, and the rules that must catch it.
 *
 * @param name       short id, e.g. {@code accepts-reserved-bit-3}
 * @param defect     the defect in one sentence
 * @param parts      reference parts with the defect built in
 * @param mustFail   rules whose tests must fail against this variant (at least one)
 * @param mayAlsoFail rules that may fail as a consequence (collateral); any other failing rule is a
 *                   false accusation and fails the self-test
 * @param racy       null for a deterministic defect (caught by its rule on every run); else how it
 *                   shows only when a race lands in a window, so its rule catches it at a rate
 *                   ({@link DetectionTable} reports the rate over repeated runs)
 */
public record FaultyVariant(String name, String defect, ReferenceParts parts, Set<String> mustFail,
                            Set<String> mayAlsoFail, String racy) {

    public FaultyVariant {
        if (mustFail.isEmpty()) {
            throw new IllegalArgumentException(name + ": a variant must name the rule that catches it");
        }
    }

    public static FaultyVariant of(String name, String defect, ReferenceParts parts, String... mustFail) {
        return new FaultyVariant(name, defect, parts, Set.of(mustFail), Set.of(), null);
    }

    /** Adds collateral rules (to any named before). */
    public FaultyVariant mayAlsoFail(String... ids) {
        java.util.Set<String> all = new java.util.TreeSet<>(mayAlsoFail);
        all.addAll(java.util.List.of(ids));
        return new FaultyVariant(name, defect, parts, mustFail, Set.copyOf(all), racy);
    }

    /** Marks the defect racy: {@code how} it shows (only when a reader lands in a window of a few µs ...). */
    public FaultyVariant racy(String how) {
        return new FaultyVariant(name, defect, parts, mustFail, mayAlsoFail, how);
    }

    public boolean deterministic() {
        return racy == null;
    }

    public ReferenceProvider provider() {
        return new ReferenceProvider("faulty:" + name, defect, parts);
    }
}

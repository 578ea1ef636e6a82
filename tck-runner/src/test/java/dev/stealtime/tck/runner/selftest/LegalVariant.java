package dev.stealtime.tck.runner.selftest;

import dev.stealtime.tck.rules.Level;
import dev.stealtime.tck.runner.reference.ReferenceParts;
import dev.stealtime.tck.runner.reference.ReferenceProvider;

import java.util.Arrays;
import java.util.List;

/**
 * The mirror of a {@link FaultyVariant}: the reference using one freedom the interface documents
 * leave open, which a fair TCK must pass. Each names the seed sentence it relies on and the levels
 * at which the freedom is legal: a freedom the documents allow but Linux KVM does not take (e.g.
 * not updating on every entry) is legal only where the linux-abi level is not claimed.
 *
 * @param name     short id, e.g. {@code updates-every-third-entry}
 * @param freedom  what this hypervisor does differently from the reference, in one sentence
 * @param seed     the sentence of the seed document that allows it, quoted
 * @param parts    reference parts with the freedom built in
 * @param profiles the levels claimed when it is run: every rule of these levels must PASS
 */
public record LegalVariant(String name, String freedom, String seed, ReferenceParts parts, List<String> profiles) {

    /** Legal at every level: Linux KVM could behave like this too. */
    public static final List<String> ALL_LEVELS = List.of(Level.REQUIRED_GROUP, Level.LINUX_ABI_GROUP, Level.ADVISORY_GROUP);

    public static LegalVariant of(String name, String freedom, String seed, ReferenceParts parts) {
        return new LegalVariant(name, freedom, seed, parts, ALL_LEVELS);
    }

    /** The freedom is legal only at these levels (the variant is run claiming just them). */
    public LegalVariant legalAt(String... levels) {
        return new LegalVariant(name, freedom, seed, parts, Arrays.asList(levels));
    }

    public ReferenceProvider provider() {
        return new ReferenceProvider("legal:" + name, freedom, parts);
    }
}

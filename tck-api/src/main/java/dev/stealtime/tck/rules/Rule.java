package dev.stealtime.tck.rules;

import dev.stealtime.tck.spi.Architecture;

/**
 * One rule of the catalogue.
 *
 * @param id        stable id, e.g. {@code X86-VERSION-EVEN}
 * @param level     how binding it is
 * @param area      rule area (the report's "feature"), e.g. "Version protocol"
 * @param source    where it comes from: {@code 000} (the MSR document), {@code 002} (the arm64 PV
 *                  time documents), {@code kvm ...} (Linux KVM code/docs)
 * @param statement the rule in one sentence
 */
public record Rule(String id, Level level, String area, String source, String statement) {

    /** The interface the rule belongs to, from its id prefix. */
    public Architecture architecture() {
        return id.startsWith("X86-") ? Architecture.X86_64 : Architecture.ARM64;
    }

    /** The suite name used on the command line: {@code x86} or {@code arm64}. */
    public String suite() {
        return architecture() == Architecture.X86_64 ? "x86" : "arm64";
    }
}

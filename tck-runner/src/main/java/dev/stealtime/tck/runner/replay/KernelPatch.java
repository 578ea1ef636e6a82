package dev.stealtime.tck.runner.replay;

import dev.stealtime.tck.runner.exit.UsageException;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Set;

/**
 * One patch a replay applies to Debian's linux-source before it builds KVM: a unified diff (-p1)
 * whose every file lies under {@code arch/x86/kvm}, {@code arch/arm64/kvm}, {@code virt/kvm} or
 * {@code include/}, optionally preceded by a header of {@code Key: value} lines, which
 * {@code patch(1)} skips:
 * <pre>
 * Replay:  short name (default: the file name without .patch)
 * Arch:    arm64 | x86 (default: from the files: arch/arm64/kvm or arch/x86/kvm)
 * Kind:    history | mutant | fairness | stock (default: patch)
 * Fix:     the upstream fix the patch undoes: commit, "title", release
 * Breaks:  what the guest or the VMM sees
 * Rule:    the rule(s) that name the behaviour, comma-separated (or "none: why")
 * Racy:    how the defect shows (only for defects that need a race to be seen)
 * Equivalent: why no test can see it (a mutant that changes nothing observable)
 * </pre>
 * The stock kernel is the patch {@link #STOCK}: no file, no diff.
 */
public record KernelPatch(String name, Path file, String arch, String kind, String fix, String breaks,
                          List<String> rules, String racy, String equivalent, List<String> files) {

    /** The allowed trees: KVM code and the headers. */
    static final List<String> ALLOWED = List.of("arch/x86/kvm/", "arch/arm64/kvm/", "virt/kvm/", "include/");
    public static final String STOCK = "stock";

    /** The unpatched kernel of {@code arch}. */
    public static KernelPatch stock(String arch) {
        return new KernelPatch("stock-" + arch, null, arch, "stock", "", "nothing: Debian's source as released",
                List.of(), "", "", List.of());
    }

    public boolean isStock() {
        return file == null;
    }

    /** The rules listed in the header that are catalogue ids (a "none: ..." entry names none). */
    List<String> namedRules() {
        return rules.stream().filter(r -> r.matches("(X86|ARM)-[A-Z0-9-]+")).toList();
    }

    /**
     * Reads and checks a patch.
     *
     * @param archOverride {@code arm64}/{@code x86}, or null to take it from the header or the files
     * @throws UsageException with a one-line reason when it is no patch, touches other files, or has
     *                        no architecture
     */
    public static KernelPatch read(Path file, String archOverride) {
        List<String> lines;
        try {
            lines = Files.readAllLines(file, StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw new UsageException("cannot read the patch " + file + ": " + e.getMessage());
        }
        String base = file.getFileName().toString().replaceFirst("\\.(patch|diff)$", "");
        String name = base, arch = null, kind = "patch", fix = "", breaks = "", racy = "", equivalent = "";
        List<String> rules = new ArrayList<>();
        Set<String> files = new LinkedHashSet<>();
        boolean inHeader = true;
        for (String l : lines) {
            if (l.startsWith("diff ") || l.startsWith("--- ") || l.startsWith("+++ ") || l.startsWith("@@")) {
                inHeader = false;
            }
            if (inHeader) {
                int colon = l.indexOf(':');
                if (colon > 0 && l.substring(0, colon).matches("[A-Za-z]+")) {
                    String key = l.substring(0, colon).toLowerCase(Locale.ROOT);
                    String v = l.substring(colon + 1).trim();
                    switch (key) {
                        case "replay" -> name = v;
                        case "arch" -> arch = v;
                        case "kind" -> kind = v;
                        case "fix" -> fix = v;
                        case "breaks" -> breaks = v;
                        case "rule" -> {
                            if (v.startsWith("none")) {
                                rules.add(v);
                            } else {
                                for (String r : v.split(",")) {
                                    if (!r.isBlank()) {
                                        rules.add(r.trim());
                                    }
                                }
                            }
                        }
                        case "racy" -> racy = v;
                        case "equivalent" -> equivalent = v;
                        default -> {
                            // other header lines (a description) are kept in the file only
                        }
                    }
                }
                continue;
            }
            if (l.startsWith("--- ") || l.startsWith("+++ ")) {
                String p = l.substring(4).split("\t")[0].trim();
                if (p.equals("/dev/null")) {
                    continue;
                }
                if (!p.startsWith("a/") && !p.startsWith("b/")) {
                    throw new UsageException("patch " + file + ": '" + p + "' is not a -p1 path (a/... b/...)");
                }
                p = p.substring(2);
                if (p.contains("..") || ALLOWED.stream().noneMatch(p::startsWith)) {
                    throw new UsageException("patch " + file + " touches " + p
                            + ": only files under arch/x86/kvm, arch/arm64/kvm, virt/kvm and include/ are accepted");
                }
                files.add(p);
            }
        }
        if (files.isEmpty()) {
            throw new UsageException("patch " + file + " is not a unified diff (no ---/+++ lines)");
        }
        if (archOverride != null) {
            arch = archOverride;
        }
        if (arch == null) {
            boolean arm = files.stream().anyMatch(f -> f.startsWith("arch/arm64/"));
            boolean x86 = files.stream().anyMatch(f -> f.startsWith("arch/x86/"));
            if (arm == x86) {
                throw new UsageException("patch " + file + ": cannot tell its architecture from the files it touches;"
                        + " say it with --arch arm64|x86 or an 'Arch:' header line");
            }
            arch = arm ? "arm64" : "x86";
        }
        if (!arch.equals("arm64") && !arch.equals("x86")) {
            throw new UsageException("patch " + file + ": architecture '" + arch + "' is not arm64 or x86");
        }
        if (!name.matches("[A-Za-z0-9._+-]+")) {
            throw new UsageException("patch " + file + ": replay name '" + name + "' must be letters, digits, . _ + -");
        }
        return new KernelPatch(name, file, arch, kind, fix, breaks, List.copyOf(rules), racy, equivalent, List.copyOf(files));
    }
}

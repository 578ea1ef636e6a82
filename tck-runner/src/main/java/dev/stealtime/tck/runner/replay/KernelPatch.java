package dev.stealtime.tck.runner.replay;

import dev.stealtime.tck.runner.exit.UsageException;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * One replay's change to Debian's linux-source: a patch of any file of the tree, as a KVM developer
 * writes it — a plain unified diff (-p1), or what {@code git format-patch} writes (mail headers, the
 * commit message, a diffstat, several commits in one file with {@code --stdout}), or a series given
 * as several files in order. Which build it needs is {@link BuildPlan}'s decision, from the files it
 * touches. Lines {@code Key: value} outside the diffs (a header before it, or in a commit message)
 * describe it; {@code patch(1)} skips them:
 * <pre>
 * Replay:  short name (default: the file name without .patch, or a series' directory)
 * Arch:    arm64 | x86 (default: from the files: arch/arm64/... or arch/x86/...)
 * Kind:    history | mutant | fairness | stock (default: patch)
 * Fix:     the upstream fix the patch undoes: commit, "title", release
 * Breaks:  what the guest or the VMM sees
 * Rule:    the rule(s) that name the behaviour, comma-separated (or "none: why")
 * Racy:    how the defect shows (only for defects that need a race to be seen)
 * Equivalent: why no test can see it (a mutant that changes nothing observable)
 * </pre>
 * The stock kernel is the patch {@link #STOCK}: no file, no diff.
 *
 * @param file    the first file of the patch (the one named in the table)
 * @param files   every file of the tree it touches, in the order the diffs name them
 * @param commits the commits in the order they apply (one for a plain diff)
 */
public record KernelPatch(String name, Path file, String arch, String kind, String fix, String breaks,
                          List<String> rules, String racy, String equivalent, List<String> files, List<Commit> commits) {

    /**
     * One commit of a patch: its subject (without {@code [PATCH n/m]}; empty for a plain diff), the
     * file it came from, and its text (mail, message and diff, as {@code patch -p1} reads it).
     */
    public record Commit(String subject, Path source, String text, List<String> files) {
    }

    public static final String STOCK = "stock";

    private static final Pattern MBOX_FROM = Pattern.compile("^From [0-9a-f]{40} .*");
    private static final Pattern HUNK = Pattern.compile("^@@ -\\d+(?:,(\\d+))? \\+\\d+(?:,(\\d+))? @@.*");
    private static final Pattern PATCH_TAG = Pattern.compile("^\\[[^\\]]*\\]\\s*");
    private static final Pattern PART = Pattern.compile("\\[[^\\]]*?(\\d+)/(\\d+)\\]");
    private static final List<String> KEYS = List.of("replay", "arch", "kind", "fix", "breaks", "rule", "racy", "equivalent");

    /** A patch whose commits are not known (the tests' and older callers' form): one commit, no subject. */
    public KernelPatch(String name, Path file, String arch, String kind, String fix, String breaks,
                       List<String> rules, String racy, String equivalent, List<String> files) {
        this(name, file, arch, kind, fix, breaks, rules, racy, equivalent, files,
                file == null ? List.of() : List.of(new Commit("", file, "", files)));
    }

    /** The unpatched kernel of {@code arch}. */
    public static KernelPatch stock(String arch) {
        return new KernelPatch("stock-" + arch, null, arch, "stock", "", "nothing: Debian's source as released",
                List.of(), "", "", List.of(), List.of());
    }

    public boolean isStock() {
        return file == null;
    }

    /** The commits' subjects that are not empty, in order. */
    public List<String> subjects() {
        return commits.stream().map(Commit::subject).filter(s -> !s.isEmpty()).toList();
    }

    /** The rules listed in the header that are catalogue ids (a "none: ..." entry names none). */
    List<String> namedRules() {
        return rules.stream().filter(r -> r.matches("(X86|ARM)-[A-Z0-9-]+")).toList();
    }

    /**
     * What the build script applies: the file itself when it holds the only commit (so a patch
     * keeps the cache key it always had), else a directory {@code dir/NAME} (0700) with one file
     * per commit ({@code 0001.patch}, ..., 0600), applied in order.
     */
    public Path buildInput(Path dir) throws IOException {
        if (commits.size() == 1) {
            return commits.get(0).source();
        }
        Path d = dir.resolve("series-" + name);
        if (!Files.isDirectory(d)) {
            Files.createDirectories(d, PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rwx------")));
            int i = 0;
            for (Commit c : commits) {
                Path f = d.resolve(String.format("%04d.patch", ++i));
                Files.createFile(f, PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rw-------")));
                Files.writeString(f, c.text(), StandardCharsets.UTF_8);
            }
        }
        return d;
    }

    /** Reads and checks one file (a plain diff, one mail, or several commits in one file). */
    public static KernelPatch read(Path file, String archOverride) {
        return read(List.of(file), null, archOverride);
    }

    /**
     * Reads a series: the files in the order they apply, each a plain diff or one or more mails
     * ({@code git format-patch}); a cover letter ({@code [PATCH 0/n]}, no diff) only names and
     * describes it.
     *
     * @param seriesName the replay's name when no {@code Replay:} line gives one (null: from the first file)
     * @param archOverride {@code arm64}/{@code x86}, or null to take it from the header or the files
     * @throws UsageException with a one-line reason when it is no patch, a path is not -p1 or leaves
     *                        the tree, or it has no architecture
     */
    public static KernelPatch read(List<Path> parts, String seriesName, String archOverride) {
        Header h = new Header();
        List<Commit> commits = new ArrayList<>();
        Set<String> files = new LinkedHashSet<>();
        for (Path part : parts) {
            String text;
            try {
                text = Files.readString(part, StandardCharsets.UTF_8);
            } catch (IOException e) {
                throw new UsageException("cannot read the patch " + part + ": " + e.getMessage());
            }
            for (Commit c : parse(part, text, h)) {
                if (c.files().isEmpty()) {
                    continue;                       // a cover letter, or text around the diffs
                }
                commits.add(c);
                files.addAll(c.files());
            }
        }
        Path first = parts.get(0);
        String where = parts.size() == 1 ? "patch " + first : "series " + (seriesName != null ? seriesName : first);
        if (files.isEmpty()) {
            throw new UsageException(where + " is not a unified diff (no ---/+++ lines)");
        }
        String name = h.name != null ? h.name : seriesName != null ? seriesName
                : first.getFileName().toString().replaceFirst("\\.(patch|diff)$", "")
                        .replaceFirst(parts.size() > 1 || !commits.get(0).subject().isEmpty() ? "^\\d{4}-" : "^$", "");
        String arch = archOverride != null ? archOverride : h.arch;
        if (arch == null) {
            boolean arm = files.stream().anyMatch(f -> f.startsWith("arch/arm64/"));
            boolean x86 = files.stream().anyMatch(f -> f.startsWith("arch/x86/"));
            if (arm == x86) {
                throw new UsageException(where + ": cannot tell its architecture from the files it touches;"
                        + " say it with --arch arm64|x86 or an 'Arch:' header line");
            }
            arch = arm ? "arm64" : "x86";
        }
        if (!arch.equals("arm64") && !arch.equals("x86")) {
            throw new UsageException(where + ": architecture '" + arch + "' is not arm64 or x86");
        }
        if (!name.matches("[A-Za-z0-9._+-]+")) {
            throw new UsageException(where + ": replay name '" + name + "' must be letters, digits, . _ + -");
        }
        // a file of commits not in their natural series order is applied as given: the caller orders parts
        return new KernelPatch(name, first, arch, h.kind != null ? h.kind : "patch", nz(h.fix), nz(h.breaks),
                List.copyOf(h.rules), nz(h.racy), nz(h.equivalent), List.copyOf(files), List.copyOf(commits));
    }

    /**
     * Is this file one part of a {@code git format-patch} series ({@code [PATCH n/m]}, m > 1): its
     * n and m, or null (also for a file of several mails, which is a series by itself).
     */
    public static int[] seriesPart(Path file) {
        try {
            List<String> lines = Files.readAllLines(file, StandardCharsets.UTF_8);
            if (lines.stream().filter(l -> MBOX_FROM.matcher(l).matches()).count() > 1) {
                return null;                          // several mails in one file: a whole series by itself
            }
            boolean mail = false;
            for (String l : lines) {
                if (l.isEmpty() && mail) {
                    return null;                  // end of the first mail's header
                }
                if (MBOX_FROM.matcher(l).matches()) {
                    mail = true;
                } else if (mail && l.startsWith("Subject:")) {
                    Matcher m = PART.matcher(l);
                    if (m.find() && Integer.parseInt(m.group(2)) > 1) {
                        return new int[] {Integer.parseInt(m.group(1)), Integer.parseInt(m.group(2))};
                    }
                    return null;
                } else if (!mail) {
                    return null;
                }
            }
        } catch (IOException | RuntimeException e) {
            return null;
        }
        return null;
    }

    private static String nz(String s) {
        return s == null ? "" : s;
    }

    /** The describing lines found so far (the first of each key wins, Rule lines add up). */
    private static final class Header {
        String name, arch, kind, fix, breaks, racy, equivalent;
        final List<String> rules = new ArrayList<>();

        void line(String l) {
            int colon = l.indexOf(':');
            if (colon <= 0 || !l.substring(0, colon).matches("[A-Za-z]+")) {
                return;
            }
            String key = l.substring(0, colon).toLowerCase(Locale.ROOT);
            if (!KEYS.contains(key)) {
                return;                            // From:, Subject:, Signed-off-by:, a description
            }
            String v = l.substring(colon + 1).trim();
            switch (key) {
                case "replay" -> name = name == null ? v : name;
                case "arch" -> arch = arch == null ? v : arch;
                case "kind" -> kind = kind == null ? v : kind;
                case "fix" -> fix = fix == null ? v : fix;
                case "breaks" -> breaks = breaks == null ? v : breaks;
                case "racy" -> racy = racy == null ? v : racy;
                case "equivalent" -> equivalent = equivalent == null ? v : equivalent;
                default -> {
                    if (v.startsWith("none")) {
                        rules.add(v);
                    } else {
                        for (String r : v.split(",")) {
                            if (!r.isBlank() && !rules.contains(r.trim())) {
                                rules.add(r.trim());
                            }
                        }
                    }
                }
            }
        }
    }

    /**
     * Splits one file into commits: at each mbox {@code From <sha>} line when there are any, else
     * the whole file is one. In a commit, the mail header gives the subject (folded lines joined,
     * {@code [PATCH ...]} dropped); the diffs are followed hunk by hunk (their line counts), so a
     * removed line that starts with {@code "-- "} or a {@code "--- "} in a commit message is never
     * taken for a file.
     */
    private static List<Commit> parse(Path source, String text, Header h) {
        String[] lines = text.split("\n", -1);
        List<Integer> starts = new ArrayList<>();
        for (int i = 0; i < lines.length; i++) {
            if (MBOX_FROM.matcher(lines[i]).matches()) {
                starts.add(i);
            }
        }
        if (starts.isEmpty() || starts.get(0) != 0) {
            starts.add(0, 0);                   // a plain diff, or describing lines before the first mail
        }
        List<Commit> out = new ArrayList<>();
        for (int s = 0; s < starts.size(); s++) {
            int from = starts.get(s);
            int to = s + 1 < starts.size() ? starts.get(s + 1) : lines.length;
            out.add(commit(source, lines, from, to, h));
        }
        return out;
    }

    private static Commit commit(Path source, String[] lines, int from, int to, Header h) {
        String subject = "";
        int i = from;
        if (MBOX_FROM.matcher(lines[from]).matches()) {
            i++;
            for (; i < to && !lines[i].isEmpty(); i++) {
                if (lines[i].startsWith("Subject:")) {
                    StringBuilder b = new StringBuilder(lines[i].substring("Subject:".length()).trim());
                    while (i + 1 < to && (lines[i + 1].startsWith(" ") || lines[i + 1].startsWith("\t"))) {
                        b.append(' ').append(lines[++i].trim());
                    }
                    subject = PATCH_TAG.matcher(b.toString()).replaceFirst("");
                }
            }
        }
        Set<String> files = new LinkedHashSet<>();
        while (i < to) {
            String l = lines[i];
            if (l.startsWith("diff --git ")) {
                // a diff without ---/+++ (a rename, a mode change, a binary file) still names its file
                String[] ab = l.substring("diff --git ".length()).split(" ");
                if (ab.length == 2 && !(i + 1 < to && nextIsFileHeader(lines, i + 1, to))) {
                    files.add(path(source, ab[1]));
                }
                i++;
                continue;
            }
            if (l.startsWith("--- ") && i + 1 < to && lines[i + 1].startsWith("+++ ")) {
                String minus = l.substring(4).split("\t")[0].trim();
                String plus = lines[i + 1].substring(4).split("\t")[0].trim();
                files.add(path(source, plus.equals("/dev/null") ? minus : plus));
                i += 2;
                // the hunks of this file, counted
                while (i < to) {
                    Matcher m = HUNK.matcher(lines[i]);
                    if (!m.matches()) {
                        break;
                    }
                    int old = m.group(1) == null ? 1 : Integer.parseInt(m.group(1));
                    int neu = m.group(2) == null ? 1 : Integer.parseInt(m.group(2));
                    i++;
                    while (i < to && (old > 0 || neu > 0)) {
                        String d = lines[i];
                        if (d.startsWith("\\")) {
                            i++;
                            continue;                 // "\ No newline at end of file"
                        }
                        char c = d.isEmpty() ? ' ' : d.charAt(0);
                        if (c == ' ') {
                            old--;
                            neu--;
                        } else if (c == '-') {
                            old--;
                        } else if (c == '+') {
                            neu--;
                        } else {
                            throw new UsageException("patch " + source + ": a hunk of " + plus + " ends early at line " + (i + 1)
                                    + " (a damaged diff: its @@ counts do not match its lines)");
                        }
                        i++;
                    }
                    while (i < to && lines[i].startsWith("\\")) {
                        i++;
                    }
                }
                continue;
            }
            if (files.isEmpty() || !l.startsWith("-- ")) {
                h.line(l);                      // header, commit message, diffstat: describing lines only
            }
            i++;
        }
        StringBuilder text = new StringBuilder();
        for (int k = from; k < to; k++) {
            text.append(lines[k]);
            if (k + 1 < lines.length) {
                text.append('\n');
            }
        }
        return new Commit(subject, source, text.toString(), List.copyOf(files));
    }

    private static boolean nextIsFileHeader(String[] lines, int i, int to) {
        for (; i < to && !lines[i].startsWith("diff --git "); i++) {
            if (lines[i].startsWith("--- ")) {
                return true;
            }
            if (lines[i].startsWith("@@")) {
                return false;
            }
        }
        return false;
    }

    /** A -p1 path of the tree ({@code a/...} or {@code b/...}), checked to stay inside it. */
    private static String path(Path source, String p) {
        if (!p.startsWith("a/") && !p.startsWith("b/")) {
            throw new UsageException("patch " + source + ": '" + p + "' is not a -p1 path (a/... b/...)");
        }
        String t = p.substring(2);
        if (t.isEmpty() || t.startsWith("/") || List.of(t.split("/")).contains("..")) {
            throw new UsageException("patch " + source + " touches " + p + ": a path outside the kernel tree");
        }
        return t;
    }
}

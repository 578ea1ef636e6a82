package dev.stealtime.tck.runner.replay;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Collections;
import java.util.Deque;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;

/**
 * Who includes a header, in a kernel tree of one architecture, read from the {@code #include} lines
 * of its C and assembly files (every configuration at once, so it errs towards "the image uses it").
 * An {@code <x>} is looked up as kbuild's {@code -I} order has it (arch/ARCH/include, its generated
 * headers, include, then the uapi directories); a {@code "x"} first beside the file. Files of other
 * architectures, tools, documentation and scripts are not read.
 */
final class IncludeIndex {

    private static final Pattern INCLUDE = Pattern.compile("^\\s*#\\s*include\\s*([<\"])([^>\"]+)[>\"]");

    private final String arch;
    /** header -> the files whose #include names it */
    private final Map<String, List<String>> includers;

    private IncludeIndex(String arch, Map<String, List<String>> includers) {
        this.arch = arch;
        this.includers = includers;
    }

    /** Reads the tree (a few seconds for a whole kernel). */
    static IncludeIndex of(Path tree, String arch) {
        String own = "arch/" + (arch.equals("arm64") ? "arm64" : "x86") + "/";
        Set<String> all = new HashSet<>();
        List<String> read = new ArrayList<>();
        try (Stream<Path> s = Files.walk(tree)) {
            s.filter(Files::isRegularFile).forEach(p -> {
                String rel = tree.relativize(p).toString();
                if (rel.startsWith("Documentation/") || rel.startsWith("tools/") || rel.startsWith("scripts/")
                        || rel.startsWith("samples/") || rel.startsWith("usr/") || rel.startsWith(".")
                        || rel.startsWith("arch/") && !rel.startsWith(own)) {
                    return;
                }
                if (rel.endsWith(".h")) {
                    all.add(rel);
                }
                if (rel.endsWith(".c") || rel.endsWith(".h") || rel.endsWith(".S")) {
                    read.add(rel);
                }
            });
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        List<String> dirs = List.of(own + "include/", own + "include/generated/", "include/", own + "include/uapi/",
                own + "include/generated/uapi/", "include/uapi/", "include/generated/uapi/");
        Map<String, List<String>> inc = new ConcurrentHashMap<>();
        read.parallelStream().forEach(rel -> {
            List<String> lines;
            try {
                lines = Files.readAllLines(tree.resolve(rel), StandardCharsets.ISO_8859_1);
            } catch (IOException e) {
                return;
            }
            String dir = rel.contains("/") ? rel.substring(0, rel.lastIndexOf('/') + 1) : "";
            for (String l : lines) {
                if (l.indexOf('#') < 0) {
                    continue;
                }
                Matcher m = INCLUDE.matcher(l);
                if (!m.find()) {
                    continue;
                }
                String target = null;
                if (m.group(1).equals("\"")) {
                    String local = Path.of(dir + m.group(2)).normalize().toString();
                    if (all.contains(local)) {
                        target = local;
                    }
                }
                if (target == null) {
                    for (String d : dirs) {
                        if (all.contains(d + m.group(2))) {
                            target = d + m.group(2);
                            break;
                        }
                    }
                }
                if (target != null) {
                    inc.computeIfAbsent(target, k -> Collections.synchronizedList(new ArrayList<>())).add(rel);
                }
            }
        });
        return new IncludeIndex(arch, new HashMap<>(inc));
    }

    /** For tests: an index from "file includes header" pairs. */
    static IncludeIndex of(String arch, Map<String, List<String>> fileIncludes) {
        Map<String, List<String>> inc = new HashMap<>();
        fileIncludes.forEach((file, headers) -> headers.forEach(h -> inc.computeIfAbsent(h, k -> new ArrayList<>()).add(file)));
        return new IncludeIndex(arch, inc);
    }

    /**
     * A C or assembly file outside KVM's own code that includes {@code header}, directly or through
     * other headers (the nearest first), or empty when only KVM's code does.
     */
    Optional<String> imageUser(String header) {
        Deque<String> todo = new ArrayDeque<>(List.of(header));
        Set<String> seen = new HashSet<>(todo);
        while (!todo.isEmpty()) {
            String h = todo.poll();
            List<String> by = includers.getOrDefault(h, List.of()).stream().sorted().toList();
            for (String f : by) {
                if (!seen.add(f)) {
                    continue;
                }
                if (f.endsWith(".h")) {
                    todo.add(f);
                } else if (!BuildPlan.modulesOnly(f)) {
                    return Optional.of(f);
                }
            }
        }
        return Optional.empty();
    }

    String arch() {
        return arch;
    }
}

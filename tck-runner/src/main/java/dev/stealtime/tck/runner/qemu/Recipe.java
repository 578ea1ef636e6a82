package dev.stealtime.tck.runner.qemu;

import dev.stealtime.tck.spi.Architecture;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.regex.PatternSyntaxException;

/**
 * How to run a VMM with the TCK's test guest (docs/vmm-recipes.md): a small text file of
 * {@code key = value} lines ({@code #} comments; an indented line continues the value before it).
 * <pre>
 * name         = QEMU with KVM (x86-64)                  a line for people
 * architecture = x86_64                                  the guest's (x86_64; arm64)
 * command      = qemu-system-x86_64 ... -kernel {kernel}  the VMM, split at white space
 * vcpu_threads = CPU (\d+)/KVM                           a regex on /proc/PID/task/TID/comm; group 1 is the vCPU index
 * ram          = {dir}/ram                               the file the VMM maps shared as guest RAM from address 0
 * memory       = 64                                      MiB of guest RAM (default 64)
 * </pre>
 * Placeholders in {@code command} and {@code ram}: {@code {kernel}} the test guest, {@code {vcpus}},
 * {@code {memory}} (MiB), {@code {ram}} (the RAM file), {@code {dir}} (a private directory per VM).
 * The guest's first serial port must be the VMM's standard input and output.
 */
public record Recipe(String source, String name, Architecture architecture, List<String> command, Pattern vcpuThreads,
                     String ram, int memoryMib) {

    /** {@code vmm:NAME} names a recipe shipped with the TCK (resources {@code recipes/NAME.recipe}). */
    static final String SHIPPED = "/dev/stealtime/tck/runner/recipes/";
    private static final Set<String> KEYS = Set.of("name", "architecture", "command", "vcpu_threads", "ram", "memory");
    private static final Set<String> PLACEHOLDERS = Set.of("kernel", "vcpus", "memory", "ram", "dir");
    private static final Pattern PLACEHOLDER = Pattern.compile("\\{([a-z_]*)}");

    /**
     * The recipe {@code spec} names: a file, or the name of one the TCK ships ({@code qemu}).
     *
     * @throws IllegalArgumentException with a one-line reason: no such recipe, or what is wrong in it
     */
    public static Recipe load(String spec) {
        Path file = Path.of(spec);
        if (Files.isRegularFile(file)) {
            try {
                return parse(file.toAbsolutePath().toString(), Files.readString(file, StandardCharsets.UTF_8));
            } catch (IOException e) {
                throw new IllegalArgumentException("recipe " + spec + ": " + e.getMessage());
            }
        }
        if (spec.matches("[a-z0-9-]+")) {
            try (InputStream in = Recipe.class.getResourceAsStream(SHIPPED + spec + ".recipe")) {
                if (in != null) {
                    return parse("shipped recipe " + spec, new String(in.readAllBytes(), StandardCharsets.UTF_8));
                }
            } catch (IOException e) {
                throw new IllegalArgumentException("recipe " + spec + ": " + e.getMessage());
            }
        }
        throw new IllegalArgumentException("recipe " + spec + ": no such file, and the TCK ships no recipe of that name (shipped: "
                + String.join(", ", shipped()) + ")");
    }

    /** The names of the recipes the TCK ships. */
    static List<String> shipped() {
        return List.of("qemu", "cloud-hypervisor");
    }

    /** Parses a recipe's text; {@code source} names it in messages. */
    static Recipe parse(String source, String text) {
        Map<String, String> values = new LinkedHashMap<>();
        String last = null;
        int n = 0;
        for (String line : text.split("\n", -1)) {
            n++;
            String stripped = line.strip();
            if (stripped.isEmpty() || stripped.startsWith("#")) {
                continue;
            }
            if (Character.isWhitespace(line.charAt(0))) {
                if (last == null) {
                    throw new IllegalArgumentException(source + " line " + n + ": an indented line continues a value, and none came before");
                }
                values.merge(last, stripped, (a, b) -> a + " " + b);
                continue;
            }
            int eq = line.indexOf('=');
            if (eq < 0) {
                throw new IllegalArgumentException(source + " line " + n + ": expected 'key = value', seen '" + stripped + "'");
            }
            String key = line.substring(0, eq).strip();
            if (!KEYS.contains(key)) {
                throw new IllegalArgumentException(source + " line " + n + ": unknown key '" + key + "' (keys: " + String.join(", ",
                        KEYS.stream().sorted().toList()) + ")");
            }
            if (values.containsKey(key)) {
                throw new IllegalArgumentException(source + " line " + n + ": '" + key + "' given twice");
            }
            values.put(key, line.substring(eq + 1).strip());
            last = key;
        }
        for (String required : List.of("name", "command", "vcpu_threads", "ram")) {
            if (values.getOrDefault(required, "").isEmpty()) {
                throw new IllegalArgumentException(source + ": '" + required + "' is missing"
                        + (required.equals("ram") ? " (the TCK reads the structures live in a file the VMM maps shared as guest RAM)" : ""));
            }
        }
        Architecture arch = switch (values.getOrDefault("architecture", "x86_64")) {
            case "x86_64" -> Architecture.X86_64;
            case "arm64" -> Architecture.ARM64;
            default -> throw new IllegalArgumentException(source + ": architecture must be x86_64 or arm64, got '"
                    + values.get("architecture") + "'");
        };
        Pattern threads;
        try {
            threads = Pattern.compile(values.get("vcpu_threads"));
        } catch (PatternSyntaxException e) {
            throw new IllegalArgumentException(source + ": vcpu_threads is not a regular expression: " + e.getDescription());
        }
        if (threads.matcher("").groupCount() < 1) {
            throw new IllegalArgumentException(source + ": vcpu_threads needs a group for the vCPU index, as in 'CPU (\\d+)/KVM'");
        }
        int memory;
        try {
            memory = Integer.parseInt(values.getOrDefault("memory", "64"));
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException(source + ": memory must be a number of MiB, got '" + values.get("memory") + "'");
        }
        if (memory < 16 || memory > 4096) {
            throw new IllegalArgumentException(source + ": memory must be 16 to 4096 MiB, got " + memory);
        }
        List<String> command = List.of(values.get("command").split("\\s+"));
        for (String word : command) {
            checkPlaceholders(source, "command", word);
        }
        checkPlaceholders(source, "ram", values.get("ram"));
        if (values.get("ram").contains("{ram}")) {
            throw new IllegalArgumentException(source + ": ram cannot name itself ({ram})");
        }
        if (command.stream().noneMatch(w -> w.contains("{kernel}"))) {
            throw new IllegalArgumentException(source + ": command must boot the test guest ({kernel})");
        }
        return new Recipe(source, values.get("name"), arch, command, threads, values.get("ram"), memory);
    }

    private static void checkPlaceholders(String source, String key, String value) {
        Matcher m = PLACEHOLDER.matcher(value);
        while (m.find()) {
            if (!PLACEHOLDERS.contains(m.group(1))) {
                throw new IllegalArgumentException(source + ": " + key + " has an unknown placeholder {" + m.group(1) + "} (known: "
                        + String.join(", ", PLACEHOLDERS.stream().sorted().map(p -> "{" + p + "}").toList()) + ")");
            }
        }
    }

    /** Whether the command says how many vCPUs ({@code {vcpus}}): else every VM has one. */
    boolean multiVcpu() {
        return command.stream().anyMatch(w -> w.contains("{vcpus}"));
    }

    /** The command for one VM, placeholders filled. */
    List<String> command(Path kernel, int vcpus, Path dir) {
        List<String> out = new ArrayList<>();
        for (String word : command) {
            out.add(fill(word, kernel, vcpus, dir));
        }
        return out;
    }

    /** The RAM file for one VM. */
    Path ramFile(Path kernel, int vcpus, Path dir) {
        return Path.of(fill(ram, kernel, vcpus, dir));
    }

    private String fill(String s, Path kernel, int vcpus, Path dir) {
        String ramPath = ram.replace("{dir}", dir.toString());
        return s.replace("{kernel}", kernel.toString()).replace("{vcpus}", Integer.toString(vcpus))
                .replace("{memory}", Integer.toString(memoryMib)).replace("{ram}", ramPath).replace("{dir}", dir.toString());
    }
}

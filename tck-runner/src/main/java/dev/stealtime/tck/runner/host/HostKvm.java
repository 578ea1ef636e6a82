package dev.stealtime.tck.runner.host;

import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import java.util.Optional;

/**
 * The KVM of the machine the TCK runs on, as the kernel tells it: whether {@code /dev/kvm} opens,
 * which implementation is behind it, and whether that implementation can run a guest that itself
 * runs KVM (nested virtualisation).
 *
 * <p>Three kinds of host are met in practice, and only the module says which:
 * <ul>
 *   <li>no {@code /dev/kvm} at all;</li>
 *   <li>{@code kvm_pvm}: a pagetable-based KVM that needs no hardware virtualisation (the machine
 *       is itself a guest, its CPU has no {@code svm}/{@code vmx} flag); it runs small guests such
 *       as the C adapter's, but it cannot nest;</li>
 *   <li>{@code kvm_amd} / {@code kvm_intel}: hardware virtualisation, nesting when the module's
 *       {@code nested} parameter is on.</li>
 * </ul>
 * On arm64 KVM is built into the kernel ({@code /sys/module/kvm}); whether it nests is not probed.
 *
 * @param arch       the host's architecture as the kernel names it ({@code x86_64}, {@code aarch64})
 * @param problem    why {@code /dev/kvm} is not usable, or null when it opens for reading and writing
 * @param module     the implementation behind {@code /dev/kvm}: {@code kvm_amd}, {@code kvm_intel},
 *                   {@code kvm_pvm}, {@code kvm} (built in, arm64), or null when none is loaded
 * @param srcversion the module's {@code srcversion} (or {@code version}), or null
 * @param nested     the module's {@code nested} parameter, when it has one
 * @param virtFlag   whether the CPU shows hardware virtualisation ({@code svm}/{@code vmx}; x86 only)
 */
public record HostKvm(String arch, String problem, String module, String srcversion, Optional<Boolean> nested,
                      boolean virtFlag) {

    /** The vendor modules, in the order they are looked for. */
    static final List<String> MODULES = List.of("kvm_amd", "kvm_intel", "kvm_pvm");

    /** This machine. */
    public static HostKvm probe() {
        return probe(Path.of("/"), normalArch(System.getProperty("os.arch", "?")));
    }

    /**
     * The host whose {@code /dev}, {@code /sys} and {@code /proc} lie under {@code root} (tests hand
     * a directory of fake files).
     */
    public static HostKvm probe(Path root, String arch) {
        String problem = deviceProblem(root.resolve("dev/kvm"));
        Path modules = root.resolve("sys/module");
        String module = null;
        for (String m : MODULES) {
            if (Files.isDirectory(modules.resolve(m))) {
                module = m;
                break;
            }
        }
        if (module == null && Files.isDirectory(modules.resolve("kvm")) && arch.equals("aarch64")) {
            module = "kvm";
        }
        String srcversion = null;
        Optional<Boolean> nested = Optional.empty();
        if (module != null) {
            Path dir = modules.resolve(module);
            srcversion = firstLine(dir.resolve("srcversion")).or(() -> firstLine(dir.resolve("version"))).orElse(null);
            nested = firstLine(dir.resolve("parameters/nested")).map(v -> v.equals("Y") || v.equals("1"));
        }
        boolean flag = firstLineMatching(root.resolve("proc/cpuinfo"), "flags")
                .map(l -> List.of(l.substring(l.indexOf(':') + 1).trim().split("\\s+")))
                .map(f -> f.contains("svm") || f.contains("vmx")).orElse(false);
        return new HostKvm(arch, problem, module, srcversion, nested, flag);
    }

    /** Whether {@code /dev/kvm} opens for reading and writing. */
    public boolean usable() {
        return problem == null;
    }

    /**
     * Why a guest of this host cannot run KVM on the host's KVM (nested virtualisation), or empty
     * when it can.
     */
    public Optional<String> whyNoNesting() {
        if (!usable()) {
            return Optional.of(problem);
        }
        if (module == null) {
            return Optional.of("/dev/kvm opens, but no KVM module is known (" + String.join(", ", MODULES) + ")");
        }
        return switch (module) {
            case "kvm_pvm" -> Optional.of("the host's KVM is kvm_pvm (no hardware virtualisation), which cannot nest");
            case "kvm" -> Optional.of("nested virtualisation of an arm64 host's KVM is not probed");
            default -> {
                if (!virtFlag) {
                    yield Optional.of("the CPU shows no svm/vmx flag");
                }
                if (nested.isEmpty() || !nested.get()) {
                    yield Optional.of(module + " has nesting off (/sys/module/" + module + "/parameters/nested)");
                }
                yield Optional.empty();
            }
        };
    }

    /** One line for summaries: {@code kvm_pvm (srcversion 1A2B…, no nesting)}, or why there is no KVM. */
    public String describe() {
        if (!usable()) {
            return "none (" + problem + ")";
        }
        if (module == null) {
            return "unknown module behind /dev/kvm";
        }
        String nesting = nested.map(n -> n ? "nested=on" : "nested=off")
                .orElse(module.equals("kvm_pvm") ? "cannot nest" : "nesting not probed");
        return module + " (" + (srcversion == null ? "built in, no srcversion" : "srcversion " + srcversion) + ", " + nesting
                + (arch.equals("x86_64") ? ", " + (virtFlag ? "svm/vmx flag" : "no svm/vmx flag") : "") + ")";
    }

    /** The JVM's {@code os.arch} as the kernel says it: {@code amd64} → {@code x86_64}. */
    public static String normalArch(String osArch) {
        return switch (osArch) {
            case "amd64", "x86_64" -> "x86_64";
            case "aarch64", "arm64" -> "aarch64";
            default -> osArch;
        };
    }

    private static String deviceProblem(Path dev) {
        if (!Files.exists(dev)) {
            return dev + ": No such file or directory";
        }
        try (RandomAccessFile f = new RandomAccessFile(dev.toFile(), "rw")) {
            return null;
        } catch (IOException e) {
            return dev + ": " + e.getMessage();
        }
    }

    private static Optional<String> firstLine(Path p) {
        try {
            return Files.readAllLines(p, StandardCharsets.UTF_8).stream().map(String::strip).filter(s -> !s.isEmpty()).findFirst();
        } catch (IOException | RuntimeException e) {
            return Optional.empty();
        }
    }

    private static Optional<String> firstLineMatching(Path p, String key) {
        try (var lines = Files.lines(p, StandardCharsets.UTF_8)) {
            return lines.filter(l -> l.toLowerCase(Locale.ROOT).startsWith(key)).findFirst();
        } catch (IOException | RuntimeException e) {
            return Optional.empty();
        }
    }
}

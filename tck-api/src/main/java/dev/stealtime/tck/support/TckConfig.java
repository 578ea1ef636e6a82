package dev.stealtime.tck.support;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.stream.Stream;

/**
 * The one configuration surface: every setting is a CLI flag ({@code --race-budget}), a system
 * property ({@code tck.race.budget}) and an environment variable ({@code TCK_RACE_BUDGET}). The CLI
 * flag wins over the system property, which wins over the environment.
 */
public final class TckConfig {

    /** A setting: its property name, environment name, default and meaning. */
    public enum Key {
        PROVIDER("tck.provider", "reference", "provider id"),
        PROFILES("tck.profiles", "required,linux-abi,advisory", "profiles claimed (levels whose rules are run)"),
        RACE_BUDGET("tck.race.budget", "2s", "time budget of each race (torn-read) test"),
        TIMING_MULTIPLIER("tck.timing.multiplier", "1", "scales every workload duration and tolerance (slow machines: 2, 4...)"),
        CALL_TIMEOUT("tck.call.timeout", "10s", "time limit of each provider call (scaled by the timing multiplier, plus the call's own workload duration)"),
        PREPARE_TIMEOUT("tck.prepare.timeout", "20m", "time limit of a provider's one-time preparation (downloads, builds, booting an emulated machine)"),
        /** The kernel under test: an image the emulated-machine providers boot instead of Debian's cloud kernel. */
        KERNEL("tck.kernel", "", "kernel image (bzImage / Image) the emulated machine boots (default: Debian's cloud kernel)"),
        /** x86: a directory of KVM modules (kvm.ko, kvm-amd.ko, ...) the emulated machine loads instead of the kernel's own. */
        KVM_MODULES("tck.kvm.modules", "", "directory of KVM modules the emulated x86 machine loads (default: the kernel's own)"),
        /** How the emulated machines' CPUs run: {@code auto}, {@code kvm} (the host's KVM, nested) or {@code tcg} (QEMU's emulation). */
        ACCEL("tck.accel", "auto", "accelerator of the emulated machines: auto (the host's KVM only where it can nest, else TCG), kvm or tcg"),
        /** Which KVM the qemu provider's QEMU runs on: {@code auto}, {@code host} ({@code /dev/kvm}) or {@code emulated} (inside an emulated machine). */
        /** A defect put into QEMU for the TCK's self-tests of the VMM rules ({@code native/qemu/defects.c}). */
        QEMU_DEFECT("tck.qemu.defect", "", "self-tests: a defect put into the qemu provider's QEMU (restore-drops-steal-msr, cpuid-hides-steal-time, hotplug-hides-steal-time; arm64: restore-loses-pvtime-ipa, pvtime-ipa-shared, pvtime-ipa-in-ram)"),
        QEMU_KVM("tck.qemu.kvm", "auto", "KVM of the qemu provider: auto (this host's /dev/kvm where usable, else the KVM inside an emulated machine), host or emulated"),
        /** Only these rules' tests run: ids, globs ({@code ARM-EINVAL-*}) or rule areas, comma-separated; a subset's verdict is PARTIAL. */
        RULES("tck.rules", "", "rules whose tests run: ids, globs (ARM-EINVAL-*) or areas, comma-separated (default: all; a subset's verdict is PARTIAL)");

        public final String property;
        public final String defaultValue;
        public final String meaning;

        Key(String property, String defaultValue, String meaning) {
            this.property = property;
            this.defaultValue = defaultValue;
            this.meaning = meaning;
        }

        /** {@code tck.race.budget} → {@code TCK_RACE_BUDGET}. */
        public String envName() {
            return property.replace('.', '_').toUpperCase(Locale.ROOT);
        }
    }

    private final Map<Key, String> overrides = new LinkedHashMap<>();
    private final Map<Key, Source> providerDefaults = new LinkedHashMap<>();

    /** Configuration from system properties and the environment only. */
    public static TckConfig fromEnvironment() {
        return new TckConfig();
    }

    /** Sets a value as if given on the command line (wins over property and environment). */
    public TckConfig with(Key key, String value) {
        if (value != null) {
            overrides.put(key, value);
        }
        return this;
    }

    /**
     * A provider's own default for {@code key} ({@link dev.stealtime.tck.spi.HypervisorProvider#defaultCallTimeout()}):
     * it takes the place of the TCK's default only, never of a flag, property or environment value.
     */
    public TckConfig withProviderDefault(Key key, String value, String providerId) {
        providerDefaults.put(key, new Source(value, "default of provider " + providerId));
        return this;
    }

    public String raw(Key key) {
        return source(key).value;
    }

    /** Where the effective value came from: {@code flag}, {@code property}, {@code env}, {@code default of provider ID} or {@code default}. */
    public String origin(Key key) {
        return source(key).origin;
    }

    private record Source(String value, String origin) {
    }

    private Source source(Key key) {
        if (overrides.containsKey(key)) {
            return new Source(overrides.get(key), "flag");
        }
        String p = System.getProperty(key.property);
        if (p != null && !p.isBlank()) {
            return new Source(p, "property");
        }
        String e = System.getenv(key.envName());
        if (e != null && !e.isBlank()) {
            return new Source(e, "env");
        }
        return providerDefaults.getOrDefault(key, new Source(key.defaultValue, "default"));
    }

    public String providerId() {
        return raw(Key.PROVIDER).trim();
    }

    public List<String> profiles() {
        List<String> out = new ArrayList<>();
        for (String p : raw(Key.PROFILES).split(",")) {
            if (!p.isBlank()) {
                out.add(dev.stealtime.tck.rules.Level.fromGroup(p).group());
            }
        }
        if (out.isEmpty()) {
            throw new IllegalArgumentException("no profile given (expected some of required, linux-abi, advisory)");
        }
        return out;
    }

    public Duration raceBudget() {
        return parseDuration(Key.RACE_BUDGET, raw(Key.RACE_BUDGET));
    }

    public Duration callTimeout() {
        return parseDuration(Key.CALL_TIMEOUT, raw(Key.CALL_TIMEOUT));
    }

    public Duration prepareTimeout() {
        return parseDuration(Key.PREPARE_TIMEOUT, raw(Key.PREPARE_TIMEOUT));
    }

    public double timingMultiplier() {
        String v = raw(Key.TIMING_MULTIPLIER).trim();
        try {
            double m = Double.parseDouble(v);
            if (!(m >= 0.1 && m <= 100)) {
                throw new NumberFormatException();
            }
            return m;
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("timing multiplier must be a number from 0.1 to 100, got '" + v + "'");
        }
    }

    /**
     * The kernel image under test, when one is given: an existing regular file.
     *
     * @throws IllegalArgumentException when the file is missing or not a regular file
     */
    public Optional<Path> kernel() {
        String v = raw(Key.KERNEL).trim();
        if (v.isEmpty()) {
            return Optional.empty();
        }
        Path p = Path.of(v).toAbsolutePath().normalize();
        if (!Files.isRegularFile(p) || !Files.isReadable(p)) {
            throw new IllegalArgumentException(Key.KERNEL.property + " must be a readable kernel image file, got '" + v + "'"
                    + (Files.exists(p) ? " (not a readable regular file)" : " (no such file)"));
        }
        return Optional.of(p);
    }

    /**
     * The directory of KVM modules under test, when one is given: a directory with at least one {@code .ko}.
     *
     * @throws IllegalArgumentException otherwise
     */
    public Optional<Path> kvmModules() {
        String v = raw(Key.KVM_MODULES).trim();
        if (v.isEmpty()) {
            return Optional.empty();
        }
        Path p = Path.of(v).toAbsolutePath().normalize();
        if (!Files.isDirectory(p)) {
            throw new IllegalArgumentException(Key.KVM_MODULES.property + " must be a directory of KVM modules (*.ko), got '" + v + "'"
                    + (Files.exists(p) ? " (not a directory)" : " (no such directory)"));
        }
        try (Stream<Path> s = Files.list(p)) {
            if (s.noneMatch(f -> f.getFileName().toString().endsWith(".ko") && Files.isRegularFile(f))) {
                throw new IllegalArgumentException(Key.KVM_MODULES.property + " '" + v + "' holds no module (*.ko)");
            }
        } catch (IOException e) {
            throw new IllegalArgumentException(Key.KVM_MODULES.property + " '" + v + "' cannot be listed: " + e.getMessage());
        }
        return Optional.of(p);
    }

    /** The emulated machines' accelerator as asked: {@code auto}, {@code kvm} or {@code tcg}. */
    public String accel() {
        String v = raw(Key.ACCEL).trim().toLowerCase(Locale.ROOT);
        if (!List.of("auto", "kvm", "tcg").contains(v)) {
            throw new IllegalArgumentException(Key.ACCEL.property + " must be auto, kvm or tcg, got '" + raw(Key.ACCEL) + "'");
        }
        return v;
    }

    /** The qemu provider's KVM as asked: {@code auto}, {@code host} or {@code emulated}. */
    public String qemuKvm() {
        String v = raw(Key.QEMU_KVM).trim().toLowerCase(Locale.ROOT);
        if (!List.of("auto", "host", "emulated").contains(v)) {
            throw new IllegalArgumentException(Key.QEMU_KVM.property + " must be auto, host or emulated, got '" + raw(Key.QEMU_KVM) + "'");
        }
        return v;
    }

    /** The defect to put into the qemu provider's QEMU, if any: one of {@code QEMU_DEFECTS}. */
    public Optional<String> qemuDefect() {
        String v = raw(Key.QEMU_DEFECT).trim();
        if (v.isEmpty()) {
            return Optional.empty();
        }
        if (!QEMU_DEFECTS.contains(v)) {
            throw new IllegalArgumentException(Key.QEMU_DEFECT.property + " must be one of " + String.join(", ", QEMU_DEFECTS) + ", got '" + v + "'");
        }
        return Optional.of(v);
    }

    /** The defects {@code native/qemu/defects.c} can put into QEMU. */
    public static final List<String> QEMU_DEFECTS = List.of("restore-drops-steal-msr", "cpuid-hides-steal-time", "hotplug-hides-steal-time",
            "restore-loses-pvtime-ipa", "pvtime-ipa-shared", "pvtime-ipa-in-ram");

    /** The rule patterns asked for ({@link Key#RULES}); empty: every rule of the suites. */
    public List<String> rulePatterns() {
        List<String> out = new ArrayList<>();
        for (String p : raw(Key.RULES).split(",")) {
            if (!p.isBlank()) {
                out.add(p.strip());
            }
        }
        return out;
    }

    /** Validates every setting; throws IllegalArgumentException with a one-line reason. */
    public TckConfig validate() {
        providerId();
        profiles();
        raceBudget();
        timingMultiplier();
        callTimeout();
        kernel();
        kvmModules();
        accel();
        qemuKvm();
        qemuDefect();
        prepareTimeout();
        return this;
    }

    /** The effective values, for printing at the start of a run. */
    public Map<String, String> effective() {
        Map<String, String> m = new LinkedHashMap<>();
        for (Key k : Key.values()) {
            m.put(k.property, shown(k) + " (" + origin(k) + ")");
        }
        return m;
    }

    /** The value as given; a duration given as a bare number also says how it was read ({@code 500 = 500ms}). */
    private String shown(Key k) {
        String v = raw(k);
        if (v.isBlank()) {
            return k == Key.RULES ? "all" : "none";
        }
        if ((k == Key.RACE_BUDGET || k == Key.CALL_TIMEOUT || k == Key.PREPARE_TIMEOUT) && v.trim().matches("\\d+")) {
            return v.trim() + " = " + format(parseDuration(k, v));
        }
        return v;
    }

    /** {@code 500ms}, {@code 2s}, {@code 1.5s}, {@code 2m}: how durations are printed everywhere. */
    public static String format(Duration d) {
        long ms = d.toMillis();
        if (ms < 1000 && d.toNanos() % 1_000_000 != 0) {
            long us = d.toNanos() / 1000;
            return us % 1000 == 0 ? (us / 1000) + "ms" : us + "µs";
        }
        if (ms < 1000) {
            return ms + "ms";
        }
        if (ms % 60_000 == 0) {
            return (ms / 60_000) + "m";
        }
        return ms % 1000 == 0 ? (ms / 1000) + "s" : String.format(Locale.ROOT, "%.3gs", ms / 1000.0).replaceAll("\\.?0+s$", "s");
    }

    /**
     * Parses {@code 500ms}, {@code 2s}, {@code 1m} or a bare number of milliseconds.
     */
    public static Duration parseDuration(Key key, String text) {
        String t = text.trim().toLowerCase(Locale.ROOT);
        try {
            Duration d;
            if (t.endsWith("ms")) {
                d = Duration.ofMillis(Long.parseLong(t.substring(0, t.length() - 2).trim()));
            } else if (t.endsWith("s")) {
                d = Duration.ofMillis(Math.round(Double.parseDouble(t.substring(0, t.length() - 1).trim()) * 1000));
            } else if (t.endsWith("m")) {
                d = Duration.ofSeconds(Math.round(Double.parseDouble(t.substring(0, t.length() - 1).trim()) * 60));
            } else {
                d = Duration.ofMillis(Long.parseLong(t));
            }
            if (d.isNegative() || d.isZero()) {
                throw new NumberFormatException();
            }
            return d;
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException(key.property + " must be a positive duration such as 500ms, 2s or 1m, got '" + text + "'");
        }
    }

    public Optional<String> override(Key key) {
        return Optional.ofNullable(overrides.get(key));
    }
}

package dev.stealtime.tck.runner.emulatedkvm;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;

/**
 * The {@code kvm} provider on a real {@code /dev/kvm}, on a machine without one: boots the
 * {@code kvm-x86-emulated} machine (its kernel, KVM modules and QEMU command line, 4 GiB) with a JDK,
 * this build of the TCK and the C adapter built static with the {@code kvm} provider's flags
 * ({@code TCK_KVM_ADAPTER}: the guest has no compiler) added to its initramfs, and runs there, on the
 * guest's own {@code /dev/kvm}, the x86 suite through {@code --provider kvm} ROUNDS times, then
 * {@link dev.stealtime.tck.runner.kvm.KvmMeasurementBenchmark}. It prints suite wall time and verdict,
 * each race's graded samples per second (the races read the adapter's shared RAM file live), and the
 * benchmark's rows. This is how the kvm provider (the C adapter since the host-driver decision, see
 * the README) is tried on real KVM where the host has none; figures under TCG are far from a host's.
 * The machine must have been prepared once (any {@code ./tck run --provider kvm-x86-emulated}).
 *
 * <pre>
 *   java -cp tck-runner/target/test-classes:tck-runner/target/classes:tck-runner/target/lib/* \
 *       dev.stealtime.tck.runner.emulatedkvm.KvmInGuest [ROUNDS]
 * </pre>
 * ROUNDS: how many times the suite runs (default 2; 0: only check that the provider is available there).
 */
public final class KvmInGuest {

    private static final Duration TIMEOUT = Duration.ofMinutes(80);
    private static final int MEMORY_MIB = 4096;
    /** {@code -Dtck.guest.echo=true}: every console line too (to see where a machine is). */
    private static final boolean ECHO = Boolean.getBoolean("tck.guest.echo");

    private KvmInGuest() {
    }

    public static void main(String[] args) throws Exception {
        int rounds = args.length > 0 ? Integer.parseInt(args[0]) : 2;
        Path work = Files.createTempDirectory("tck-kvm-in-guest-",
                PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rwx------")));
        Thread remove = new Thread(() -> EmulatedMachine.deleteTree(work));   // also on Ctrl-C / SIGTERM
        Runtime.getRuntime().addShutdownHook(remove);
        run(rounds, work);
    }

    private static void run(int rounds, Path work) throws Exception {
        Guest guest = Guest.X86_64;
        long t0 = System.nanoTime();
        MachineImage image = MachineImage.prepare(guest, work.resolve("prepare"));
        Path stage = Files.createDirectories(work.resolve("stage"));
        stageAdapter(stage);
        stageJdk(stage);
        stageTck(stage, rounds);
        Path initrd = work.resolve("initrd");
        KvmModules.appendTo(image.initrd(), KvmModules.select(null, image.kvmModules(), true), initrd);
        appendCpio(stage, initrd, work);
        EmulatedMachine.deleteTree(stage);
        System.out.printf("staged in %.1f s (initramfs %d MiB); booting %s (%s)%n", (System.nanoTime() - t0) / 1e9,
                Files.size(initrd) >> 20, image.kernelRelease(), guest.accelerator().description());

        List<String> command = new ArrayList<>(EmulatedMachine.qemuCommand(guest, guest.accelerator(), image.kernel(), initrd,
                work.resolve("unused.sock")));
        command.set(command.indexOf("-m") + 1, Integer.toString(MEMORY_MIB));
        // the console as it comes: every figure printed at once (a long comparison shows its progress)
        Process qemu = new ProcessBuilder(command).redirectErrorStream(true)
                .redirectInput(ProcessBuilder.Redirect.from(Path.of("/dev/null").toFile())).start();
        Thread stopper = new Thread(qemu::destroyForcibly);
        Runtime.getRuntime().addShutdownHook(stopper);
        List<String> figures = new ArrayList<>();
        java.util.ArrayDeque<String> last = new java.util.ArrayDeque<>();
        boolean finished = false;
        long deadline = System.nanoTime() + TIMEOUT.toNanos();
        Thread timer = new Thread(() -> {
            try {
                Thread.sleep(TIMEOUT.toMillis());
                qemu.destroyForcibly();
            } catch (InterruptedException e) {
                // finished in time
            }
        });
        timer.setDaemon(true);
        timer.start();
        try (var r = new java.io.BufferedReader(new java.io.InputStreamReader(qemu.getInputStream(), StandardCharsets.UTF_8))) {
            String l;
            while ((l = r.readLine()) != null) {
                l = l.replace("\r", "");
                last.addLast(l);
                if (last.size() > 30) {
                    last.removeFirst();
                }
                if (ECHO) {
                    System.out.println("  | " + l);
                }
                int at = l.indexOf("TCK-GUEST ");
                if (at >= 0) {
                    String f = l.substring(at + 10);
                    figures.add(f);
                    System.out.printf("[%5.0f s] %s%n", (System.nanoTime() - t0) / 1e9, f);
                    if (f.equals("EXIT")) {
                        finished = true;
                        break;
                    }
                }
            }
        } finally {
            timer.interrupt();
            qemu.destroyForcibly().waitFor();
            Runtime.getRuntime().removeShutdownHook(stopper);
        }
        if (!finished) {
            System.out.println("the machine ended before the comparison did" + (System.nanoTime() > deadline
                    ? " (" + TIMEOUT.toMinutes() + " min)" : "") + "; console tail:");
            last.forEach(l -> System.out.println("  " + l));
        }
        System.out.println();
        System.out.println(table(figures));
        System.out.printf("total %.1f s%n", (System.nanoTime() - t0) / 1e9);
    }

    /** The figures as a table: each round's suite wall time and exit code, and each race's graded samples per second. */
    static String table(List<String> figures) {
        StringBuilder sb = new StringBuilder(String.format("%-6s | %-10s | %-6s | %s%n", "round", "suite wall", "exit",
                "graded samples/s per race (torn steal values: X86-TORN-READ; version covers every update: X86-VERSION-ADVANCES)"));
        Pattern suite = Pattern.compile("^suite round=(\\d+) rc=(\\d+) wall=([0-9.]+)s");
        Pattern race = Pattern.compile("^race round=(\\d+) (.*): samples [0-9,]+ by \\d+ reader\\(s\\) in \\d+ ms \\(([0-9,]+)/s\\)");
        for (String f : figures) {
            Matcher m = suite.matcher(f);
            if (!m.find()) {
                continue;
            }
            List<String> rates = new ArrayList<>();
            for (String g : figures) {
                Matcher q = race.matcher(g);
                if (q.find() && q.group(1).equals(m.group(1))) {
                    rates.add(q.group(2) + ": " + q.group(3));
                }
            }
            sb.append(String.format("%-6s | %-10s | %-6s | %s%n", m.group(1), m.group(3) + " s", m.group(2), String.join("; ", rates)));
        }
        return sb.toString();
    }

    /** The C adapter, static (the guest has no C library), with the kvm provider's identity and tolerance. */
    private static void stageAdapter(Path stage) throws IOException, InterruptedException {
        Path dir = Files.createDirectories(stage.resolve("tck"));
        List<String> flags = new ArrayList<>(List.of("-static"));
        flags.addAll(dev.stealtime.tck.runner.kvm.KvmProvider.FLAGS);
        exec(NativeAdapterTest.gccX86Adapter(dir.resolve("tck-kvm"), flags.toArray(String[]::new)), null);
    }


    /** This JDK (symlinks resolved) and every shared library its binaries load, at the same paths. */
    private static void stageJdk(Path stage) throws IOException, InterruptedException {
        Path home = Path.of(System.getProperty("java.home")).toRealPath();
        Path jdk = stage.resolve("jdk");
        try (Stream<Path> s = Files.walk(home, java.nio.file.FileVisitOption.FOLLOW_LINKS)) {
            for (Path p : (Iterable<Path>) s::iterator) {
                Path rel = home.relativize(p);
                if (rel.startsWith("jmods") || rel.startsWith("man") || rel.startsWith("demo") || !Files.isRegularFile(p)) {
                    continue;       // not needed to run (and a dangling link, such as Debian's lib/src.zip, has nothing to copy)
                }
                Path dest = jdk.resolve(rel.toString());
                Files.createDirectories(dest.getParent());
                Files.copy(p, dest, java.nio.file.StandardCopyOption.COPY_ATTRIBUTES);
            }
        }
        Set<String> libs = new LinkedHashSet<>();
        List<Path> elves = new ArrayList<>();
        try (Stream<Path> s = Files.walk(stage.resolve("jdk"))) {
            s.filter(p -> p.toString().endsWith(".so") || p.getParent().getFileName().toString().equals("bin"))
                    .filter(Files::isRegularFile).forEach(elves::add);
        }
        Pattern lib = Pattern.compile("(/\\S+)");
        for (Path e : elves) {
            String out = exec(List.of("ldd", e.toString()), "ldd");
            for (String line : out.split("\n")) {
                if (line.contains("not found") || line.contains("linux-vdso")) {
                    continue;
                }
                Matcher m = lib.matcher(line.contains("=>") ? line.substring(line.indexOf("=>")) : line);
                if (m.find() && !m.group(1).startsWith(stage.toString())) {
                    libs.add(m.group(1));
                }
            }
        }
        for (String l : libs) {
            Path dest = stage.resolve(l.substring(1));
            Files.createDirectories(dest.getParent());
            exec(List.of("cp", "-L", l, dest.toString()), null);
        }
        // the dynamic loader also answers at its canonical path
        Path ld = stage.resolve("lib64/ld-linux-x86-64.so.2");
        if (!Files.exists(ld)) {
            Files.createDirectories(ld.getParent());
            exec(List.of("cp", "-L", "/lib64/ld-linux-x86-64.so.2", ld.toString()), null);
        }
    }

    /** This build: the runner jar and its libraries, the classes for the benchmark, the guest script. */
    private static void stageTck(Path stage, int rounds) throws IOException, InterruptedException {
        Path tck = stage.resolve("tck");
        Path target = Path.of("target");
        try (Stream<Path> s = Files.list(target)) {
            Path jar = s.filter(p -> p.getFileName().toString().matches("tck-runner-.*\\.jar")).findFirst()
                    .orElseThrow(() -> new IllegalStateException("no tck-runner jar in target/: run ./tck --version (it builds) first"));
            Files.copy(jar, tck.resolve("tck-runner.jar"));
        }
        for (String d : List.of("lib", "classes", "test-classes")) {
            exec(List.of("cp", "-r", target.resolve(d).toString(), tck.resolve(d).toString()), null);
        }
        Files.writeString(tck.resolve("rounds"), rounds + "\n");
        // the machine's own name resolves without a DNS server (Allure asks for it once per test)
        Files.createDirectories(stage.resolve("etc"));
        Files.writeString(stage.resolve("etc/hosts"), "127.0.0.1\tlocalhost tck-guest\n");
        Path script = Files.createDirectories(stage.resolve("bin")).resolve("tck-kvm");
        try (var in = KvmInGuest.class.getResourceAsStream("kvm-in-guest.sh")) {
            Files.write(script, in.readAllBytes());
        }
        Files.setPosixFilePermissions(script, PosixFilePermissions.fromString("rwxr-xr-x"));
    }

    /** Appends {@code stage} to {@code initrd} as an uncompressed newc archive (Linux unpacks both). */
    private static void appendCpio(Path stage, Path initrd, Path work) throws IOException, InterruptedException {
        Path extra = work.resolve("extra.cpio");
        exec(List.of("bash", "-c", "cd '" + stage + "' && find . | cpio -o -H newc --quiet > '" + extra + "'"), null);
        try (var out = Files.newOutputStream(initrd, java.nio.file.StandardOpenOption.APPEND)) {
            // an uncompressed archive is recognised only at a 4-byte boundary (Linux's unpack_to_rootfs)
            out.write(new byte[(int) ((4 - Files.size(initrd) % 4) % 4)]);
            Files.copy(extra, out);
        }
        Files.delete(extra);
    }

    private static String exec(List<String> cmd, String what) throws IOException, InterruptedException {
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        if (p.waitFor() != 0 && what == null) {
            throw new IllegalStateException(String.join(" ", cmd).substring(0, Math.min(200, String.join(" ", cmd).length()))
                    + " failed: " + out.strip());
        }
        return out;
    }
}

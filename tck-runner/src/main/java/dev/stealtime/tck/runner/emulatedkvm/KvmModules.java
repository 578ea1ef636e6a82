package dev.stealtime.tck.runner.emulatedkvm;

import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.zip.GZIPOutputStream;

/**
 * The KVM modules an emulated x86 machine loads, and how they get there: a second initramfs
 * archive (gzip'd cpio "newc") appended to the prepared one, holding {@code /kvm-modules/NAME.ko},
 * which {@code /init} loads (irqbypass, kvm, then the vendor module of the CPU it runs on). Linux
 * unpacks concatenated archives in order, so the prepared image is never rebuilt for a module
 * under test.
 */
final class KvmModules {

    /** The modules looked for, in load order ({@code /init} loads one of the two vendor modules). */
    static final List<String> NAMES = List.of("irqbypass", "kvm", "kvm-amd", "kvm-intel");

    private KvmModules() {
    }

    /**
     * What the machine loads: each module of {@code underTest} (a {@code --kvm-modules} directory)
     * by name, the rest from the kernel's own ({@code stock}) when the kernel is Debian's (a
     * kernel of one's own gets none of Debian's modules: they would not load into it).
     *
     * @throws IllegalArgumentException when {@code underTest} holds none of the KVM modules
     */
    static Map<String, Module> select(Path underTest, Map<String, Path> stock, boolean debianKernel) {
        Map<String, Module> out = new LinkedHashMap<>();
        boolean any = false;
        for (String name : NAMES) {
            Path mine = underTest == null ? null : underTest.resolve(name + ".ko");
            if (mine != null && Files.isRegularFile(mine)) {
                out.put(name, new Module(mine, "--kvm-modules"));
                any = true;
            } else if (debianKernel && stock.containsKey(name)) {
                out.put(name, new Module(stock.get(name), "Debian"));
            }
        }
        if (underTest != null && !any) {
            throw new IllegalArgumentException("tck.kvm.modules '" + underTest + "' holds none of " + String.join(", ",
                    NAMES.stream().map(n -> n + ".ko").toList()));
        }
        return Collections.unmodifiableMap(out);
    }

    /** One module file and where it came from ({@code --kvm-modules} or {@code Debian}). */
    record Module(Path file, String origin) {
    }

    /** The initramfs: {@code base} followed by an archive of {@code modules}, written to {@code dest} (0600). */
    static void appendTo(Path base, Map<String, Module> modules, Path dest) throws IOException {
        Files.copy(base, dest);
        if (modules.isEmpty()) {
            return;
        }
        try (OutputStream out = new GZIPOutputStream(Files.newOutputStream(dest, java.nio.file.StandardOpenOption.APPEND))) {
            Cpio cpio = new Cpio(out);
            cpio.directory("kvm-modules");
            for (Map.Entry<String, Module> m : modules.entrySet()) {
                cpio.file("kvm-modules/" + m.getKey() + ".ko", Files.readAllBytes(m.getValue().file()));
            }
            cpio.trailer();
        }
    }

    /** A minimal writer of the cpio "newc" format, the one the Linux initramfs unpacker reads. */
    static final class Cpio {
        private final OutputStream out;
        private long written;
        private int ino = 1;

        Cpio(OutputStream out) {
            this.out = out;
        }

        void directory(String name) throws IOException {
            entry(name, 0040755, new byte[0]);
        }

        void file(String name, byte[] data) throws IOException {
            entry(name, 0100644, data);
        }

        void trailer() throws IOException {
            entry("TRAILER!!!", 0, new byte[0]);
        }

        private void entry(String name, int mode, byte[] data) throws IOException {
            byte[] n = (name + "\0").getBytes(StandardCharsets.US_ASCII);
            StringBuilder h = new StringBuilder("070701");
            long[] fields = {mode == 0 ? 0 : ino++, mode, 0, 0, mode == 0 ? 1 : (mode & 0040000) != 0 ? 2 : 1, 0,
                    data.length, 0, 0, 0, 0, n.length, 0};
            for (long f : fields) {
                h.append(String.format("%08x", f));
            }
            write(h.toString().getBytes(StandardCharsets.US_ASCII));
            write(n);
            pad();
            write(data);
            pad();
        }

        private void write(byte[] b) throws IOException {
            out.write(b);
            written += b.length;
        }

        private void pad() throws IOException {
            while (written % 4 != 0) {
                write(new byte[1]);
            }
        }
    }
}

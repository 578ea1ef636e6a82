package dev.stealtime.tck.runner.emulatedkvm;

import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * What an emulated machine boots, as the certificate names it: the kernel image (Debian's, or the
 * one given with {@code --kernel}) and its SHA-256, and the KVM modules it loads with theirs.
 *
 * @param image   the kernel image file
 * @param origin  where it came from ({@code --kernel} or the Debian package)
 * @param sha256  the image's SHA-256
 * @param modules the KVM modules in the machine (x86), by name, in load order (empty when none)
 */
record KernelUnderTest(Path image, String origin, String sha256, Map<String, KvmModules.Module> modules) {

    static KernelUnderTest of(Path image, String origin, Map<String, KvmModules.Module> modules) {
        return new KernelUnderTest(image, origin, sha256(image), modules);
    }

    /** The SHA-256 of a file, hex. */
    static String sha256(Path file) {
        try (InputStream in = Files.newInputStream(file)) {
            MessageDigest d = MessageDigest.getInstance("SHA-256");
            byte[] buf = new byte[1 << 16];
            for (int n; (n = in.read(buf)) > 0; ) {
                d.update(buf, 0, n);
            }
            return HexFormat.of().formatHex(d.digest());
        } catch (IOException e) {
            throw new IllegalStateException("cannot read " + file + ": " + e.getMessage(), e);
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    /** The summary's lines: the image, its hash, each module's hash. */
    Map<String, String> describe() {
        Map<String, String> m = new LinkedHashMap<>();
        m.put("kernel image", image + " (" + origin + ")");
        m.put("kernel image sha256", sha256);
        modules.forEach((name, mod) -> m.put("module " + name + ".ko", sha256(mod.file()) + " (" + mod.origin() + ", " + mod.file() + ")"));
        return m;
    }
}

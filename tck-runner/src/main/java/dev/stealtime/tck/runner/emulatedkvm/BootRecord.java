package dev.stealtime.tck.runner.emulatedkvm;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.Instant;
import java.time.temporal.ChronoUnit;

/**
 * What the last run's boot of the emulated machine gave, kept in the machine image's cache so that
 * {@code tck providers} can say it without booting: "last boot 2026-12-01T21:40Z: 6.1.0-57-cloud-arm64",
 * or the reason it failed, or that nothing is cached yet (the first run fetches the kernel).
 */
final class BootRecord {

    private static final String FILE = "last-boot";

    private BootRecord() {
    }

    static void booted(Guest guest, String kernel) {
        write(guest, "ok " + now() + " " + kernel);
    }

    static void failed(Guest guest, String why) {
        write(guest, "failed " + now() + " " + why.replace('\n', ' '));
    }

    /** One line for {@code tck providers}. */
    static String describe(Guest guest) {
        Path cache = MachineImage.cacheDir(guest);
        String image = Files.isRegularFile(cache.resolve("kernel"))
                ? "machine image cached in " + cache
                : "the first run fetches Debian's " + guest.arch + " cloud kernel and busybox into " + cache
                  + " (about 1 minute) and boots it";
        try {
            String[] f = Files.readString(cache.resolve(FILE)).strip().split(" ", 3);
            if (f.length == 3) {
                return image + "; last boot " + f[1] + (f[0].equals("ok") ? ": " + f[2] : " FAILED: " + f[2]);
            }
        } catch (IOException e) {
            // never booted here
        }
        return image + "; not booted here yet";
    }

    private static String now() {
        return Instant.now().truncatedTo(ChronoUnit.SECONDS).toString();
    }

    private static void write(Guest guest, String line) {
        Path cache = MachineImage.cacheDir(guest);
        try {
            Files.createDirectories(cache);
            Path tmp = Files.createTempFile(cache, FILE, ".tmp");
            Files.writeString(tmp, line + "\n");
            Files.move(tmp, cache.resolve(FILE), StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
        } catch (IOException e) {
            // only a note for listings
        }
    }
}

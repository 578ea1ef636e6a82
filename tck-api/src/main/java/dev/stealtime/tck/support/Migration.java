package dev.stealtime.tck.support;

import dev.stealtime.tck.spi.GuestMemory;
import dev.stealtime.tck.spi.MemoryRegion;

import java.util.Arrays;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The TCK as a VMM moving a vCPU to a new VM (save/restore, or the last step of a live migration),
 * shared by both suites: the architecture's registration is saved on the source (x86: the host MSR
 * path; arm64: {@code GET_DEVICE_ATTR}) and restored on the destination (host MSR set /
 * {@code SET_DEVICE_ATTR}), and guest memory is copied in one of the two {@link Order}s a VMM uses.
 *
 * <p>What is copied: the whole pages the test uses (a VMM copies all of guest RAM; the provider's own
 * {@code [0, 0x10000)} — guest code, stack — is the provider's business on both sides, and the
 * destination was built by the same provider).
 */
public final class Migration {

    private Migration() {
    }

    /** When the destination receives guest memory, relative to the restored registration. */
    public enum Order {
        /** Registration restored first, memory copied after it, then the vCPU runs (QEMU restores devices, then RAM arrives). */
        MEMORY_AFTER_REGISTRATION("registration restored, then memory copied"),
        /** Memory copied first (pre-copy), then the registration restored, then the vCPU runs. */
        MEMORY_BEFORE_REGISTRATION("memory copied, then registration restored");

        public final String label;

        Order(String label) {
            this.label = label;
        }

        /** Restores the destination in this order: {@code restoreRegistration} and {@code copyMemory}, as report steps. */
        public void restore(Runnable restoreRegistration, Runnable copyMemory) {
            if (this == MEMORY_AFTER_REGISTRATION) {
                Evidence.step("destination: restore the registration", restoreRegistration);
                Evidence.step("destination: copy guest memory", copyMemory);
            } else {
                Evidence.step("destination: copy guest memory", copyMemory);
                Evidence.step("destination: restore the registration", restoreRegistration);
            }
        }

        @Override
        public String toString() {
            return label;
        }
    }

    /** The first byte of the page holding {@code gpa}. */
    public static long page(long gpa) {
        return gpa & ~(MemoryRegion.PAGE - 1);
    }

    /** What a VMM copied: the page holding a structure, as the source held it. */
    public record Saved(long page, byte[] bytes) {
        /** Writes the copy into {@code destination}'s guest memory at the same address. */
        public void copyTo(GuestMemory destination) {
            destination.write(page, bytes);
        }

        /** Fails unless {@code source} still holds exactly the copy. */
        public void assertUnchangedIn(GuestMemory source, String since) {
            byte[] now = source.read(page, bytes.length);
            if (!Arrays.equals(now, bytes)) {
                int first = 0;
                while (now[first] == bytes[first]) {
                    first++;
                }
                int from = Math.max(0, (first & ~0x3f) - 0x40);
                int to = Math.min(bytes.length, from + 0xc0);
                assertThat(now).as("the source VM wrote guest memory at 0x%x %s: the VMM's copy is stale (first changed byte 0x%x)%n%s",
                        page + first, since, page + first, HexDump.beforeAfter(page + from, Arrays.copyOfRange(bytes, from, to),
                                Arrays.copyOfRange(now, from, to))).isEqualTo(bytes);
            }
        }
    }

    /** The VMM reads the page holding {@code gpa} from the source. */
    public static Saved save(GuestMemory source, long gpa) {
        long p = page(gpa);
        return new Saved(p, source.read(p, (int) MemoryRegion.PAGE));
    }
}

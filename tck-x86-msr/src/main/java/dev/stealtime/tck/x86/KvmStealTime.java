package dev.stealtime.tck.x86;

import dev.stealtime.tck.spi.X86Vcpu;

import java.time.Duration;

/**
 * The x86 interface as the MSR document (000, docs/sources.md) and Linux KVM define it:
 * <pre>
 *   MSR_KVM_STEAL_TIME 0x4b564d03: bits 63:6 = guest-physical address (64-byte aligned),
 *                                  bits 5:1 reserved (mask 0x3E), bit 0 = enable
 *   struct kvm_steal_time { u64 steal @0; u32 version @8; u32 flags @12; u8 preempted @16;
 *                           u8 pad[3] @17; u32 pad[11] @20 }   64 bytes, little-endian
 *   CPUID 0x40000001 EAX bit 5 = KVM_FEATURE_STEAL_TIME
 * </pre>
 */
public final class KvmStealTime {

    public static final int MSR = X86Vcpu.MSR_KVM_STEAL_TIME;
    public static final long ENABLE = 1L;
    public static final long RESERVED_MASK = 0x3EL;
    /** The reserved bits 5:1 as a 5-bit pattern {@code p}: {@code (long) p << 1}. */
    public static final int RESERVED_PATTERNS = 32;

    public static final int STEAL = 0;
    public static final int VERSION = 8;
    public static final int FLAGS = 12;
    public static final int PREEMPTED = 16;
    /** The padding the rule X86-PAD-UNTOUCHED watches: bytes 20..63. */
    public static final int PAD_FROM = 20;
    public static final int SIZE = 64;

    public static final int CPUID_KVM_SIGNATURE = 0x40000000;
    public static final int CPUID_KVM_FEATURES = 0x40000001;
    public static final int FEATURE_STEAL_TIME_BIT = 5;

    private KvmStealTime() {
    }

    /** The MSR value with reserved-bit pattern {@code p} (0..31) and the enable bit. */
    public static long value(long gpa, int pattern, boolean enable) {
        return gpa | ((long) pattern << 1) | (enable ? ENABLE : 0);
    }

    public static String hex(long v) {
        return "0x" + Long.toHexString(v);
    }

    /** A duration in milliseconds as the messages state it: "3 ms", or "0.250 ms" for a fraction. */
    public static String ms(Duration d) {
        return d.toNanos() % 1_000_000 == 0 ? d.toMillis() + " ms" : String.format("%.3f ms", d.toNanos() / 1e6);
    }

    /** The version as the unsigned number it is. */
    public static String version(int v) {
        return Integer.toUnsignedString(v);
    }
}

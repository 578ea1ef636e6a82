package dev.stealtime.tck.arm64;

import dev.stealtime.tck.spi.Arm64Vcpu;

/**
 * The numbers of the arm64 PV time interface (DEN0057A, Documentation/virt/kvm/arm/pvtime.rst,
 * Documentation/virt/kvm/devices/vcpu.rst), and how the suite names them in messages.
 */
public final class PvTime {

    /**
     * {@code SMCCC_VERSION} (SMC32 fast call): the SMCCC version as {@code major << 16 | minor} in
     * w0, negative when unknown. A guest calls {@code SMCCC_ARCH_FEATURES} only once this says 1.1
     * or later (seed 002: "the SMCCC 1.1 ARCH_FEATURES mechanism").
     */
    public static final int SMCCC_VERSION = 0x80000000;
    /** SMCCC 1.1, the first version with {@code SMCCC_ARCH_FEATURES}. */
    public static final int SMCCC_1_1 = 0x10001;
    /** {@code SMCCC_ARCH_FEATURES}: does the hypervisor implement a function id? */
    public static final int SMCCC_ARCH_FEATURES = 0x80000001;
    /** {@code PV_TIME_FEATURES} (SMC64/HVC64). */
    public static final int PV_TIME_FEATURES = 0xC5000020;
    /** {@code PV_TIME_ST} (SMC64/HVC64): the IPA of the calling vCPU's stolen-time structure. */
    public static final int PV_TIME_ST = 0xC5000021;
    /** The SMC32/HVC32 encodings of the two calls, which "are only available in the SMC64/HVC64 calling convention". */
    public static final int PV_TIME_FEATURES_SMC32 = 0x85000020;
    public static final int PV_TIME_ST_SMC32 = 0x85000021;

    public static final long SUCCESS = 0;
    public static final long NOT_SUPPORTED = -1;

    /** {@code KVM_ARM_VCPU_PVTIME_CTRL} and {@code KVM_ARM_VCPU_PVTIME_IPA}. */
    public static final int PVTIME_CTRL = Arm64Vcpu.PVTIME_CTRL;
    public static final long PVTIME_IPA = Arm64Vcpu.PVTIME_IPA;

    /** What {@code GET_DEVICE_ATTR} returns before an IPA is set (Linux: {@code INVALID_GPA}). */
    public static final long NO_IPA = -1L;

    /** The structure: 64 bytes reserved, 16 meaningful, little-endian. */
    public static final int SIZE = 64;
    public static final int MEANINGFUL = 16;
    public static final int REVISION = 0;
    public static final int ATTRIBUTES = 4;
    public static final int STOLEN_TIME = 8;

    private PvTime() {
    }

    /** "PV_TIME_ST", "SMCCC_ARCH_FEATURES", or the id in hex. */
    public static String functionName(long id) {
        return switch ((int) id) {
            case SMCCC_VERSION -> "SMCCC_VERSION";
            case SMCCC_ARCH_FEATURES -> "SMCCC_ARCH_FEATURES";
            case PV_TIME_FEATURES -> "PV_TIME_FEATURES";
            case PV_TIME_ST -> "PV_TIME_ST";
            case PV_TIME_FEATURES_SMC32 -> "PV_TIME_FEATURES(SMC32 0x85000020)";
            case PV_TIME_ST_SMC32 -> "PV_TIME_ST(SMC32 0x85000021)";
            default -> String.format("0x%08X", id);
        };
    }

    /** "SUCCESS (0)", "NOT_SUPPORTED (-1)", or the value in hex (an IPA). */
    public static String resultName(long x0) {
        if (x0 == SUCCESS) {
            return "SUCCESS (0)";
        }
        if (x0 == NOT_SUPPORTED) {
            return "NOT_SUPPORTED (-1)";
        }
        return String.format("0x%x", x0);
    }

    /** "PVTIME_IPA" or "attr 0xff". */
    public static String attrName(long attr) {
        return attr == PVTIME_IPA ? "PVTIME_IPA" : String.format("attr 0x%x", attr);
    }

    public static String groupName(int group) {
        return group == PVTIME_CTRL ? "PVTIME_CTRL" : "group " + group;
    }

    public static String hex(long value) {
        return value == NO_IPA ? "0xffffffffffffffff (all-ones)" : String.format("0x%x", value);
    }
}

package dev.stealtime.tck.runner.kvm;

import com.sun.jna.Native;
import com.sun.jna.Pointer;

/**
 * The /dev/kvm ABI the provider uses: ioctl request numbers, capability ids, exit reasons and the
 * offsets of the few struct fields it touches (x86-64 layouts from {@code <linux/kvm.h>}; numbers
 * are {@code _IO/_IOR/_IOW/_IOWR(KVMIO = 0xAE, nr, size)}).
 */
final class Kvm {

    private Kvm() {
    }

    static final String DEVICE = "/dev/kvm";
    static final int API_VERSION = 12;

    // --- system ioctls (on the /dev/kvm fd)
    static final long GET_API_VERSION = 0xAE00L;            // _IO(KVMIO, 0x00)
    static final long CREATE_VM = 0xAE01L;                  // _IO(KVMIO, 0x01)
    static final long CHECK_EXTENSION = 0xAE03L;            // _IO(KVMIO, 0x03)
    static final long GET_VCPU_MMAP_SIZE = 0xAE04L;         // _IO(KVMIO, 0x04)
    static final long GET_SUPPORTED_CPUID = 0xC008AE05L;    // _IOWR(KVMIO, 0x05, struct kvm_cpuid2)

    // --- VM ioctls
    static final long CREATE_VCPU = 0xAE41L;                // _IO(KVMIO, 0x41)
    static final long SET_USER_MEMORY_REGION = 0x4020AE46L; // _IOW(KVMIO, 0x46, kvm_userspace_memory_region)
    static final long GET_DIRTY_LOG = 0x4010AE42L;          // _IOW(KVMIO, 0x42, struct kvm_dirty_log)
    /** {@code kvm_userspace_memory_region.flags}: log dirty pages of the slot. */
    static final int MEM_LOG_DIRTY_PAGES = 1;
    static final long SET_TSS_ADDR = 0xAE47L;               // _IO(KVMIO, 0x47)
    static final long CREATE_IRQCHIP = 0xAE60L;             // _IO(KVMIO, 0x60)

    // --- vCPU ioctls
    static final long RUN = 0xAE80L;                        // _IO(KVMIO, 0x80)
    static final long GET_REGS = 0x8090AE81L;               // _IOR(KVMIO, 0x81, struct kvm_regs)
    static final long SET_REGS = 0x4090AE82L;               // _IOW(KVMIO, 0x82, struct kvm_regs)
    static final long GET_SREGS = 0x8138AE83L;              // _IOR(KVMIO, 0x83, struct kvm_sregs)
    static final long SET_SREGS = 0x4138AE84L;              // _IOW(KVMIO, 0x84, struct kvm_sregs)
    static final long GET_MSRS = 0xC008AE88L;               // _IOWR(KVMIO, 0x88, struct kvm_msrs)
    static final long SET_MSRS = 0x4008AE89L;               // _IOW(KVMIO, 0x89, struct kvm_msrs)
    static final long SET_SIGNAL_MASK = 0x4004AE8BL;        // _IOW(KVMIO, 0x8b, struct kvm_signal_mask)
    static final long SET_CPUID2 = 0x4008AE90L;             // _IOW(KVMIO, 0x90, struct kvm_cpuid2)
    static final long SET_MP_STATE = 0x4004AE99L;           // _IOW(KVMIO, 0x99, struct kvm_mp_state)
    static final long ENABLE_CAP = 0x4068AEA3L;             // _IOW(KVMIO, 0xa3, struct kvm_enable_cap)

    // --- capabilities
    static final int CAP_IRQCHIP = 0;
    static final int CAP_SET_TSS_ADDR = 4;
    static final int CAP_ENFORCE_PV_FEATURE_CPUID = 190;

    // --- struct kvm_run (mmap'ed from the vCPU fd)
    static final int RUN_IMMEDIATE_EXIT = 1;   // __u8
    static final int RUN_EXIT_REASON = 8;      // __u32
    static final int RUN_IO_DIRECTION = 32;    // __u8, 1 = out
    static final int RUN_IO_SIZE = 33;         // __u8
    static final int RUN_IO_PORT = 34;         // __u16
    static final int RUN_IO_DATA_OFFSET = 40;  // __u64, from the start of kvm_run
    static final int RUN_HW_REASON = 32;       // fail_entry.hardware_entry_failure_reason / internal.suberror

    static final int EXIT_UNKNOWN = 0;
    static final int EXIT_EXCEPTION = 1;
    static final int EXIT_IO = 2;
    static final int EXIT_DEBUG = 4;
    static final int EXIT_HLT = 5;
    static final int EXIT_MMIO = 6;
    static final int EXIT_SHUTDOWN = 8;
    static final int EXIT_FAIL_ENTRY = 9;
    static final int EXIT_INTR = 10;
    static final int EXIT_INTERNAL_ERROR = 17;
    static final int EXIT_SYSTEM_EVENT = 24;

    // --- struct kvm_regs: 18 __u64 in this order
    static final int REGS_SIZE = 144;
    static final int REG_RAX = 0;
    static final int REG_RBX = 8;
    static final int REG_RCX = 16;
    static final int REG_RDX = 24;
    static final int REG_RSP = 48;
    static final int REG_RIP = 128;
    static final int REG_RFLAGS = 136;

    // --- struct kvm_sregs: cs is the first struct kvm_segment
    static final int SREGS_SIZE = 312;
    static final int SREG_CS_BASE = 0;        // __u64
    static final int SREG_CS_SELECTOR = 12;   // __u16

    // --- struct kvm_userspace_memory_region
    static final int MEMREGION_SIZE = 32;     // slot u32 @0, flags u32 @4, gpa u64 @8, size u64 @16, uaddr u64 @24

    // --- struct kvm_cpuid2 (header) + struct kvm_cpuid_entry2
    static final int CPUID2_HEADER = 8;       // nent u32 @0, padding u32 @4
    static final int CPUID_ENTRY_SIZE = 40;   // function @0, index @4, flags @8, eax @12, ebx @16, ecx @20, edx @24, pad[3]

    // --- struct kvm_msrs (header) + struct kvm_msr_entry
    static final int MSRS_HEADER = 8;         // nmsrs u32 @0, pad u32 @4
    static final int MSR_ENTRY_SIZE = 16;     // index u32 @0, reserved u32 @4, data u64 @8

    // --- struct kvm_enable_cap
    static final int ENABLE_CAP_SIZE = 104;   // cap u32 @0, flags u32 @4, args u64[4] @8, pad[64]

    static final int MP_STATE_RUNNABLE = 0;

    /** ioctl with a struct; throws {@link KvmException} naming {@code what} on failure. */
    static int ioctl(int fd, long request, Pointer arg, String what) {
        int rc = LibC.INSTANCE.ioctl(fd, request, arg);
        if (rc < 0) {
            throw new KvmException(what, Native.getLastError());
        }
        return rc;
    }

    /** ioctl with an integer argument; throws {@link KvmException} naming {@code what} on failure. */
    static int ioctl(int fd, long request, long arg, String what) {
        int rc = LibC.INSTANCE.ioctl(fd, request, arg);
        if (rc < 0) {
            throw new KvmException(what, Native.getLastError());
        }
        return rc;
    }

    static String exitName(int reason) {
        return switch (reason) {
            case EXIT_UNKNOWN -> "KVM_EXIT_UNKNOWN";
            case EXIT_EXCEPTION -> "KVM_EXIT_EXCEPTION";
            case EXIT_IO -> "KVM_EXIT_IO";
            case EXIT_DEBUG -> "KVM_EXIT_DEBUG";
            case EXIT_HLT -> "KVM_EXIT_HLT";
            case EXIT_MMIO -> "KVM_EXIT_MMIO";
            case EXIT_SHUTDOWN -> "KVM_EXIT_SHUTDOWN (triple fault)";
            case EXIT_FAIL_ENTRY -> "KVM_EXIT_FAIL_ENTRY";
            case EXIT_INTR -> "KVM_EXIT_INTR";
            case EXIT_INTERNAL_ERROR -> "KVM_EXIT_INTERNAL_ERROR";
            case EXIT_SYSTEM_EVENT -> "KVM_EXIT_SYSTEM_EVENT";
            default -> "exit reason " + reason;
        };
    }
}

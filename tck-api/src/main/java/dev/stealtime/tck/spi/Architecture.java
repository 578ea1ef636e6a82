package dev.stealtime.tck.spi;

/** The guest architectures the TCK knows. Each has its own steal-time interface. */
public enum Architecture {
    /** x86-64: {@code MSR_KVM_STEAL_TIME} (0x4b564d03) and {@code struct kvm_steal_time}. */
    X86_64,
    /** arm64: PV time "stolen time" (DEN0057A) and the vCPU attribute {@code KVM_ARM_VCPU_PVTIME_IPA}. */
    ARM64
}

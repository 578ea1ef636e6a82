package dev.stealtime.tck.spi;

/** The four registers of a CPUID leaf as the guest sees them. */
public record CpuidResult(int eax, int ebx, int ecx, int edx) {
}

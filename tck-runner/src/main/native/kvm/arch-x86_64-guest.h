/*
 * arch-x86_64-guest.h - the x86 guest program and how the adapter talks to it.
 *
 * A few real-mode (16-bit, CS = DS = SS = 0) instructions in the first 64 KiB of guest RAM, which
 * the TCK leaves to the provider. The adapter starts each request with KVM_SET_REGS (RIP = one of
 * the entry points below, the operands in EAX/EBX/ECX/EDX, the vCPU's own stack) and runs the
 * guest until it reports with an OUT to one of the ports below; KVM_GET_REGS then reads results.
 * Nothing is resumed after a report: the next request sets fresh registers, which also drops
 * KVM's pending completion of that OUT.
 *
 *   0x0000-0x03ff  real-mode interrupt vector table: #GP (13) -> ENTRY_GP, 0..31 -> a stub that
 *                  reports the vector, 32..255 -> the spurious stub (IF stays 0: never expected)
 *   0x1000..       the entry points (offsets from GUEST_CODE)
 *   0x3000-0xf000  one 256-byte stack per vCPU, growing down from 0xf000
 */
#ifndef TCK_ARCH_X86_64_GUEST_H
#define TCK_ARCH_X86_64_GUEST_H

#define GUEST_IVT          0x0000
#define GUEST_CODE         0x1000
#define GUEST_STACK_TOP    0xf000
#define GUEST_STACK_SIZE   0x100
#define GUEST_STACK_FLOOR  0x3000
#define GUEST_END          0x10000      /* first byte the guest program does not use */

/* entry points, offsets from GUEST_CODE */
#define ENTRY_WRMSR        0x00         /* ECX = MSR, EDX:EAX = value */
#define ENTRY_RDMSR        0x10         /* ECX = MSR; result in EDX:EAX */
#define ENTRY_CPUID        0x20         /* EAX = leaf, ECX = subleaf; result in EAX..EDX */
#define ENTRY_BUSY         0x30         /* EBX = iterations per round; a tick report each round */
#define ENTRY_HALT         0x40         /* HLT; with the in-kernel irqchip the thread blocks in KVM_RUN */
#define ENTRY_GP           0x50         /* the #GP handler */
#define ENTRY_EXCEPTIONS   0x60         /* 32 stubs of 8 bytes: report the vector */
#define ENTRY_SPURIOUS     (ENTRY_EXCEPTIONS + 32 * 8)
#define VECTOR_GP          13

/* I/O ports the guest reports through (none is emulated by KVM's in-kernel devices) */
#define PORT_DONE          0x10         /* the entry point's instruction completed */
#define PORT_GP            0x11         /* the #GP handler ran: the instruction faulted */
#define PORT_TICK          0x12         /* the busy loop finished one round */
#define PORT_WOKE          0x13         /* the guest came out of HLT on its own */
#define PORT_EXCEPTION     0x1f         /* any other exception; AL = the vector */

#ifndef __ASSEMBLER__
extern const unsigned char guest_x86_start[], guest_x86_end[];
#endif

#endif

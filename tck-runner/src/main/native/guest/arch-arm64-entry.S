/*
 * arm64 entry: a Linux arm64 Image (Documentation/arch/arm64/booting.rst). The loader jumps to
 * _head at EL2 or EL1 with the MMU off and x0 = guest-physical address of the device tree. We
 * go to EL1 if at EL2, zero .bss, take vCPU 0's stack and call guest_main(dtb); C turns the MMU
 * on (mmu_on) once the page tables are built. A vCPU started by PSCI CPU_ON enters at
 * secondary_entry with x0 = its index (the context id we pass), turns the MMU on with the same
 * tables and calls secondary_main(index).
 *
 * The code is position independent (PC-relative addressing only), so the Image runs wherever the
 * loader puts it: flags say "anywhere".
 */
#include "guest.h"
#define FRAME (34 * 8)                  /* struct regs: x0-x30, elr, spsr, padding */

    .section .text.head, "ax"
    .global _head
_head:
    b primary_entry                     /* code0 */
    .long 0                             /* code1 */
    .quad 0                             /* text_offset */
    .quad _end - _head                  /* image_size: what the loader must leave free (.bss too) */
    .quad 0xa                           /* flags: little endian, 4 KiB pages, placement anywhere */
    .quad 0, 0, 0                       /* reserved */
    .ascii "ARM\x64"                    /* magic */
    .long 0                             /* reserved (PE header offset) */

primary_entry:
    mov x19, x0
    bl drop_to_el1
    adr x1, vectors
    msr vbar_el1, x1
    adrp x1, __bss_start
    add x1, x1, :lo12:__bss_start
    adrp x2, __bss_end
    add x2, x2, :lo12:__bss_end
1:  cmp x1, x2                          /* .bss is 16-byte aligned at both ends */
    b.hs 2f
    stp xzr, xzr, [x1], #16
    b 1b
2:  adrp x1, stacks
    add x1, x1, :lo12:stacks
    add sp, x1, #(1 << STACK_SHIFT)
    mov x0, x19
    bl guest_main
3:  wfi
    b 3b

    .global secondary_entry
secondary_entry:
    mov x19, x0
    bl drop_to_el1
    adr x1, vectors
    msr vbar_el1, x1
    adrp x0, l1_table
    add x0, x0, :lo12:l1_table
    bl mmu_on
    adrp x1, stacks
    add x1, x1, :lo12:stacks
    add x2, x19, #1
    lsl x2, x2, #STACK_SHIFT
    add sp, x1, x2
    mov x0, x19
    bl secondary_main
4:  wfi
    b 4b

/* At EL2 (a loader that starts kernels there): run the rest at EL1, AArch64, with the virtual
   counter unshifted and the physical timer usable. At EL1: nothing to do. Uses x0 only. */
drop_to_el1:
    mrs x0, CurrentEL
    cmp x0, #(2 << 2)
    b.ne 5f
    mov x0, #(1 << 31)                  /* HCR_EL2.RW */
    msr hcr_el2, x0
    mov x0, #3                          /* CNTHCTL_EL2: EL1PCTEN, EL1PCEN */
    msr cnthctl_el2, x0
    msr cntvoff_el2, xzr
    mov x0, #0x3c5                      /* EL1h, D, A, I, F masked */
    msr spsr_el2, x0
    msr elr_el2, x30
    eret
5:  ret

/* mmu_on(level-1 table): 39-bit identity map, 4 KiB granule, tables and memory inner/outer
   write-back cacheable and inner shareable. MAIR attribute 0: Device-nGnRnE, 1: Normal WB.
   Uses no stack (secondary_entry calls it before it has one). */
    .global mmu_on
mmu_on:
    mov x1, #0xff00
    msr mair_el1, x1
    mrs x1, id_aa64mmfr0_el1
    and x1, x1, #7                      /* PARange -> TCR_EL1.IPS */
    mov x2, #0x3519                     /* T0SZ 25, IRGN0 WBWA, ORGN0 WBWA, SH0 inner */
    orr x2, x2, #(1 << 23)              /* EPD1: no TTBR1 walks */
    orr x2, x2, x1, lsl #32
    msr tcr_el1, x2
    msr ttbr0_el1, x0
    isb
    tlbi vmalle1
    dsb nsh
    isb
    mrs x1, sctlr_el1
    orr x1, x1, #(1 << 0)               /* M: MMU */
    orr x1, x1, #(1 << 2)               /* C: data cacheable */
    orr x1, x1, #(1 << 12)              /* I: instructions cacheable */
    bic x1, x1, #(1 << 1)               /* A: no alignment faults */
    msr sctlr_el1, x1
    isb
    ret

/* Exception vectors: every entry saves the registers as struct regs and calls trap(regs, n),
   n the entry's number (0-15: {current EL with SP0, SPx, lower EL 64, 32} x {sync, IRQ, FIQ, SError}). */
    .macro vector n
    .balign 0x80
    sub sp, sp, #FRAME
    stp x0, x1, [sp]
    mov x1, #\n
    b common_trap
    .endm

    .text
    .balign 0x800
vectors:
    .irp n, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15
    vector \n
    .endr

common_trap:
    stp x2, x3, [sp, #16]
    stp x4, x5, [sp, #32]
    stp x6, x7, [sp, #48]
    stp x8, x9, [sp, #64]
    stp x10, x11, [sp, #80]
    stp x12, x13, [sp, #96]
    stp x14, x15, [sp, #112]
    stp x16, x17, [sp, #128]
    stp x18, x19, [sp, #144]
    stp x20, x21, [sp, #160]
    stp x22, x23, [sp, #176]
    stp x24, x25, [sp, #192]
    stp x26, x27, [sp, #208]
    stp x28, x29, [sp, #224]
    mrs x2, elr_el1
    stp x30, x2, [sp, #240]
    mrs x2, spsr_el1
    str x2, [sp, #256]
    mov x0, sp
    bl trap
    ldr x2, [sp, #256]
    msr spsr_el1, x2
    ldp x30, x2, [sp, #240]
    msr elr_el1, x2
    ldp x28, x29, [sp, #224]
    ldp x26, x27, [sp, #208]
    ldp x24, x25, [sp, #192]
    ldp x22, x23, [sp, #176]
    ldp x20, x21, [sp, #160]
    ldp x18, x19, [sp, #144]
    ldp x16, x17, [sp, #128]
    ldp x14, x15, [sp, #112]
    ldp x12, x13, [sp, #96]
    ldp x10, x11, [sp, #80]
    ldp x8, x9, [sp, #64]
    ldp x6, x7, [sp, #48]
    ldp x4, x5, [sp, #32]
    ldp x2, x3, [sp, #16]
    ldp x0, x1, [sp]
    add sp, sp, #FRAME
    eret

    .bss
    .balign 16
    .global stacks
stacks:     .skip MAX_CPUS << STACK_SHIFT   /* vCPU n's is the n-th slice */

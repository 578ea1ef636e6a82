/*
 * guest.h - the guest program every vCPU runs, and how the adapter talks to it.
 *
 * The guest is a few arm64 instructions at EL1 with the MMU off, copied to the start of guest RAM
 * (the TCK leaves [0, 64 KiB) to the provider). It is a command loop. The adapter:
 *   1. loads the operands into x0..x3 with KVM_SET_ONE_REG while the vCPU is stopped;
 *   2. answers the guest's MMIO *read* of GUEST_MMIO_CMD with a GUEST_OP_* code; KVM puts it in
 *      x9 and steps the guest past the load (this is why the guest never has its PC reset after
 *      the first entry: KVM would still owe the completion of the pending MMIO access);
 *   3. waits for the guest's MMIO *write* to one of the report addresses below.
 * The MMIO page GUEST_MMIO lies outside every memory slot the TCK asks for, so each of these
 * accesses exits to userspace as KVM_EXIT_MMIO.
 */
#ifndef TCK_GUEST_H
#define TCK_GUEST_H

#define GUEST_CODE_IPA   0x0           /* start of LOW RAM: the entry point */
#define GUEST_VECTORS    0x800         /* VBAR_EL1: 2 KiB aligned, 16 entries of 0x80 */
#define GUEST_MMIO       0x10000000    /* 256 MiB: no memslot there */

/* MMIO offsets */
#define GUEST_MMIO_CMD       0x00      /* read: the next command (GUEST_OP_*) */
#define GUEST_MMIO_RESULT    0x08      /* write: x0 after an SMCCC call */
#define GUEST_MMIO_TICK      0x10      /* write: one round of the busy loop is done */
#define GUEST_MMIO_WOKE      0x18      /* write: WFI returned */
#define GUEST_MMIO_EXCEPTION 0x20      /* write: ESR_EL1 of an unexpected exception */
#define GUEST_MMIO_BAD_CMD   0x28      /* write: the command code it did not know */

/* commands */
#define GUEST_OP_SMCCC 1               /* HVC #0 with x0..x3, report x0 */
#define GUEST_OP_BUSY  2               /* count x1 down to 0, report a tick */
#define GUEST_OP_WFI   3               /* WFI, report that it woke */

#ifndef __ASSEMBLER__
extern const unsigned char guest_code_start[], guest_code_end[];
extern const unsigned char guest_vector_start[], guest_vector_end[];
#endif

#endif

/*
 * guest.h - the guest program every vCPU runs, and how the adapter talks to it.
 *
 * The guest is a few arm64 instructions at EL1 with the MMU off, copied to the start of guest RAM
 * (the TCK leaves [0, 64 KiB) to the provider). It is a command loop whose only exit is a load
 * from GUEST_MMIO_CMD: an MMIO *read* outside every memory slot, so KVM_EXIT_MMIO. Between
 * requests the vCPU is always stopped there, and each request costs one guest entry:
 *   1. the adapter loads the operands into x0..x3 with KVM_SET_ONE_REG (the vCPU is stopped);
 *   2. it answers the pending read with a GUEST_OP_* code (kvm_run.mmio.data): on KVM_RUN, KVM
 *      puts it in x9 and steps the guest past the load (this is why the PC is never reset after the
 *      first entry: KVM still owes the completion of that access);
 *   3. the guest carries the command out and comes back to the command read: an SMCCC call's x0
 *      is read there with KVM_GET_ONE_REG.
 * Anything unexpected is an MMIO *write* (an unknown command, an exception), which the adapter
 * reports as an error.
 */
#ifndef TCK_GUEST_H
#define TCK_GUEST_H

#define GUEST_CODE_IPA   0x0           /* start of LOW RAM: the entry point */
#define GUEST_VECTORS    0x800         /* VBAR_EL1: 2 KiB aligned, 16 entries of 0x80 */
#define GUEST_MMIO       0x10000000    /* 256 MiB: no memslot there */

/* MMIO offsets */
#define GUEST_MMIO_CMD       0x00      /* read: the next command (GUEST_OP_*) */
#define GUEST_MMIO_EXCEPTION 0x20      /* write: ESR_EL1 of an unexpected exception */
#define GUEST_MMIO_BAD_CMD   0x28      /* write: the command code it did not know */

/* commands */
#define GUEST_OP_SMCCC 1               /* HVC #0 with x0..x3 (the result stays in x0..x3) */
#define GUEST_OP_BUSY  2               /* count x1 down to 0: one tick of busy guest time */
#define GUEST_OP_WFI   3               /* WFI: the vCPU blocks in KVM until an interrupt or a signal */

#ifndef __ASSEMBLER__
extern const unsigned char guest_code_start[], guest_code_end[];
extern const unsigned char guest_vector_start[], guest_vector_end[];
#endif

#endif

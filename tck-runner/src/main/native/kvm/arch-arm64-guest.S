/*
 * guest.S - the guest program (see guest.h). Position independent: it is assembled into the
 * adapter and copied into guest RAM. The symbols are global and hidden so that the C side can take
 * their addresses without GOT tricks.
 */
#include "arch-arm64-guest.h"

	.section .rodata.guest, "a"
	.balign 4

	.global guest_code_start
	.hidden guest_code_start
guest_code_start:
	movz	x20, #(GUEST_MMIO >> 16), lsl #16
next:
	ldr	x9, [x20, #GUEST_MMIO_CMD]          // exit: the adapter supplies the command
	cmp	x9, #GUEST_OP_SMCCC
	b.eq	smccc
	cmp	x9, #GUEST_OP_BUSY
	b.eq	busy
	cmp	x9, #GUEST_OP_WFI
	b.eq	wait
	str	x9, [x20, #GUEST_MMIO_BAD_CMD]
	b	next
smccc:
	hvc	#0                                   // SMCCC: function id in w0, arguments in x1..x3
	b	next                                 // x0 is read at the next command read
busy:
	subs	x1, x1, #1
	b.hi	busy
	b	next
wait:
	wfi
	b	next

	.global guest_code_end
	.hidden guest_code_end
guest_code_end:

/* One exception vector entry, copied into all 16 slots of VBAR_EL1: report ESR_EL1 and stop. */
	.global guest_vector_start
	.hidden guest_vector_start
guest_vector_start:
	movz	x20, #(GUEST_MMIO >> 16), lsl #16
	mrs	x21, esr_el1
	str	x21, [x20, #GUEST_MMIO_EXCEPTION]
1:	b	1b
	.global guest_vector_end
	.hidden guest_vector_end
guest_vector_end:

	.section .note.GNU-stack, "", %progbits

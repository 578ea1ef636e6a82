/*
 * arch-x86_64-guest.S - the x86 guest program (see arch-x86_64-guest.h): real-mode code, copied
 * to GUEST_CODE in guest RAM; each entry point at its fixed offset. Every stub ends in
 * "hlt; jmp back to hlt" as a backstop; the adapter never resumes it after a report.
 */
#include "arch-x86_64-guest.h"

	.section .rodata.guest, "a"
	.code16
	.global guest_x86_start
	.hidden guest_x86_start
guest_x86_start:

	.org guest_x86_start + ENTRY_WRMSR
	wrmsr                           /* MSR[ECX] = EDX:EAX (may #GP) */
	outb	%al, $PORT_DONE
1:	hlt
	jmp	1b

	.org guest_x86_start + ENTRY_RDMSR
	rdmsr                           /* EDX:EAX = MSR[ECX] (may #GP) */
	outb	%al, $PORT_DONE
1:	hlt
	jmp	1b

	.org guest_x86_start + ENTRY_CPUID
	cpuid
	outb	%al, $PORT_DONE
1:	hlt
	jmp	1b

	.org guest_x86_start + ENTRY_BUSY
2:	movl	%ebx, %ecx
3:	decl	%ecx
	jnz	3b
	outb	%al, $PORT_TICK         /* exit to the adapter: it checks the clock */
	jmp	2b

	.org guest_x86_start + ENTRY_HALT
4:	hlt
	outb	%al, $PORT_WOKE         /* only if an interrupt woke us */
	jmp	4b

	.org guest_x86_start + ENTRY_GP
	outb	%al, $PORT_GP           /* real mode pushed FLAGS, CS, IP; never IRET */
1:	hlt
	jmp	1b

	.set	vector, 0
	.rept	32
	.org	guest_x86_start + ENTRY_EXCEPTIONS + vector * 8
	movb	$vector, %al
	outb	%al, $PORT_EXCEPTION
1:	hlt
	jmp	1b
	.set	vector, vector + 1
	.endr

	.org guest_x86_start + ENTRY_SPURIOUS
	movb	$0xff, %al
	outb	%al, $PORT_EXCEPTION
1:	hlt
	jmp	1b

	.global guest_x86_end
	.hidden guest_x86_end
guest_x86_end:
	.code64

	.section .note.GNU-stack, "", %progbits

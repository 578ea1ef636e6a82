/*
 * x86-64 entry: QEMU (and any PVH loader) enters pvh_start in 32-bit protected mode, paging off,
 * %ebx = guest-physical address of struct hvm_start_info. We zero .bss, identity-map the low 4 GiB
 * with 2 MiB pages, switch to long mode and call guest_main(start_info).
 *
 * Also here: the application-processor trampoline (real mode -> long mode, for INIT-SIPI-SIPI)
 * and the interrupt stubs that save the registers and call trap(struct regs *).
 */
#include "guest.h"

/* The PVH entry point, in an ELF note QEMU looks for (XEN_ELFNOTE_PHYS32_ENTRY = 18). QEMU 7.2
   reads the descriptor at the note's name padded to the segment's alignment: keep that at 4. */
    .section .note.pvh, "a", @note
    .balign 4
    .long 4                             /* name size: "Xen\0" */
    .long 8                             /* descriptor size */
    .long 18                            /* XEN_ELFNOTE_PHYS32_ENTRY */
    .asciz "Xen"
    .quad pvh_start

    .section .text.entry, "ax"
    .code32
    .global pvh_start
pvh_start:
    cli
    cld
    mov %ebx, %esi                      /* keep start_info */
    mov $__bss_start, %edi              /* zero .bss (page tables and stacks live there) */
    mov $__bss_end, %ecx
    sub %edi, %ecx
    xor %eax, %eax
    rep stosb
    /* page directories: 2048 entries of 2 MiB (present, writable, large); 3-4 GiB uncached */
    mov $page_dirs, %edi
    mov $0x83, %eax
    mov $2048, %ecx
1:  cmp $0xc0000083, %eax
    jb 2f
    or $0x18, %eax                      /* PCD | PWT: the MMIO hole (local APIC, I/O APIC) */
2:  mov %eax, (%edi)
    add $0x200000, %eax
    and $~0x18, %eax
    add $8, %edi
    loop 1b
    /* the page-directory-pointer table: four page directories; the PML4: that table */
    mov $page_dirs + 3, %eax
    mov $pdpt, %edi
    mov $4, %ecx
3:  mov %eax, (%edi)
    add $4096, %eax
    add $8, %edi
    loop 3b
    movl $pdpt + 3, pml4
    mov $stacks + (1 << STACK_SHIFT), %esp
    call enter_long_mode
    ljmp $0x08, $bsp_long

/* PAE, CR3, EFER.LME, then paging on (32-bit; the GDT with a 64-bit code segment is loaded). */
enter_long_mode:
    lgdt gdt_desc
    mov %cr4, %eax
    or $0x20, %eax                      /* PAE */
    mov %eax, %cr4
    mov $pml4, %eax
    mov %eax, %cr3
    mov $0xc0000080, %ecx               /* EFER */
    rdmsr
    or $0x100, %eax                     /* LME */
    wrmsr
    mov %cr0, %eax
    or $0x80000001, %eax                /* PG | PE */
    mov %eax, %cr0
    ret

    .code64
bsp_long:
    mov $0x10, %ax
    mov %ax, %ds
    mov %ax, %es
    mov %ax, %ss
    mov %ax, %fs
    mov %ax, %gs
    mov $stacks + (1 << STACK_SHIFT), %rsp
    mov %esi, %edi                      /* start_info */
    call guest_main
4:  hlt
    jmp 4b

/* Application processors (after INIT-SIPI-SIPI): arch.c copies ap_trampoline..ap_trampoline_end
   to AP_TRAMPOLINE (0x8000) and sends SIPI vector 0x08, so an AP starts here in real mode with
   CS = 0x0800, IP = 0. */
    .code16
    .global ap_trampoline, ap_trampoline_end
ap_trampoline:
    cli
    cld
    mov %cs, %ax
    mov %ax, %ds
    lgdtl ap_gdt_desc - ap_trampoline
    mov %cr0, %eax
    or $1, %eax                         /* PE */
    mov %eax, %cr0
    ljmpl $0x18, $ap_protected          /* the 32-bit code segment, back in the image */
    .balign 8
ap_gdt_desc:
    .word gdt_end - gdt - 1
    .long gdt
ap_trampoline_end:

    .code32
ap_protected:
    mov $0x10, %ax
    mov %ax, %ds
    mov %ax, %es
    mov %ax, %ss
    mov $ap_boot_stack_top, %esp        /* shared by the APs for one call: ap_lock serialises */
5:  lock btsl $0, ap_lock
    jc 5b
    call enter_long_mode
    ljmp $0x08, $ap_long

    .code64
ap_long:
    mov $0x10, %ax
    mov %ax, %ds
    mov %ax, %es
    mov %ax, %ss
    mov %ax, %fs
    mov %ax, %gs
    mov $1, %eax                        /* this AP's index: the next free one */
    lock xadd %eax, ap_next
    cmp $MAX_CPUS, %eax
    jae 6f
    mov %eax, %edi
    lea 1(%rax), %rax                   /* its stack: stacks[index] */
    shl $STACK_SHIFT, %rax
    add $stacks, %rax
    mov %rax, %rsp
    movl $0, ap_lock                    /* the boot stack is free again */
    call ap_main
6:  movl $0, ap_lock                    /* more vCPUs than MAX_CPUS: park this one */
7:  cli
    hlt
    jmp 7b

/* Interrupt and exception stubs: each pushes an error code (0 where the CPU pushes none) and its
   vector, then common_trap saves the general registers as struct regs and calls trap(). */
    .macro stub vector, has_error
    .balign 16
stub_\vector:
    .if !\has_error
    push $0
    .endif
    push $\vector
    jmp common_trap
    .endm

    .text
    stub 0, 0
    stub 1, 0
    stub 2, 0
    stub 3, 0
    stub 4, 0
    stub 5, 0
    stub 6, 0
    stub 7, 0
    stub 8, 1
    stub 9, 0
    stub 10, 1
    stub 11, 1
    stub 12, 1
    stub 13, 1
    stub 14, 1
    stub 15, 0
    stub 16, 0
    stub 17, 1
    stub 18, 0
    stub 19, 0
    stub 20, 0
    stub 21, 1
    stub 0xef, 0                        /* WAKE_VECTOR: timer and kick */
    stub 0xff, 0                        /* spurious */

common_trap:
    push %rax
    push %rbx
    push %rcx
    push %rdx
    push %rsi
    push %rdi
    push %rbp
    push %r8
    push %r9
    push %r10
    push %r11
    push %r12
    push %r13
    push %r14
    push %r15
    mov %rsp, %rdi
    call trap
    pop %r15
    pop %r14
    pop %r13
    pop %r12
    pop %r11
    pop %r10
    pop %r9
    pop %r8
    pop %rbp
    pop %rdi
    pop %rsi
    pop %rdx
    pop %rcx
    pop %rbx
    pop %rax
    add $16, %rsp                       /* vector and error code */
    iretq

    .section .rodata
    .global trap_stubs
    .balign 8
trap_stubs:                             /* vector, stub address: read by arch.c to fill the IDT */
    .irp v, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,0xef,0xff
    .quad \v, stub_\v
    .endr
    .quad -1, 0

    .balign 8
gdt:
    .quad 0
    .quad 0x00af9a000000ffff            /* 0x08: 64-bit code */
    .quad 0x00cf92000000ffff            /* 0x10: data */
    .quad 0x00cf9a000000ffff            /* 0x18: 32-bit code (the AP trampoline) */
gdt_end:
gdt_desc:
    .word gdt_end - gdt - 1
    .quad gdt

    .data
    .balign 4
ap_next:    .long 1                     /* the index the next AP takes */
ap_lock:    .long 0

    .bss
    .balign 4096
pml4:       .skip 4096
pdpt:       .skip 4096
page_dirs:  .skip 4 * 4096
    .balign 16
    .skip 256
ap_boot_stack_top:
    .balign 16
stacks:     .skip MAX_CPUS << STACK_SHIFT   /* vCPU n's stack: the n-th slice, growing down */

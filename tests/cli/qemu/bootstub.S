/* SPDX-License-Identifier: MIT */
/*
 * bootstub.S - a tiny BIOS replacement for QEMU's "pc" machine that puts every vCPU into
 * 64-bit long mode with register values taken from a per-CPU parameter table, then parks it
 * in a `hlt` loop of a synthetic Windows kernel image. Used by run_qemu.py to make a REAL
 * qemu-system-x86_64 write dumps with live x64 registers.
 *
 * The ROM is 128 KiB, linked at 0xE0000: QEMU maps it at 0xFFFE0000 (reset vector at
 * 0xFFFFFFF0 = ROM offset 0x1FFF0) and aliases it at 0xE0000-0xFFFFF (the "isa-bios" alias,
 * readable while the i440FX PAM registers are at their reset value).
 *
 * Path of every CPU (the BSP comes from the reset vector, the APs from a SIPI with vector
 * 0xE0, i.e. CS=0xE000 IP=0, which is ROM offset 0):
 *   real mode -> 32-bit protected mode -> PAE + the stub's own identity page tables (in ROM,
 *   Accessed/Dirty bits preset so the CPU never tries to write them) -> EFER.LME/NXE/SCE ->
 *   paging -> 64-bit code. The CPU reads its initial APIC ID (CPUID.1:EBX[31:24]).
 *   The BSP (IA32_APIC_BASE.BSP) sends INIT-SIPI-SIPI to all others and waits (bounded) until
 *   each AP has checked in. An AP checks in by sending a fixed IPI with vector 0x20+APIC ID to
 *   the BSP; the BSP polls its own IRR (interrupts stay disabled, so the bits just stay
 *   pending). No guest RAM is written by the stub at any point.
 *   Each CPU then jumps to its own copy of the final sequence (one copy per table slot, all
 *   addressing RIP-relative into its slot, so no register is needed at the end):
 *     CR4, CR0, EFER (optional), CR3 := fixture values -- execution continues because the
 *     fixture identity-maps VA [0, 2 MiB) onto PA [0, 2 MiB), which contains this ROM alias;
 *     lgdt/lidt with the fixture's VAs; DS/ES/FS/GS := fixture selectors (descriptors are read
 *     from the fixture GDT); FS_BASE, GS_BASE, KERNEL_GS_BASE MSRs; 15 GPRs; RSP := the slot's
 *     IRETQ frame (in ROM) and IRETQ, which loads RIP, CS, RFLAGS, RSP and SS from that frame
 *     without writing memory. RIP lands on the fixture's `hlt; jmp $-3` loop.
 *
 * Parameter table (patched by run_qemu.py; all little-endian):
 *   ROM offset 0xC000: header  { char magic[8] "R2DSTUB1"; u32 version 1; u32 ncpus;
 *                               u32 max_cpus; u32 slot_size; u32 slots_offset; u32 pad }
 *   ROM offset 0xD000: slot[APIC ID], SLOT_SIZE bytes each, layout P_* below.
 *
 * If anything faults, the CPU triple-faults; with -no-reboot QEMU then exits, which
 * run_qemu.py reports.
 */

        .set ROM_BASE,      0xE0000
        .set MAX_CPUS,      64
        .set SLOT_SIZE,     0x200
        .set LAPIC,         0xFEE00000
        .set CHECKIN_VEC,   0x20            /* AP with APIC ID n sends vector 0x20 + n */

        /* slot layout */
        .set P_VALID,       0x00            /* u32: 1 = slot in use */
        .set P_APICID,      0x04            /* u32: informational */
        .set P_CR3,         0x08
        .set P_CR0,         0x10
        .set P_CR4,         0x18
        .set P_GDTR,        0x20            /* u16 limit, u64 base (10 bytes) */
        .set P_IDTR,        0x30            /* u16 limit, u64 base (10 bytes) */
        .set P_FS_BASE,     0x40
        .set P_GS_BASE,     0x48
        .set P_KGS_BASE,    0x50
        .set P_DS,          0x58            /* u16 selectors */
        .set P_ES,          0x5A
        .set P_FS,          0x5C
        .set P_GS,          0x5E
        .set P_FLAGS,       0x60            /* bit0 load CR0, bit1 load CR4, bit2 load EFER */
        .set P_IRET,        0x68            /* rip, cs, rflags, rsp, ss */
        .set P_GPR,         0x90            /* rax rbx rcx rdx rsi rdi rbp r8 .. r15 */
        .set P_EFER,        0x108

        .text
        .globl _start
_start:
rom_start:

/* ---------------------------------------------------------------- real mode, CS base 0xE0000 */
        .code16
entry16:
        cli
        cld
        lgdtl   %cs:(stub_gdtr - rom_start)
        movl    %cr0, %eax
        orl     $1, %eax
        movl    %eax, %cr0
        ljmpl   $0x08, $pm32

/* ---------------------------------------------------------------- 32-bit protected mode */
        .code32
pm32:
        movw    $0x10, %ax
        movw    %ax, %ds
        movw    %ax, %es
        movw    %ax, %ss
        movl    %cr4, %eax
        orl     $0x20, %eax                 /* PAE */
        movl    %eax, %cr4
        movl    $pml4, %eax
        movl    %eax, %cr3
        movl    $0xC0000080, %ecx           /* EFER */
        rdmsr
        orl     $0x901, %eax                /* SCE | LME | NXE (fixture PTEs may carry NX) */
        wrmsr
        movl    %cr0, %eax
        orl     $0x80000000, %eax           /* PG */
        movl    %eax, %cr0
        ljmpl   $0x18, $lm64

/* ---------------------------------------------------------------- 64-bit mode */
        .code64
lm64:
        movl    $1, %eax
        cpuid
        shrl    $24, %ebx                   /* rbx = initial APIC ID */
        movl    $LAPIC, %esi                /* rsi = local APIC MMIO (zero-extended) */

        movl    $0x1B, %ecx                 /* IA32_APIC_BASE */
        rdmsr
        testl   $0x100, %eax                /* BSP flag */
        jz      ap_checkin

/* BSP: wake the APs and wait for their check-in IPIs */
        movl    hdr_ncpus(%rip), %r8d
        cmpl    $MAX_CPUS, %r8d
        jbe     1f
        movl    $MAX_CPUS, %r8d
1:
        /* expected IRR bits: vectors 0x20+1 .. 0x20+ncpus-1, i.e. IRR1 (0x210) bits 1..31 and
           IRR2 (0x220) bits 0..31 for APIC IDs 32..63 */
        xorl    %r9d, %r9d                  /* expected IRR1 */
        xorl    %r10d, %r10d                /* expected IRR2 */
        movl    $1, %ecx
2:      cmpl    %r8d, %ecx
        jae     3f
        cmpl    $32, %ecx
        jae     4f
        btsl    %ecx, %r9d
        jmp     5f
4:      movl    %ecx, %eax
        subl    $32, %eax
        btsl    %eax, %r10d
5:      incl    %ecx
        jmp     2b
3:
        cmpl    $1, %r8d
        jbe     bsp_done

        movl    $6, %r11d                   /* rounds of SIPI + wait */
        movl    $0, 0x310(%rsi)             /* ICR high: destination ignored (shorthand) */
        movl    $0x000C4500, 0x300(%rsi)    /* INIT, level assert, all excluding self */
        movl    $200000, %ecx
6:      pause
        decl    %ecx
        jnz     6b
sipi_round:
        movl    $0, 0x310(%rsi)
        movl    $(0x000C4600 | (ROM_BASE >> 12)), 0x300(%rsi)    /* SIPI, vector 0xE0 */
        movl    $20000000, %ecx
7:      movl    0x210(%rsi), %eax
        andl    %r9d, %eax
        cmpl    %r9d, %eax
        jne     8f
        movl    0x220(%rsi), %eax
        andl    %r10d, %eax
        cmpl    %r10d, %eax
        je      bsp_done
8:      pause
        decl    %ecx
        jnz     7b
        decl    %r11d
        jnz     sipi_round                  /* a second SIPI is ignored by CPUs already up */
bsp_done:
        jmp     dispatch

ap_checkin:
        movl    $0, 0x310(%rsi)             /* ICR high: destination APIC ID 0 (the BSP) */
        leal    CHECKIN_VEC(%rbx), %eax
        orl     $0x4000, %eax               /* fixed, physical, level assert */
        movl    %eax, 0x300(%rsi)

dispatch:
        cmpl    $MAX_CPUS, %ebx
        jae     dead
        movl    %ebx, %eax
        shll    $9, %eax                    /* * SLOT_SIZE */
        leaq    slots(%rip), %rdx
        cmpl    $1, P_VALID(%rdx,%rax)
        jne     dead
        movq    final_table(,%rbx,8), %rax
        jmp     *%rax

dead:   cli
        hlt
        jmp     dead

/* ---------------------------------------------------------------- per-slot final sequences */
        .altmacro
        .macro FINAL n
final_\n:
        movq    slots + \n * SLOT_SIZE + P_FLAGS(%rip), %rax
        testl   $2, %eax
        jz      1f
        movq    slots + \n * SLOT_SIZE + P_CR4(%rip), %rcx
        movq    %rcx, %cr4
1:      testl   $1, %eax
        jz      2f
        movq    slots + \n * SLOT_SIZE + P_CR0(%rip), %rcx
        movq    %rcx, %cr0
2:      testl   $4, %eax
        jz      3f
        movl    $0xC0000080, %ecx
        movl    slots + \n * SLOT_SIZE + P_EFER(%rip), %eax
        movl    slots + \n * SLOT_SIZE + P_EFER + 4(%rip), %edx
        wrmsr
3:      movq    slots + \n * SLOT_SIZE + P_CR3(%rip), %rax
        movq    %rax, %cr3                  /* fixture page tables from here on */
        lgdt    slots + \n * SLOT_SIZE + P_GDTR(%rip)
        lidt    slots + \n * SLOT_SIZE + P_IDTR(%rip)
        movw    slots + \n * SLOT_SIZE + P_DS(%rip), %ax
        movw    %ax, %ds
        movw    slots + \n * SLOT_SIZE + P_ES(%rip), %ax
        movw    %ax, %es
        movw    slots + \n * SLOT_SIZE + P_FS(%rip), %ax
        movw    %ax, %fs
        movw    slots + \n * SLOT_SIZE + P_GS(%rip), %ax
        movw    %ax, %gs
        movl    $0xC0000100, %ecx           /* FS_BASE */
        movl    slots + \n * SLOT_SIZE + P_FS_BASE(%rip), %eax
        movl    slots + \n * SLOT_SIZE + P_FS_BASE + 4(%rip), %edx
        wrmsr
        movl    $0xC0000101, %ecx           /* GS_BASE */
        movl    slots + \n * SLOT_SIZE + P_GS_BASE(%rip), %eax
        movl    slots + \n * SLOT_SIZE + P_GS_BASE + 4(%rip), %edx
        wrmsr
        movl    $0xC0000102, %ecx           /* KERNEL_GS_BASE */
        movl    slots + \n * SLOT_SIZE + P_KGS_BASE(%rip), %eax
        movl    slots + \n * SLOT_SIZE + P_KGS_BASE + 4(%rip), %edx
        wrmsr
        movq    slots + \n * SLOT_SIZE + P_GPR + 0x00(%rip), %rax
        movq    slots + \n * SLOT_SIZE + P_GPR + 0x08(%rip), %rbx
        movq    slots + \n * SLOT_SIZE + P_GPR + 0x10(%rip), %rcx
        movq    slots + \n * SLOT_SIZE + P_GPR + 0x18(%rip), %rdx
        movq    slots + \n * SLOT_SIZE + P_GPR + 0x20(%rip), %rsi
        movq    slots + \n * SLOT_SIZE + P_GPR + 0x28(%rip), %rdi
        movq    slots + \n * SLOT_SIZE + P_GPR + 0x30(%rip), %rbp
        movq    slots + \n * SLOT_SIZE + P_GPR + 0x38(%rip), %r8
        movq    slots + \n * SLOT_SIZE + P_GPR + 0x40(%rip), %r9
        movq    slots + \n * SLOT_SIZE + P_GPR + 0x48(%rip), %r10
        movq    slots + \n * SLOT_SIZE + P_GPR + 0x50(%rip), %r11
        movq    slots + \n * SLOT_SIZE + P_GPR + 0x58(%rip), %r12
        movq    slots + \n * SLOT_SIZE + P_GPR + 0x60(%rip), %r13
        movq    slots + \n * SLOT_SIZE + P_GPR + 0x68(%rip), %r14
        movq    slots + \n * SLOT_SIZE + P_GPR + 0x70(%rip), %r15
        leaq    slots + \n * SLOT_SIZE + P_IRET(%rip), %rsp      /* the frame is in ROM: IRETQ only reads it */
        iretq
        .endm

        .set cpu_n, 0
        .rept MAX_CPUS
        FINAL %cpu_n
        .set cpu_n, cpu_n + 1
        .endr

        .macro FINAL_PTR n
        .quad   final_\n
        .endm
        .balign 8
final_table:
        .set cpu_n, 0
        .rept MAX_CPUS
        FINAL_PTR %cpu_n
        .set cpu_n, cpu_n + 1
        .endr
        .noaltmacro

/* ---------------------------------------------------------------- stub GDT */
        .balign 16
stub_gdt:
        .quad   0
        .quad   0x00CF9B000000FFFF          /* 0x08: 32-bit code, flat, accessed */
        .quad   0x00CF93000000FFFF          /* 0x10: data, flat, accessed */
        .quad   0x00209B0000000000          /* 0x18: 64-bit code, accessed */
stub_gdt_end:
stub_gdtr:
        .word   stub_gdt_end - stub_gdt - 1
        .long   stub_gdt

/* ---------------------------------------------------------------- identity page tables (ROM) */
        .org    0x8000
pml4:   .quad   pdpt + 0x23                 /* P | RW | A */
        .fill   511, 8, 0
pdpt:   .quad   pd0 + 0x23                  /* [0, 1 GiB) */
        .quad   0
        .quad   0
        .quad   pd3 + 0x23                  /* [3 GiB, 4 GiB): LAPIC, ROM high alias */
        .fill   508, 8, 0
pd0:    .set a, 0
        .rept   512
        .quad   a + 0xE3                    /* P | RW | A | D | PS (2 MiB) */
        .set a, a + 0x200000
        .endr
pd3:    .set a, 0xC0000000
        .rept   512
        .quad   a + 0xE3
        .set a, a + 0x200000
        .endr

/* ---------------------------------------------------------------- parameter table */
        .org    0xC000
header:
        .ascii  "R2DSTUB1"
        .long   1                           /* version */
hdr_ncpus:
        .long   1                           /* ncpus (patched) */
        .long   MAX_CPUS
        .long   SLOT_SIZE
        .long   slots - rom_start
        .long   0
        .org    0xD000
slots:
        .fill   MAX_CPUS * SLOT_SIZE, 1, 0

/* ---------------------------------------------------------------- reset vector */
        .org    0x1FFF0
        .code16
reset:
        ljmp    $(ROM_BASE >> 4), $0
        .org    0x20000

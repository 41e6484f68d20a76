/* SPDX-License-Identifier: MIT */
/*
 * bootstub32.S - the 32-bit sibling of bootstub.S: a tiny BIOS for QEMU's "pc" machine that puts every
 * vCPU into 32-bit protected mode with paging (non-PAE or PAE, as the fixture's CR4 says) and register
 * values from a per-CPU parameter table, then parks it in the `hlt` loop of a synthetic 32-bit Windows
 * kernel. Used by run_qemu32.py to make a REAL QEMU write dumps (EM_386) of a 32-bit guest.
 *
 * ROM: 128 KiB linked at 0xE0000 (mapped by QEMU at 0xFFFE0000 and aliased at 0xE0000-0xFFFFF). Every CPU
 * (BSP from the reset vector, APs from a SIPI with vector 0xE0) goes real mode -> flat 32-bit protected
 * mode without paging; the BSP wakes the APs with INIT-SIPI-SIPI and waits (bounded) for each AP's check-in
 * IPI (vector 0x20 + APIC ID, left pending in the BSP's IRR: no RAM is written); then each CPU runs its
 * slot's copy of the final sequence, addressing the slot with absolute addresses (flat segments):
 *   EFER (optional: NXE, which PAE entries with bit 63 need), CR4, CR3, CR0 := the fixture's -- paging
 *   starts here; the code keeps running because the fixture identity-maps VA [0, 2 MiB), which holds the
 *   ROM alias; lgdt/lidt with the fixture's VAs; DS/ES/FS/GS := the fixture's selectors (their
 *   descriptors, Accessed bits preset, come from the fixture GDT; FS's base is the KPCR); EFLAGS by popfl
 *   from the slot (the stack pointer briefly points into ROM, which popfl only reads); SS:ESP by lss;
 *   the seven GPRs; and a far jump through the slot to CS:EIP, the fixture's `hlt; jmp $-3`.
 *
 * Parameter table (patched by run_qemu32.py; little-endian):
 *   ROM offset 0xC000: { char magic[8] "R2DSTB32"; u32 version 1; u32 ncpus; u32 max_cpus; u32 slot_size;
 *                        u32 slots_offset; u32 pad }
 *   ROM offset 0xD000: slot[APIC ID], SLOT_SIZE bytes each, layout P_* below.
 * A fault anywhere triple-faults the CPU; with -no-reboot QEMU exits, which run_qemu32.py reports.
 */

        .set ROM_BASE,      0xE0000
        .set MAX_CPUS,      32
        .set SLOT_SIZE,     0x80
        .set SLOT_SHIFT,    7
        .set LAPIC,         0xFEE00000
        .set CHECKIN_VEC,   0x20

        .set P_VALID,       0x00            /* u32: 1 = slot in use */
        .set P_APICID,      0x04
        .set P_CR3,         0x08            /* u32 each */
        .set P_CR0,         0x0C
        .set P_CR4,         0x10
        .set P_EFER,        0x14            /* u64 */
        .set P_FLAGS,       0x1C            /* bit2: write EFER */
        .set P_GDTR,        0x20            /* u16 limit, u32 base */
        .set P_IDTR,        0x28            /* u16 limit, u32 base */
        .set P_DS,          0x30            /* u16 selectors */
        .set P_ES,          0x32
        .set P_FS,          0x34
        .set P_GS,          0x36
        .set P_ESP,         0x38            /* m16:32 for lss: u32 ESP, u16 SS */
        .set P_SS,          0x3C
        .set P_EFLAGS,      0x40
        .set P_JMP,         0x44            /* m16:32 for ljmp: u32 EIP, u16 CS */
        .set P_GPR,         0x4C            /* eax ebx ecx edx esi edi ebp */

        .text
        .globl _start
_start:
rom_start:

        .code16
entry16:
        cli
        cld
        lgdtl   %cs:(stub_gdtr - rom_start)
        movl    %cr0, %eax
        orl     $1, %eax
        movl    %eax, %cr0
        ljmpl   $0x08, $pm32

        .code32
pm32:
        movw    $0x10, %ax
        movw    %ax, %ds
        movw    %ax, %es
        movw    %ax, %ss
        movl    $1, %eax
        cpuid
        shrl    $24, %ebx                   /* ebx = initial APIC ID */
        movl    $LAPIC, %esi
        movl    $0x1B, %ecx                 /* IA32_APIC_BASE */
        rdmsr
        testl   $0x100, %eax                /* BSP */
        jz      ap_checkin

        movl    hdr_ncpus, %edi
        cmpl    $MAX_CPUS, %edi
        jbe     1f
        movl    $MAX_CPUS, %edi
1:      xorl    %ebp, %ebp                  /* expected IRR1 bits: vectors 0x21 .. 0x20 + ncpus - 1 */
        movl    $1, %ecx
2:      cmpl    %edi, %ecx
        jae     3f
        btsl    %ecx, %ebp
        incl    %ecx
        jmp     2b
3:      cmpl    $1, %edi
        jbe     dispatch

        movl    $6, %edx                    /* rounds of SIPI + wait */
        movl    $0, 0x310(%esi)
        movl    $0x000C4500, 0x300(%esi)    /* INIT, level assert, all excluding self */
        movl    $200000, %ecx
4:      pause
        decl    %ecx
        jnz     4b
sipi_round:
        movl    $0, 0x310(%esi)
        movl    $(0x000C4600 | (ROM_BASE >> 12)), 0x300(%esi)    /* SIPI, vector 0xE0 */
        movl    $20000000, %ecx
5:      movl    0x210(%esi), %eax
        andl    %ebp, %eax
        cmpl    %ebp, %eax
        je      dispatch
        pause
        decl    %ecx
        jnz     5b
        decl    %edx
        jnz     sipi_round
        jmp     dispatch

ap_checkin:
        movl    $0, 0x310(%esi)             /* destination: APIC ID 0, the BSP */
        leal    CHECKIN_VEC(%ebx), %eax
        orl     $0x4000, %eax               /* fixed, physical, level assert */
        movl    %eax, 0x300(%esi)

dispatch:
        cmpl    $MAX_CPUS, %ebx
        jae     dead
        movl    %ebx, %eax
        shll    $SLOT_SHIFT, %eax
        cmpl    $1, slots + P_VALID(%eax)
        jne     dead
        jmp     *final_table(,%ebx,4)

dead:   cli
        hlt
        jmp     dead

        .altmacro
        .macro FINAL n
final_\n:
        testl   $4, slots + \n * SLOT_SIZE + P_FLAGS
        jz      1f
        movl    $0xC0000080, %ecx
        movl    slots + \n * SLOT_SIZE + P_EFER, %eax
        movl    slots + \n * SLOT_SIZE + P_EFER + 4, %edx
        wrmsr
1:      movl    slots + \n * SLOT_SIZE + P_CR4, %eax
        movl    %eax, %cr4
        movl    slots + \n * SLOT_SIZE + P_CR3, %eax
        movl    %eax, %cr3
        movl    slots + \n * SLOT_SIZE + P_CR0, %eax
        movl    %eax, %cr0                  /* paging on: the fixture's tables from here */
        jmp     2f
2:      lgdt    slots + \n * SLOT_SIZE + P_GDTR
        lidt    slots + \n * SLOT_SIZE + P_IDTR
        movw    slots + \n * SLOT_SIZE + P_DS, %ax
        movw    %ax, %ds
        movw    slots + \n * SLOT_SIZE + P_ES, %ax
        movw    %ax, %es
        movw    slots + \n * SLOT_SIZE + P_FS, %ax
        movw    %ax, %fs
        movw    slots + \n * SLOT_SIZE + P_GS, %ax
        movw    %ax, %gs
        movl    $(slots + \n * SLOT_SIZE + P_EFLAGS), %esp
        popfl                               /* reads the ROM slot; writes nothing */
        lssl    slots + \n * SLOT_SIZE + P_ESP, %esp
        movl    slots + \n * SLOT_SIZE + P_GPR + 0x04, %ebx
        movl    slots + \n * SLOT_SIZE + P_GPR + 0x08, %ecx
        movl    slots + \n * SLOT_SIZE + P_GPR + 0x0C, %edx
        movl    slots + \n * SLOT_SIZE + P_GPR + 0x10, %esi
        movl    slots + \n * SLOT_SIZE + P_GPR + 0x14, %edi
        movl    slots + \n * SLOT_SIZE + P_GPR + 0x18, %ebp
        movl    slots + \n * SLOT_SIZE + P_GPR + 0x00, %eax
        ljmpl   *slots + \n * SLOT_SIZE + P_JMP
        .endm

        .set cpu_n, 0
        .rept MAX_CPUS
        FINAL %cpu_n
        .set cpu_n, cpu_n + 1
        .endr

        .macro FINAL_PTR n
        .long   final_\n
        .endm
        .balign 4
final_table:
        .set cpu_n, 0
        .rept MAX_CPUS
        FINAL_PTR %cpu_n
        .set cpu_n, cpu_n + 1
        .endr
        .noaltmacro

        .balign 16
stub_gdt:
        .quad   0
        .quad   0x00CF9B000000FFFF          /* 0x08: 32-bit code, flat, accessed */
        .quad   0x00CF93000000FFFF          /* 0x10: data, flat, accessed */
stub_gdt_end:
stub_gdtr:
        .word   stub_gdt_end - stub_gdt - 1
        .long   stub_gdt

        .org    0xC000
header:
        .ascii  "R2DSTB32"
        .long   1
hdr_ncpus:
        .long   1
        .long   MAX_CPUS
        .long   SLOT_SIZE
        .long   slots - rom_start
        .long   0
        .org    0xD000
slots:
        .fill   MAX_CPUS * SLOT_SIZE, 1, 0

        .org    0x1FFF0
        .code16
reset:
        ljmp    $(ROM_BASE >> 4), $0
        .org    0x20000

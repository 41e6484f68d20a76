/* SPDX-License-Identifier: MIT */
/*
 * VMware state files: the cpu group's registers, per vCPU, as the image's CPU states (blocks gpregs, CR64,
 * IDTR or one value per register; segment selectors and bases). Tag names and layouts:
 * docs/formats/vmware.md.
 */
#include <inttypes.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vmware.h"

#define VMW_MAX_VCPUS 4096u /* as many CPU states as an image holds */
#define VMW_GPREGS_SIZE 128 /* gpregs block: 16 x u64 */
#define VMW_CR64_SIZE 72    /* CR64 block: CR0..CR8 as u64 */
#define VMW_IDTR_SIZE 10    /* IDTR block: u16 limit, u64 base */

enum {
    VCPU_GPR = 1u << 0,
    VCPU_RIP = 1u << 1,
    VCPU_CR = 1u << 2,
    VCPU_IDT = 1u << 3,
    VCPU_SEG = 1u << 4,
    VCPU_GSBASE = 1u << 5,
};

struct vmware_vcpu {
    struct r2d_cpu_state st;
    unsigned have;
};

struct vmware_cpus {
    struct vmware_file *f;
    struct vmware_vcpu *v;
    size_t n; /* allocated: highest index seen + 1 */
    int have_num;
    uint64_t num;
    struct vmware_seen seen[12];
    uint32_t other, odd_blocks;
};

static const struct {
    const char *name;
    size_t off;
} vmware_gpr_names[] = {
    {"rax", offsetof(struct r2d_cpu_state, rax)}, {"rcx", offsetof(struct r2d_cpu_state, rcx)},
    {"rdx", offsetof(struct r2d_cpu_state, rdx)}, {"rbx", offsetof(struct r2d_cpu_state, rbx)},
    {"rsp", offsetof(struct r2d_cpu_state, rsp)}, {"rbp", offsetof(struct r2d_cpu_state, rbp)},
    {"rsi", offsetof(struct r2d_cpu_state, rsi)}, {"rdi", offsetof(struct r2d_cpu_state, rdi)},
    {"r8", offsetof(struct r2d_cpu_state, r8)},   {"r9", offsetof(struct r2d_cpu_state, r9)},
    {"r10", offsetof(struct r2d_cpu_state, r10)}, {"r11", offsetof(struct r2d_cpu_state, r11)},
    {"r12", offsetof(struct r2d_cpu_state, r12)}, {"r13", offsetof(struct r2d_cpu_state, r13)},
    {"r14", offsetof(struct r2d_cpu_state, r14)}, {"r15", offsetof(struct r2d_cpu_state, r15)},
};

/* The gpregs block's order (crash's vmware_vmss.h, vmssregs64): RBP comes before RSP. */
static const size_t vmware_gpregs_order[16] = {
    offsetof(struct r2d_cpu_state, rax), offsetof(struct r2d_cpu_state, rcx),
    offsetof(struct r2d_cpu_state, rdx), offsetof(struct r2d_cpu_state, rbx),
    offsetof(struct r2d_cpu_state, rbp), offsetof(struct r2d_cpu_state, rsp),
    offsetof(struct r2d_cpu_state, rsi), offsetof(struct r2d_cpu_state, rdi),
    offsetof(struct r2d_cpu_state, r8),  offsetof(struct r2d_cpu_state, r9),
    offsetof(struct r2d_cpu_state, r10), offsetof(struct r2d_cpu_state, r11),
    offsetof(struct r2d_cpu_state, r12), offsetof(struct r2d_cpu_state, r13),
    offsetof(struct r2d_cpu_state, r14), offsetof(struct r2d_cpu_state, r15),
};

static uint64_t *
vmware_reg(struct r2d_cpu_state *st, size_t off)
{
    return (uint64_t *)(void *)((uint8_t *)st + off);
}

/* Segment index as VMware numbers them (crash's SegmentName): ES CS SS DS FS GS LDTR TR. */
static struct r2d_segment *
vmware_seg(struct r2d_cpu_state *st, uint32_t i)
{
    struct r2d_segment *const segs[8] = {&st->es, &st->cs, &st->ss,  &st->ds,
                                         &st->fs, &st->gs, &st->ldt, &st->tr};

    return i < 8 ? segs[i] : NULL;
}

static void
vmware_set_cr(struct vmware_vcpu *c, uint32_t n, uint64_t v)
{
    if (n == 0)
        c->st.cr0 = v;
    else if (n == 2)
        c->st.cr2 = v;
    else if (n == 3)
        c->st.cr3 = v;
    else if (n == 4)
        c->st.cr4 = v;
    else
        return; /* CR1 does not exist, CR8 is not part of the state we keep */
    c->have |= VCPU_CR;
}

/* A register block: gpregs, CR64 or IDTR, of the size the sources give; anything else is skipped. */
static int
vmware_cpu_block(struct r2d_ctx *ctx, struct vmware_cpus *c, struct vmware_vcpu *v,
                 const struct vmware_tag *t)
{
    uint8_t b[VMW_GPREGS_SIZE];
    const size_t want = strcmp(t->name, "gpregs") == 0 ? VMW_GPREGS_SIZE
                        : strcmp(t->name, "CR64") == 0 ? VMW_CR64_SIZE
                        : strcmp(t->name, "IDTR") == 0 ? VMW_IDTR_SIZE
                                                       : 0;
    int rc;

    if (want == 0 || t->kind != VMW_BLOCK || t->len != want) {
        c->odd_blocks += want != 0;
        c->other += want == 0;
        return 0;
    }
    rc = r2d_image_pread(ctx, c->f->img, t->data_off, b, want, "register block");
    if (rc)
        return rc;
    if (want == VMW_GPREGS_SIZE) {
        for (size_t i = 0; i < 16; i++)
            *vmware_reg(&v->st, vmware_gpregs_order[i]) = r2d_le64(b + 8 * i);
        v->have |= VCPU_GPR;
    } else if (want == VMW_CR64_SIZE) {
        for (uint32_t i = 0; i < 5; i++)
            vmware_set_cr(v, i, r2d_le64(b + 8 * i));
    } else {
        v->st.idt.limit = r2d_le16(b);
        v->st.idt.base = r2d_le64(b + 2);
        v->have |= VCPU_IDT;
    }
    return 0;
}

/* A register given as a value: by name, or a control, IDTR or segment register by its second index. */
static void
vmware_cpu_value(struct vmware_cpus *c, struct vmware_vcpu *v, const struct vmware_tag *t)
{
    const uint64_t x = r2d_vmware_tag_u64(t);
    const uint32_t i1 = t->nindx >= 2 ? t->idx[1] : UINT32_MAX;
    struct r2d_segment *s = vmware_seg(&v->st, i1);

    for (size_t i = 0; i < sizeof(vmware_gpr_names) / sizeof(vmware_gpr_names[0]); i++)
        if (strcmp(t->name, vmware_gpr_names[i].name) == 0) {
            *vmware_reg(&v->st, vmware_gpr_names[i].off) = x;
            v->have |= VCPU_GPR;
            return;
        }
    if (strcmp(t->name, "rip") == 0) {
        v->st.rip = x;
        v->have |= VCPU_RIP;
    } else if (strcmp(t->name, "eflags") == 0 || strcmp(t->name, "EFLAGS") == 0) {
        v->st.rflags |= x & 0xFFFFFFFFu;
    } else if ((strcmp(t->name, "CR64") == 0 || strcmp(t->name, "CR") == 0) && i1 != UINT32_MAX) {
        vmware_set_cr(v, i1, x);
    } else if (strcmp(t->name, "IDTR") == 0 && (i1 == 1 || i1 == 2)) {
        /* The base in two 32-bit halves: index 1 low, index 2 high. */
        v->st.idt.base = i1 == 1 ? (v->st.idt.base & ~0xFFFFFFFFull) | (x & 0xFFFFFFFFu)
                                 : (v->st.idt.base & 0xFFFFFFFFu) | x << 32;
        v->have |= VCPU_IDT;
    } else if (strcmp(t->name, "S") == 0 && s) {
        s->selector = (uint32_t)x;
        v->have |= VCPU_SEG;
    } else if (strcmp(t->name, "S.base64") == 0 && s) {
        s->base = x;
        v->have |= i1 == 5 ? VCPU_GSBASE : 0;
    } else {
        c->other++;
    }
}

static int
vmware_cpu_tag(struct r2d_ctx *ctx, void *arg, const struct vmware_tag *t)
{
    struct vmware_cpus *c = arg;
    int rc;

    r2d_vmware_seen(c->seen, sizeof(c->seen) / sizeof(c->seen[0]), t->name);
    if (strcmp(t->name, "cpu:numVCPUs") == 0 && t->kind == VMW_VALUE) {
        c->have_num = 1;
        c->num = r2d_vmware_tag_u64(t);
        R2D_CHECK(c->num > VMW_MAX_VCPUS, ctx, R2D_EFORMAT,
                  "%s: offset 0x%" PRIx64 ": cpu:numVCPUs is %" PRIu64 " (at most %u supported)", c->f->path,
                  t->off, c->num, VMW_MAX_VCPUS);
        return 0;
    }
    if (t->nindx == 0) {
        c->other++;
        return 0;
    }
    rc = r2d_vmware_grow(ctx, c->f->path, (void **)&c->v, &c->n, sizeof(*c->v), t->idx[0], VMW_MAX_VCPUS,
                         "vCPU");
    if (rc)
        return rc;
    if (t->kind != VMW_VALUE)
        return vmware_cpu_block(ctx, c, &c->v[t->idx[0]], t);
    vmware_cpu_value(c, &c->v[t->idx[0]], t);
    return 0;
}

/* One vCPU as the image keeps it, and its note. */
static int
vmware_add_vcpu(struct r2d_ctx *ctx, struct vmware_file *f, size_t i, struct vmware_vcpu *v)
{
    const uint64_t high = v->st.rip | v->st.rsp | v->st.gs.base;
    char key[48], val[320];
    int rc;

    /*
     * No EFER in any source: a paging, PAE-enabled CPU holding a register above 4 GiB cannot be a 32-bit one,
     * which is as far as "long mode" can be told here.
     */
    if ((v->st.cr0 >> 31 & 1) && (v->st.cr4 >> 5 & 1) && (high >> 32))
        v->st.flags |= R2D_CPU_LONG_MODE;
    snprintf(key, sizeof(key), "vmware.vcpu.%zu", i);
    snprintf(val, sizeof(val),
             "CR3 0x%" PRIx64 ", RIP 0x%" PRIx64 ", RSP 0x%" PRIx64 ", GS base %s0x%" PRIx64
             ", IDT base 0x%" PRIx64 ", CS 0x%" PRIx32 "%s",
             v->st.cr3, v->st.rip, v->st.rsp, v->have & VCPU_GSBASE ? "" : "(not recorded) ", v->st.gs.base,
             v->st.idt.base, v->st.cs.selector, v->st.flags & R2D_CPU_LONG_MODE ? ", long mode" : "");
    rc = i < 64 ? r2d_image_add_note(ctx, f->img, key, val) : 0;
    return rc ? rc : r2d_image_add_cpu(ctx, f->img, &v->st);
}

static int
vmware_cpus_add(struct r2d_ctx *ctx, struct vmware_cpus *c)
{
    struct vmware_file *f = c->f;
    size_t added = 0;
    char v[VMW_NOTE_MAX];
    int rc = 0;

    R2D_CHECK(c->have_num && c->n > c->num, ctx, R2D_EFORMAT,
              "%s: the cpu group holds registers of vCPU %zu but cpu:numVCPUs is %" PRIu64, f->path, c->n - 1,
              c->num);
    for (size_t i = 0; !rc && i < c->n; i++)
        if (c->v[i].have & (VCPU_GPR | VCPU_CR)) {
            rc = vmware_add_vcpu(ctx, f, i, &c->v[i]);
            added++;
        }
    if (rc)
        return rc;
    r2d_vmware_seen_text(c->seen, sizeof(c->seen) / sizeof(c->seen[0]), c->other, v, sizeof(v));
    if (c->odd_blocks)
        snprintf(v + strlen(v), sizeof(v) - strlen(v),
                 "; %" PRIu32 " register block%s of an unknown size skipped", c->odd_blocks,
                 c->odd_blocks == 1 ? "" : "s");
    rc = r2d_image_add_note(ctx, f->img, "vmware.cpu.tags", v);
    snprintf(v, sizeof(v), "%zu with registers; cpu:numVCPUs %s%" PRIu64, added,
             c->have_num ? "" : "absent, ", c->have_num ? c->num : (uint64_t)c->n);
    if (!rc)
        rc = r2d_image_add_note(ctx, f->img, "vmware.vcpus", v);
    if (!rc && added == 0)
        r2d_log(ctx, R2D_LOG_WARN,
                "%s: no vCPU registers in the state file: the page tables and the "
                "kernel are searched for without them",
                f->path);
    return rc;
}

int
r2d_vmware_cpu_group(struct r2d_ctx *ctx, struct vmware_file *f)
{
    struct vmware_group *g = r2d_vmware_group(f, "cpu");
    struct vmware_cpus c = {.f = f,
                            .seen = {{"cpu:numVCPUs", 0},
                                     {"gpregs", 0},
                                     {"rax", 0},
                                     {"rsp", 0},
                                     {"rip", 0},
                                     {"eflags", 0},
                                     {"CR64", 0},
                                     {"CR", 0},
                                     {"IDTR", 0},
                                     {"S", 0},
                                     {"S.base64", 0},
                                     {"EFLAGS", 0}}};
    int rc;

    if (!g)
        return r2d_image_add_note(ctx, f->img, "vmware.vcpus", "no cpu group: no registers");
    rc = r2d_vmware_walk(ctx, f, g, vmware_cpu_tag, &c);
    if (!rc)
        rc = vmware_cpus_add(ctx, &c);
    free(c.v);
    return rc;
}

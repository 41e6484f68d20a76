/* SPDX-License-Identifier: MIT */
/*
 * The VMDESCRIPTION JSON at the end of a QEMU migration stream: it gives every device section's fields and
 * their sizes in the stream, which is the only way to skip a VMState section (they have no length prefix) and
 * to find the registers in the "cpu" sections. Facts: QEMU 7.2 migration/savevm.c
 * (qemu_savevm_state_complete_precopy_non_iterable), migration/vmstate.c (vmsd_desc_field_start/end: one
 * entry per field with its written size, "array_len" for arrays), target/i386/machine.c (vmstate_x86_cpu);
 * checked against real QEMU 7.2 streams. docs/formats/savevm.md.
 */
#include <inttypes.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "savevm_stream.h"

#define VMDESC_MARKER 0x06      /* QEMU_VM_VMDESCRIPTION */
#define VMDESC_SCAN (16u << 20) /* the description is searched in the last 16 MiB */
#define VMDESC_EFER_LMA (UINT64_C(1) << 10)

/*
 * The JSON description QEMU appends after QEMU_VM_EOF: {u8 0x06, be32 len, len bytes of JSON}, ending the
 * file (trailing zero padding tolerated). Found by its exact length from the end, then parsed.
 */
int
r2d_savevm_vmdesc_find(struct r2d_ctx *ctx, const struct r2d_bytesrc *in, uint64_t base, json_t **out,
                       uint64_t *at)
{
    const char *path = r2d_bytesrc_name(in);
    const uint64_t size = r2d_bytesrc_size(in);
    const uint64_t tail = size - base < VMDESC_SCAN ? size - base : VMDESC_SCAN;
    uint8_t *b;
    size_t end;
    json_error_t jerr;
    int rc;

    *out = NULL;
    *at = 0;
    if (tail < 6)
        return 0;
    b = malloc((size_t)tail);
    if (!b)
        return r2d_err(ctx, R2D_ENOMEM, "%s: out of memory for the stream description", path);
    rc = r2d_bytesrc_read(ctx, in, size - tail, b, (size_t)tail, "stream description");
    end = (size_t)tail;
    while (!rc && end > 0 && b[end - 1] == 0)
        end--;
    for (size_t p = end >= 6 ? end - 6 : 0; !rc && end >= 6 && b[end - 1] == '}'; p--) {
        if (b[p] == VMDESC_MARKER && r2d_be32(b + p + 1) == end - p - 5 && b[p + 5] == '{') {
            *out = json_loadb((const char *)b + p + 5, end - p - 5, 0, &jerr);
            if (*out && json_is_array(json_object_get(*out, "devices")))
                *at = size - tail + p;
            else if (*out)
                json_decref(*out), *out = NULL;
            if (*out || !jerr.text[0])
                break;
            r2d_log(ctx, R2D_LOG_WARN, "%s: offset 0x%" PRIx64 ": stream description is not valid JSON (%s)",
                    path, size - tail + p, jerr.text);
            break;
        }
        if (p == 0)
            break;
    }
    free(b);
    return rc;
}

static uint64_t
savevm_vmdesc_u64(const json_t *o, const char *key, uint64_t dflt)
{
    const json_t *v = json_object_get(o, key);

    return json_is_integer(v) && json_integer_value(v) >= 0 ? (uint64_t)json_integer_value(v) : dflt;
}

/* Bytes a field list plus its subsections take in the stream; UINT64_MAX when the description is unusable. */
static uint64_t
savevm_vmdesc_size_at(const json_t *desc, int depth)
{
    const json_t *fields = json_object_get(desc, "fields"), *subs = json_object_get(desc, "subsections"), *f;
    uint64_t total = 0;
    size_t i;

    if (depth > 16 || (fields && !json_is_array(fields)) || (subs && !json_is_array(subs)))
        return UINT64_MAX;
    json_array_foreach(fields, i, f)
    {
        const uint64_t size = savevm_vmdesc_u64(f, "size", UINT64_MAX),
                       n = savevm_vmdesc_u64(f, "array_len", 1);

        if (size == UINT64_MAX || size > (1u << 30) || n > (1u << 30))
            return UINT64_MAX;
        total += size * n;
    }
    json_array_foreach(subs, i, f)
    {
        const json_t *name = json_object_get(f, "vmsd_name");
        const uint64_t body = savevm_vmdesc_size_at(f, depth + 1);

        if (!json_is_string(name) || body == UINT64_MAX)
            return UINT64_MAX;
        total += 1 + 1 + strlen(json_string_value(name)) + 4 + body; /* marker, len, name, version */
    }
    return total;
}

const json_t *
r2d_savevm_vmdesc_device(const json_t *vmdesc, size_t *cursor, const char *idstr, uint32_t instance)
{
    const json_t *devs = json_object_get(vmdesc, "devices");
    const size_t n = json_array_size(devs);

    for (size_t k = 0; k < n; k++) {
        const size_t i = (*cursor + k) % n;
        const json_t *d = json_array_get(devs, i), *name = json_object_get(d, "name");

        if (json_is_string(name) && strcmp(json_string_value(name), idstr) == 0 &&
            savevm_vmdesc_u64(d, "instance_id", UINT64_MAX) == instance) {
            *cursor = i + 1;
            return d;
        }
    }
    return NULL;
}

uint64_t
r2d_savevm_vmdesc_size(const json_t *desc)
{
    return savevm_vmdesc_size_at(desc, 0);
}

/* --- CPU state from a "cpu" section (target/i386/machine.c vmstate_x86_cpu; all fields big-endian) --- */

struct savevm_vmdesc_cpu_fields {
    uint64_t regs, eip, eflags, segs, ldt, tr, gdt, idt, cr0, cr2, cr3, cr4, efer, kgsbase;
    unsigned w; /* bytes of a target_ulong: 8 (qemu-system-x86_64), 4 (qemu-system-i386) */
};

/*
 * The fields' described size and count for a target_ulong of w bytes (VMSTATE_UINTTL): qemu-system-i386
 * saves 8 GPRs of 4 bytes, 4-byte EIP/EFLAGS/CRs, segments of 16 bytes, and neither EFER nor kernelgsbase
 * (x86_64-only fields, observed with Debian's QEMU 7.2). n == 0: absent on that target.
 */
static void
savevm_vmdesc_want(size_t k, unsigned w, uint64_t *size, uint64_t *n)
{
    const uint64_t seg = 12u + w;

    static const uint8_t kind[] = {0, 1, 1, 2, 3, 3, 3, 3, 1, 1, 1, 1, 4, 5};
    switch (kind[k]) {
    case 0: *size = w, *n = w == 8 ? 16 : 8; break;      /* env.regs */
    case 1: *size = w, *n = 1; break;                     /* target_ulong */
    case 2: *size = seg, *n = 6; break;                   /* env.segs */
    case 3: *size = seg, *n = 1; break;                   /* one segment */
    default: *size = 8, *n = w == 8 ? 1 : 0; break;      /* env.efer, env.kernelgsbase: x86_64 only */
    }
}

/* Where the fields we need start inside the section body, checked against their described sizes. */
static const char *
savevm_vmdesc_cpu_layout(const json_t *desc, struct savevm_vmdesc_cpu_fields *o)
{
    static const struct {
        const char *name;
        size_t at;
    } want[] = {
        {"env.regs", offsetof(struct savevm_vmdesc_cpu_fields, regs)},
        {"env.eip", offsetof(struct savevm_vmdesc_cpu_fields, eip)},
        {"env.eflags", offsetof(struct savevm_vmdesc_cpu_fields, eflags)},
        {"env.segs", offsetof(struct savevm_vmdesc_cpu_fields, segs)},
        {"env.ldt", offsetof(struct savevm_vmdesc_cpu_fields, ldt)},
        {"env.tr", offsetof(struct savevm_vmdesc_cpu_fields, tr)},
        {"env.gdt", offsetof(struct savevm_vmdesc_cpu_fields, gdt)},
        {"env.idt", offsetof(struct savevm_vmdesc_cpu_fields, idt)},
        {"env.cr[0]", offsetof(struct savevm_vmdesc_cpu_fields, cr0)},
        {"env.cr[2]", offsetof(struct savevm_vmdesc_cpu_fields, cr2)},
        {"env.cr[3]", offsetof(struct savevm_vmdesc_cpu_fields, cr3)},
        {"env.cr[4]", offsetof(struct savevm_vmdesc_cpu_fields, cr4)},
        {"env.efer", offsetof(struct savevm_vmdesc_cpu_fields, efer)},
        {"env.kernelgsbase", offsetof(struct savevm_vmdesc_cpu_fields, kgsbase)},
    };
    const json_t *fields = json_object_get(desc, "fields"), *f;
    uint64_t at = 0, size, n, want_size, want_n;
    size_t i;

    o->w = 0;
    for (size_t k = 0; k < sizeof(want) / sizeof(want[0]); k++)
        *(uint64_t *)((char *)o + want[k].at) = UINT64_MAX;
    json_array_foreach(fields, i, f)
    {
        const json_t *name = json_object_get(f, "name");

        size = savevm_vmdesc_u64(f, "size", 0);
        n = savevm_vmdesc_u64(f, "array_len", 1);
        /* env.regs comes first and tells the target's word size */
        if (!o->w && json_is_string(name) && strcmp(json_string_value(name), "env.regs") == 0)
            o->w = size == 4 ? 4 : 8;
        for (size_t k = 0; o->w && json_is_string(name) && k < sizeof(want) / sizeof(want[0]); k++) {
            if (strcmp(json_string_value(name), want[k].name) != 0)
                continue;
            savevm_vmdesc_want(k, o->w, &want_size, &want_n);
            if (size != want_size || n != (want_n ? want_n : 1))
                return want[k].name;
            *(uint64_t *)((char *)o + want[k].at) = at;
        }
        at += size * n;
    }
    for (size_t k = 0; k < sizeof(want) / sizeof(want[0]); k++) {
        savevm_vmdesc_want(k, o->w ? o->w : 8, &want_size, &want_n);
        if (*(uint64_t *)((char *)o + want[k].at) == UINT64_MAX && want_n)
            return want[k].name;
    }
    return NULL;
}

/* A big-endian target_ulong of w bytes. */
static uint64_t
savevm_vmdesc_word(const uint8_t *p, unsigned w)
{
    return w == 4 ? r2d_be32(p) : r2d_be64(p);
}

/* vmstate_segment: u32 selector, target_ulong base, u32 limit, u32 flags. */
static void
savevm_vmdesc_segment(struct r2d_segment *seg, const uint8_t *p, unsigned w)
{
    seg->selector = r2d_be32(p);
    seg->base = savevm_vmdesc_word(p + 4, w);
    seg->limit = r2d_be32(p + 4 + w);
    seg->flags = r2d_be32(p + 8 + w);
}

const char *
r2d_savevm_vmdesc_cpu(const json_t *desc, const uint8_t *body, struct r2d_cpu_state *cpu)
{
    /* QEMU's register numbering: EAX ECX EDX EBX ESP EBP ESI EDI, then R8..R15; segments ES CS SS DS FS GS.
     */
    uint64_t *const gpr[16] = {&cpu->rax, &cpu->rcx, &cpu->rdx, &cpu->rbx, &cpu->rsp, &cpu->rbp,
                               &cpu->rsi, &cpu->rdi, &cpu->r8,  &cpu->r9,  &cpu->r10, &cpu->r11,
                               &cpu->r12, &cpu->r13, &cpu->r14, &cpu->r15};
    struct r2d_segment *const seg[6] = {&cpu->es, &cpu->cs, &cpu->ss, &cpu->ds, &cpu->fs, &cpu->gs};
    struct savevm_vmdesc_cpu_fields f;
    const char *missing = savevm_vmdesc_cpu_layout(desc, &f);

    memset(cpu, 0, sizeof(*cpu));
    if (missing)
        return missing;
    for (unsigned i = 0; i < (f.w == 8 ? 16u : 8u); i++)
        *gpr[i] = savevm_vmdesc_word(body + f.regs + f.w * i, f.w);
    for (unsigned i = 0; i < 6; i++)
        savevm_vmdesc_segment(seg[i], body + f.segs + (12 + f.w) * i, f.w);
    savevm_vmdesc_segment(&cpu->ldt, body + f.ldt, f.w);
    savevm_vmdesc_segment(&cpu->tr, body + f.tr, f.w);
    savevm_vmdesc_segment(&cpu->gdt, body + f.gdt, f.w);
    savevm_vmdesc_segment(&cpu->idt, body + f.idt, f.w);
    cpu->rip = savevm_vmdesc_word(body + f.eip, f.w);
    cpu->rflags = savevm_vmdesc_word(body + f.eflags, f.w);
    cpu->cr0 = savevm_vmdesc_word(body + f.cr0, f.w);
    cpu->cr2 = savevm_vmdesc_word(body + f.cr2, f.w);
    cpu->cr3 = savevm_vmdesc_word(body + f.cr3, f.w);
    cpu->cr4 = savevm_vmdesc_word(body + f.cr4, f.w);
    if (f.kgsbase != UINT64_MAX) {
        cpu->kernel_gs_base = r2d_be64(body + f.kgsbase);
        cpu->flags = R2D_CPU_HAVE_KGSBASE;
    }
    if (f.efer != UINT64_MAX && (r2d_be64(body + f.efer) & VMDESC_EFER_LMA))
        cpu->flags |= R2D_CPU_LONG_MODE;
    return NULL;
}

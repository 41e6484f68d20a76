/* SPDX-License-Identifier: MIT */
/*
 * PE parsing over virtual memory: just what identifies a kernel image and its PDB. A 64-bit guest's kernel
 * is a PE32+ for AMD64, a 32-bit guest's a PE32 for i386: the optional headers differ in size before the data
 * directories (0x70 against 0x60 bytes), the rest is shared.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "pe.h"
#include "bytes.h"

#define PE_MZ 0x5a4d
#define PE_E_LFANEW 0x3c
#define PE_MAX_LFANEW 0x800
#define PE_SIG 0x00004550
#define PE_MACHINE_AMD64 0x8664
#define PE_MACHINE_I386 0x14c
#define PE_MAGIC_PE32PLUS 0x20b
#define PE_MAGIC_PE32 0x10b
#define PE_COFF_NSECTIONS 0x06  /* from the PE signature */
#define PE_COFF_TIMESTAMP 0x08
#define PE_COFF_OPTSIZE 0x14
#define PE_OPT 0x18
#define PE_OPT_SIZE_OF_IMAGE 0x38
#define PE_OPT_NUM_DIRS 0x6c
#define PE_OPT_DIRS 0x70
#define PE32_OPT_NUM_DIRS 0x5c
#define PE32_OPT_DIRS 0x60
#define PE_DIR_EXPORT 0
#define PE_DIR_DEBUG 6
#define PE_DEBUG_ENTRY 28
#define PE_DEBUG_TYPE_CODEVIEW 2
#define PE_MAX_DEBUG_ENTRIES 32
#define PE_RSDS 0x53445352
#define PE_RSDS_NAME 0x18
#define PE_SECTION_SIZE 40

int
r2d_pe_is_kernel_pdb(const char *name)
{
    static const char *const kernels[] = {"ntkrnlmp.pdb", "ntoskrnl.pdb", "ntkrnlpa.pdb", "ntkrpamp.pdb",
                                          "ntkrnlup.pdb", "ntkrla57.pdb"};

    for (size_t i = 0; i < sizeof(kernels) / sizeof(kernels[0]); i++)
        if (strcasecmp(name, kernels[i]) == 0)
            return 1;
    return 0;
}

/* The CodeView record: RSDS, GUID, age, NUL-terminated name possibly with a path. */
static void
pe_read_rsds(const struct r2d_mmu *mmu, struct r2d_pe *pe, uint32_t rva, uint32_t size)
{
    uint8_t rec[PE_RSDS_NAME + 255];
    const char *name, *slash;
    size_t n = size < sizeof(rec) ? size : sizeof(rec);

    if (size < PE_RSDS_NAME + 2 || r2d_mmu_read(mmu, pe->base + rva, rec, n) || r2d_le32(rec) != PE_RSDS)
        return;
    rec[n - 1] = 0;
    memcpy(pe->pdb.guid, rec + 4, 16);
    pe->pdb.age = r2d_le32(rec + 0x14);
    name = (const char *)rec + PE_RSDS_NAME;
    for (slash = name; *slash; slash++)
        if (*slash == '\\' || *slash == '/')
            name = slash + 1;
    snprintf(pe->pdb.name, sizeof(pe->pdb.name), "%s", name);
    pe->have_rsds = 1;
}

static void
pe_read_debug_dir(const struct r2d_mmu *mmu, struct r2d_pe *pe, uint32_t rva, uint32_t size)
{
    const uint32_t count = size / PE_DEBUG_ENTRY;

    /* Walk every entry: the CodeView record need not be the first (elf2dmp read only the first). */
    for (uint32_t i = 0; i < count && i < PE_MAX_DEBUG_ENTRIES && !pe->have_rsds; i++) {
        uint8_t e[PE_DEBUG_ENTRY];

        if (r2d_mmu_read(mmu, pe->base + rva + i * PE_DEBUG_ENTRY, e, sizeof(e)))
            return;
        if (r2d_le32(e + 0x0c) == PE_DEBUG_TYPE_CODEVIEW && r2d_le32(e + 0x14) != 0)
            pe_read_rsds(mmu, pe, r2d_le32(e + 0x14), r2d_le32(e + 0x10));
    }
}

static void
pe_read_export_name(const struct r2d_mmu *mmu, struct r2d_pe *pe, uint32_t rva, uint32_t size)
{
    uint8_t dir[0x28];
    char name[sizeof(pe->export_name)];

    if (size < sizeof(dir) || r2d_mmu_read(mmu, pe->base + rva, dir, sizeof(dir)))
        return;
    /* Read the name byte by byte up to its page end at most: the string may sit at a page's tail. */
    for (size_t i = 0; i < sizeof(name) - 1; i++) {
        if (r2d_mmu_read(mmu, pe->base + r2d_le32(dir + 0x0c) + i, &name[i], 1))
            return;
        if (name[i] == 0)
            break;
        name[i + 1] = 0;
    }
    name[sizeof(name) - 1] = 0;
    snprintf(pe->export_name, sizeof(pe->export_name), "%s", name);
}

int
r2d_pe_parse(const struct r2d_mmu *mmu, uint64_t base, struct r2d_pe *pe)
{
    uint8_t hdr[R2D_PAGE_SIZE];
    uint32_t lfanew, ndirs, opt_size;
    size_t sec_off;
    /* The guest's pointer size says which kind of image its kernel is. */
    const int pe32 = r2d_mmu_pointer_size(mmu) == 4;
    const uint16_t want_machine = pe32 ? PE_MACHINE_I386 : PE_MACHINE_AMD64;
    const size_t dirs_off = pe32 ? PE32_OPT_DIRS : PE_OPT_DIRS;
    int rc;

    memset(pe, 0, sizeof(*pe));
    pe->base = base;
    rc = r2d_mmu_read(mmu, base, hdr, sizeof(hdr));
    if (rc)
        return rc;
    R2D_CHECK(r2d_le16(hdr) != PE_MZ, mmu->ctx, R2D_EFORMAT, "0x%016" PRIx64 ": no MZ signature", base);
    lfanew = r2d_le32(hdr + PE_E_LFANEW);
    R2D_CHECK(lfanew > PE_MAX_LFANEW || lfanew + PE_OPT + dirs_off > sizeof(hdr), mmu->ctx, R2D_EFORMAT,
              "0x%016" PRIx64 ": e_lfanew 0x%" PRIx32 " is implausible", base, lfanew);
    R2D_CHECK(r2d_le32(hdr + lfanew) != PE_SIG, mmu->ctx, R2D_EFORMAT, "0x%016" PRIx64 ": no PE signature",
              base);
    pe->machine = r2d_le16(hdr + lfanew + 4);
    R2D_CHECK(pe->machine != want_machine, mmu->ctx, R2D_EFORMAT, "0x%016" PRIx64 ": PE machine 0x%x is not %s",
              base, pe->machine, pe32 ? "i386 (0x14c)" : "AMD64 (0x8664)");
    R2D_CHECK(r2d_le16(hdr + lfanew + PE_OPT) != (pe32 ? PE_MAGIC_PE32 : PE_MAGIC_PE32PLUS), mmu->ctx,
              R2D_EFORMAT, "0x%016" PRIx64 ": not a %s optional header", base, pe32 ? "PE32" : "PE32+");
    pe->timestamp = r2d_le32(hdr + lfanew + PE_COFF_TIMESTAMP);
    pe->size_of_image = r2d_le32(hdr + lfanew + PE_OPT + PE_OPT_SIZE_OF_IMAGE);
    opt_size = r2d_le16(hdr + lfanew + PE_COFF_OPTSIZE);
    ndirs = r2d_le32(hdr + lfanew + PE_OPT + (pe32 ? PE32_OPT_NUM_DIRS : PE_OPT_NUM_DIRS));

    sec_off = (size_t)lfanew + PE_OPT + opt_size;
    pe->nsections = r2d_le16(hdr + lfanew + PE_COFF_NSECTIONS);
    if (pe->nsections > R2D_PE_MAX_SECTIONS)
        pe->nsections = R2D_PE_MAX_SECTIONS;
    for (unsigned i = 0; i < pe->nsections; i++) {
        const size_t off = sec_off + (size_t)i * PE_SECTION_SIZE;

        if (off + PE_SECTION_SIZE > sizeof(hdr)) {
            pe->nsections = i;
            break;
        }
        memcpy(pe->sections[i].name, hdr + off, 8);
        pe->sections[i].name[8] = 0;
        pe->sections[i].vsize = r2d_le32(hdr + off + 8);
        pe->sections[i].va = r2d_le32(hdr + off + 12);
    }
    /* The directories must lie inside the optional header the COFF header declares, and inside the page. */
    if (ndirs > PE_DIR_DEBUG && dirs_off + 8 * (PE_DIR_DEBUG + 1) <= opt_size &&
        lfanew + PE_OPT + dirs_off + 8 * (PE_DIR_DEBUG + 1) <= sizeof(hdr)) {
        const uint8_t *d = hdr + lfanew + PE_OPT + dirs_off;

        pe_read_export_name(mmu, pe, r2d_le32(d + 8 * PE_DIR_EXPORT), r2d_le32(d + 8 * PE_DIR_EXPORT + 4));
        pe_read_debug_dir(mmu, pe, r2d_le32(d + 8 * PE_DIR_DEBUG), r2d_le32(d + 8 * PE_DIR_DEBUG + 4));
    }
    return 0;
}

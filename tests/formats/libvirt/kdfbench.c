/* SPDX-License-Identifier: MIT */
/*
 * kdfbench: read every page of a kdump file with libkdumpfile (an independent reader), for the comparison
 * and the timing in docs/formats/kdump.md. Pages are found through libkdumpfile's own page map
 * (file.pagemap), so absent pages cost nothing; each present page is one kdump_read. Optionally writes the
 * pages it read at their physical addresses into RAW (sparse) and prints "run 0x<pa> 0x<length>" lines.
 *
 *   kdfbench DUMP [RAW]   prints: pages read, pages absent, seconds, MiB/s; exit 0, or 99 on an error
 */
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <time.h>
#include <unistd.h>

#include <libkdumpfile/kdumpfile.h>

#define PAGE 4096u

int
main(int argc, char **argv)
{
    static unsigned char buf[PAGE];
    kdump_ctx_t *k = kdump_new();
    kdump_num_t max_pfn = 0;
    uint64_t got = 0, absent = 0, run_start = 0, run_len = 0;
    struct timespec t0, t1;
    kdump_attr_t attr;
    int fd, out = -1;
    double s;

    if (argc < 2 || argc > 3 || !k)
        return fprintf(stderr, "usage: kdfbench DUMP [RAW]\n"), 2;
    fd = open(argv[1], O_RDONLY);
    if (fd < 0 || (argc == 3 && (out = open(argv[2], O_WRONLY | O_CREAT | O_TRUNC, 0644)) < 0))
        return perror("kdfbench"), 99;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    if (kdump_open_fd(k, fd) != KDUMP_OK || kdump_get_number_attr(k, "max_pfn", &max_pfn) != KDUMP_OK)
        return fprintf(stderr, "kdfbench: %s\n", kdump_get_err(k)), 99;
    attr.type = KDUMP_BITMAP;
    if (kdump_get_typed_attr(k, KDUMP_ATTR_FILE_PAGEMAP, &attr) != KDUMP_OK)
        return fprintf(stderr, "kdfbench: %s\n", kdump_get_err(k)), 99;
    kdump_bmp_incref(
        attr.val.bitmap); /* hold it across the reads (kdump_get_typed_attr gives no reference) */
    for (kdump_addr_t pfn = 0; pfn < max_pfn; pfn++) {
        size_t len = PAGE;
        kdump_addr_t next = pfn;
        kdump_status st;

        if (kdump_bmp_find_set(attr.val.bitmap, &next) != KDUMP_OK || next >= max_pfn)
            next = max_pfn;
        if (next != pfn) {
            absent += next - pfn;
            if (run_len && out >= 0)
                printf("run 0x%" PRIx64 " 0x%" PRIx64 "\n", run_start * PAGE, run_len * PAGE);
            run_len = 0;
            pfn = next - 1;
            continue;
        }
        st = kdump_read(k, KDUMP_MACHPHYSADDR, pfn * PAGE, buf, &len);
        if (st != KDUMP_OK || len != PAGE)
            return fprintf(stderr, "kdfbench: pfn 0x%" PRIx64 ": %s\n", (uint64_t)pfn, kdump_get_err(k)), 99;
        if (!run_len)
            run_start = pfn;
        run_len++;
        got++;
        if (out >= 0 && pwrite(out, buf, PAGE, (off_t)(pfn * PAGE)) != PAGE)
            return perror("kdfbench"), 99;
    }
    if (run_len && out >= 0)
        printf("run 0x%" PRIx64 " 0x%" PRIx64 "\n", run_start * PAGE, run_len * PAGE);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    s = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
    if (out < 0)
        printf("%" PRIu64 " pages read, %" PRIu64 " absent, %.3f s, %.1f MiB/s\n", got, absent, s,
               s > 0 ? (double)got * PAGE / (1 << 20) / s : 0.0);
    /*
     * No kdump_free(): with MALLOC_PERTURB_ set (meson test sets it) libkdumpfile 0.5.1 crashes inside
     * kdump_free() after the page map was used (observed, SIGSEGV); the process exits anyway.
     */
    close(fd);
    return 0;
}

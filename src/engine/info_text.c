/* SPDX-License-Identifier: MIT */
/*
 * --info as text. The summary reads the description and removes each value it shows from a copy; with -v
 * the copy, what is left of it, follows as a tree. So no value is printed twice, and nothing is lost.
 */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "diag.h"
#include "info_text.h"
#include "raw2dmp/convert.h"

#define IT_LABEL 12                                   /* width of the label column */
#define IT_FILETIME_1970 UINT64_C(116444736000000000) /* 100 ns intervals from 1601 to 1970 */
#define IT_TICKS_PER_S UINT64_C(10000000)

struct it {
    const json_t *info; /* the description */
    json_t *rest;       /* a copy: each value the summary shows is removed from it */
    FILE *out;
};

/*
 * The value at path ("input/notes/dump.rip", array indexes as numbers), NULL if absent; with remove, taken
 * out of rest (an array element is never taken whole: its other fields are detail).
 */
static const json_t *
it_walk(struct it *t, const char *path, int remove)
{
    const json_t *v = t->info;
    json_t *r = t->rest;

    for (const char *p = path; v;) {
        const size_t len = strcspn(p, "/");
        char key[256];

        snprintf(key, sizeof(key), "%.*s", (int)len, p);
        if (json_is_array(v)) {
            v = json_array_get(v, strtoul(key, NULL, 10));
            r = json_array_get(r, strtoul(key, NULL, 10));
        } else {
            v = json_object_get(v, key);
            if (!p[len] && remove)
                json_object_del(r, key);
            r = json_object_get(r, key);
        }
        if (!p[len])
            return v;
        p += len + 1;
    }
    return NULL;
}

static const json_t *
it_take(struct it *t, const char *path)
{
    return it_walk(t, path, 1);
}

static const char *
it_str(struct it *t, const char *path)
{
    return json_string_value(it_take(t, path));
}

/* A number written as an integer or as a "0x..." string. Returns 1 when there is one. */
static int it_value(const json_t *v, uint64_t *out);

static int
it_u64(struct it *t, const char *path, uint64_t *out)
{
    return it_value(it_take(t, path), out);
}

static void it_line(struct it *t, const char *label, const char *fmt, ...) R2D_PRINTF(3, 4);

static void
it_line(struct it *t, const char *label, const char *fmt, ...)
{
    va_list ap;

    fprintf(t->out, "%-*s ", IT_LABEL - 1, label);
    va_start(ap, fmt);
    vfprintf(t->out, fmt, ap);
    va_end(ap);
    fputc('\n', t->out);
}

static void
it_size(uint64_t bytes, char *out, size_t n)
{
    if (bytes >= (UINT64_C(1) << 30))
        snprintf(out, n, "%.1f GiB", (double)bytes / (double)(UINT64_C(1) << 30));
    else if (bytes >= (UINT64_C(1) << 20))
        snprintf(out, n, "%.1f MiB", (double)bytes / (double)(UINT64_C(1) << 20));
    else
        snprintf(out, n, "%.1f KiB", (double)bytes / 1024.0);
}

/* A FILETIME (100 ns since 1601, UTC) as a date. */
static void
it_filetime(uint64_t ft, char *out, size_t n)
{
    const time_t s = (time_t)((ft - IT_FILETIME_1970) / IT_TICKS_PER_S);
    struct tm tm;

    if (ft < IT_FILETIME_1970 || !gmtime_r(&s, &tm) || !strftime(out, n, "%Y-%m-%d %H:%M:%S UTC", &tm))
        snprintf(out, n, "0x%" PRIx64 " (not a date after 1970)", ft);
}

/* A duration in 100 ns ticks as days and hours (minutes and seconds when shorter). */
static void
it_duration(uint64_t ticks, char *out, size_t n)
{
    const uint64_t s = ticks / IT_TICKS_PER_S;

    if (s >= 86400)
        snprintf(out, n, "%" PRIu64 " d %" PRIu64 " h", s / 86400, s % 86400 / 3600);
    else if (s >= 3600)
        snprintf(out, n, "%" PRIu64 " h %" PRIu64 " min", s / 3600, s % 3600 / 60);
    else
        snprintf(out, n, "%" PRIu64 " min %" PRIu64 " s", s / 60, s % 60);
}

static int
it_value(const json_t *v, uint64_t *out)
{
    if (json_is_integer(v))
        *out = (uint64_t)json_integer_value(v);
    else if (json_is_string(v))
        *out = strtoull(json_string_value(v), NULL, 0);
    else
        return 0;
    return 1;
}

/* Remove path from rest when it holds want: the same value, shown under another name. */
static void
it_drop_same(struct it *t, const char *path, uint64_t want)
{
    uint64_t got;

    if (it_value(it_walk(t, path, 0), &got) && got == want)
        it_take(t, path);
}

static int
it_is_dump(const struct it *t)
{
    return json_object_get(t->info, "dump_kdbg") != NULL ||
           json_object_get(json_object_get(json_object_get(t->info, "input"), "notes"), "dump.dump_type");
}

/* A hibernation file's own facts (formats/hiberfil.c notes): what a user checks before trusting a conversion. */
static void
it_hiber(struct it *t)
{
    const char *sig = it_str(t, "input/notes/hiber.signature");

    if (!sig)
        return;
    it_line(t, "Hibernation", "signature %s; %s", sig, it_str(t, "input/notes/hiber.layout"));
    it_line(t, "", "%s", it_str(t, "input/notes/hiber.windows"));
    it_line(t, "", "pages: %s", it_str(t, "input/notes/hiber.pages"));
    it_line(t, "", "compression: %s", it_str(t, "input/notes/hiber.compression"));
    it_line(t, "", "processor state: %s", it_str(t, "input/notes/hiber.cpu_state"));
}

/* An AFF4 volume: its memory map and stream, WinPmem's recorded registers (the notes stay for -v). */
static void
it_aff4(struct it *t)
{
    const char *mem = json_string_value(it_walk(t, "input/notes/aff4.memory", 0));
    const char *stream = json_string_value(it_walk(t, "input/notes/aff4.stream0", 0));
    const char *cr3 = json_string_value(it_walk(t, "input/notes/aff4.cr3", 0));
    const char *base = json_string_value(it_walk(t, "input/notes/aff4.kernel_base", 0));

    if (!mem)
        return;
    it_line(t, "AFF4", "%s", mem);
    if (stream)
        it_line(t, "", "%s", stream);
    if (cr3 || base)
        it_line(t, "", "WinPmem recorded CR3 %s, kernel base %s", cr3 ? cr3 : "(none)", base ? base : "(none)");
}

/* The hashes the format stores of its own data (an AFF4 volume's aff4:hash): each, and whether it matched. */
static void
it_format_digests(struct it *t)
{
    const size_t n = json_array_size(json_object_get(json_object_get(t->info, "input"), "format_digests"));

    for (size_t i = 0; i < n; i++) {
        const char *f[7] = {"object", "statement", "algorithm", "stored", "state", "checked", "note"};
        const char *v[7];
        char key[64];

        for (size_t k = 0; k < 7; k++) {
            snprintf(key, sizeof(key), "input/format_digests/%zu/%s", i, f[k]);
            v[k] = it_str(t, key);
        }
        it_line(t, i == 0 ? "Stored hash" : "", "%s %s of <%s> (%s)", v[2] ? v[2] : "?", v[3] ? v[3] : "?",
                v[0] ? v[0] : "?", v[1] ? v[1] : "?");
        it_line(t, "", "  %s%s%s%s%s", v[4] ? v[4] : "?", v[5] ? " by " : "", v[5] ? v[5] : "",
                v[6] ? ": " : "", v[6] ? v[6] : "");
    }
}

/* A split image's segments, in order: every file the conversion reads (one file needs no line). */
static void
it_files(struct it *t)
{
    const json_t *files = json_object_get(json_object_get(t->info, "input"), "files");
    const size_t n = json_array_size(files);
    char key[64], size[32];

    if (n < 2) {
        if (n == 1) {
            it_take(t, "input/files/0/path");
            it_take(t, "input/files/0/size");
        }
        return;
    }
    for (size_t i = 0; i < n; i++) {
        const char *path;
        uint64_t bytes = 0;

        snprintf(key, sizeof(key), "input/files/%zu/path", i);
        path = it_str(t, key);
        snprintf(key, sizeof(key), "input/files/%zu/size", i);
        it_u64(t, key, &bytes);
        it_size(bytes, size, sizeof(size));
        it_line(t, i == 0 ? "Files" : "", "%zu/%zu: %s (%s, %" PRIu64 " bytes)", i + 1, n, path ? path : "?",
                size, bytes);
    }
}

static void
it_input(struct it *t)
{
    const char *path = it_str(t, "input/path"), *format = it_str(t, "input/format");
    const char *reason = it_str(t, "input/format_reason");
    char size[32], auto_prefix[80];
    uint64_t bytes = 0;

    it_u64(t, "input/size", &bytes);
    it_take(t, "input/sha256"); /* --info hashes nothing */
    it_size(bytes, size, sizeof(size));
    it_line(t, "Input", "%s (%s, %" PRIu64 " bytes)", path ? path : "?", size, bytes);
    it_drop_same(t, "input/notes/dump.required_dump_space", bytes);
    snprintf(auto_prefix, sizeof(auto_prefix), "auto: %s ", format ? format : "");
    if (reason && strncmp(reason, auto_prefix, strlen(auto_prefix)) == 0)
        it_line(t, "Format", "%s, detected %s", format, reason + strlen(auto_prefix));
    else
        it_line(t, "Format", "%s, %s", format ? format : "?", reason ? reason : "");
    it_hiber(t);
    it_files(t);
    /* Evidence containers around the format: the whole stack, outermost first ("zstd -> lime"). */
    if (json_array_size(json_object_get(json_object_get(t->info, "input"), "containers")) > 0)
        it_line(t, "Containers", "stack: %s", it_str(t, "input/stack"));
    else
        it_take(t, "input/stack");
    it_aff4(t);
    it_format_digests(t);
}

static void
it_os(struct it *t)
{
    const char *name = it_str(t, "os/name"), *product = it_str(t, "os/product");
    uint64_t build = 0, major = 0, minor = 0, type = 0, machine = 0;
    const int dump = it_is_dump(t);

    if (!name) {
        if (json_object_get(t->info, "analysis_error"))
            it_line(t, "OS", "unknown (KUSER_SHARED_DATA not reached)");
        return;
    }
    it_u64(t, "os/build", &build);
    it_u64(t, "os/nt_major", &major);
    it_u64(t, "os/nt_minor", &minor);
    it_u64(t, "os/product_type", &type);
    it_drop_same(t, "analysis/version/build", build);
    it_drop_same(t, dump ? "input/notes/dump.minor_version" : "plan/header/minor_version", build);
    it_drop_same(t, dump ? "input/notes/dump.product_type" : "plan/header/product_type", type);
    if (it_u64(t, "analysis/version/machine", &machine))
        it_drop_same(t, dump ? "input/notes/dump.machine_image_type" : "plan/header/machine_image_type",
                     machine);
    it_line(t, "OS", "%s build %" PRIu64 " (%s), NT %" PRIu64 ".%" PRIu64 "%s", name, build, product, major,
            minor, machine == 0x8664 ? ", x64" : machine == 0x14c ? ", x86" : "");
}

/* "x86 PAE", "x86" or "x64 4-level", and why: the registers' bits or the discovery test that found it. */
static void
it_paging(struct it *t)
{
    const char *mode = it_str(t, "analysis/paging/mode"), *how = it_str(t, "analysis/paging/how");
    const char *colon = how ? strstr(how, ": ") : NULL;
    uint64_t ptr = 0;

    if (!mode)
        return;
    it_u64(t, "analysis/paging/pointer_size", &ptr);
    it_line(t, "Paging", "%s, %" PRIu64 "-bit pointers; %s", mode, ptr * 8, colon ? colon + 2 : how ? how : "");
}

static void
it_kernel(struct it *t)
{
    const char *base = it_str(t, "analysis/kernel/base");
    const char *exp = it_str(t, "analysis/kernel/export_name"), *pdb = it_str(t, "analysis/kernel/pdb_name");
    const char *guid = it_str(t, "analysis/kernel/pdb_guid");
    uint64_t age = 0;

    if (!base)
        return;
    it_u64(t, "analysis/kernel/pdb_age", &age);
    it_line(t, "Kernel", "%s at %s; PDB %s, GUID %s, age %" PRIu64, exp && *exp ? exp : "(no export name)",
            base, pdb ? pdb : "?", guid ? guid : "?", age);
}

static void
it_symbols(struct it *t)
{
    const char *origin = it_str(t, "analysis/symbols/origin"), *kind = it_str(t, "analysis/symbols/kind");
    const char *url = it_str(t, "symbols_needed/url"), *isf = it_str(t, "symbols_needed/isf");

    it_take(t, "analysis/symbols/how"); /* the origin and the ids again */
    it_take(t, "symbols_needed/pdb_name");
    it_take(t, "symbols_needed/key");
    if (origin) {
        it_line(t, "Symbols", "%s (%s)", origin,
                kind && !strcmp(kind, "isf") ? "Volatility 3 symbol table" : "PDB");
    } else if (url) {
        it_line(t, "Symbols", "missing; on a machine with network access fetch");
        it_line(t, "", "%s", url);
        it_line(t, "", "and give it with --pdb FILE (or put it in a symbol store on --symbol-path);");
        it_line(t, "", "a Volatility 3 table %s serves with --symbols", isf ? isf : "");
    }
}

/* The header's value (a dump's, or the plan's) when there is one, else the one read from memory. */
static int
it_time_value(struct it *t, const char *header, const char *memory, uint64_t *v)
{
    if (it_u64(t, header, v)) {
        it_drop_same(t, memory, *v);
        return 1;
    }
    return it_u64(t, memory, v);
}

static void
it_time(struct it *t)
{
    const int dump = it_is_dump(t);
    uint64_t now = 0, up = 0;
    char date[64], dur[64];
    const int have_time = it_time_value(t, dump ? "input/notes/dump.system_time" : "plan/header/system_time",
                                        "os/system_time", &now);
    const int have_up = it_time_value(
        t, dump ? "input/notes/dump.system_uptime" : "plan/header/system_uptime", "os/system_uptime", &up);

    if (!have_time && !have_up)
        return;
    if (now)
        it_filetime(now, date, sizeof(date));
    else
        snprintf(date, sizeof(date), "not recorded");
    it_duration(up, dur, sizeof(dur));
    it_line(t, "System time", "%s; up %s", date, up ? dur : "(uptime not recorded)");
}

/* "CPU 0 is processor 1, CPU 1 is processor 0": the vCPUs of the input matched to Windows processors. */
static void
it_cpu_matches(struct it *t, char *buf, size_t n)
{
    const json_t *m = json_object_get(json_object_get(t->info, "analysis"), "cpu_matches");
    size_t len = 0;

    for (size_t i = 0; i < json_array_size(m) && len < n; i++) {
        char path[96];
        uint64_t cpu = i, proc;
        const json_t *p;

        snprintf(path, sizeof(path), "analysis/cpu_matches/%zu/cpu", i);
        it_u64(t, path, &cpu);
        snprintf(path, sizeof(path), "analysis/cpu_matches/%zu/processor", i);
        p = it_take(t, path);
        proc = json_is_integer(p) ? (uint64_t)json_integer_value(p) : 0;
        if (json_is_integer(p))
            len += (size_t)snprintf(buf + len, n - len, "%sCPU %" PRIu64 " is processor %" PRIu64, i ? ", " : "",
                                    cpu, proc);
        else
            len += (size_t)snprintf(buf + len, n - len, "%sCPU %" PRIu64 " matches no processor", i ? ", " : "",
                                    cpu);
    }
}

static void
it_processors(struct it *t)
{
    char matches[1024] = "";
    uint64_t n = 0;
    const char *fact = it_str(t, "plan/facts/contexts");

    if (!it_u64(t, "analysis/processors", &n))
        return;
    it_drop_same(t, "plan/header/number_processors", n);
    it_cpu_matches(t, matches, sizeof(matches));
    if (fact)
        it_line(t, "Processors", "%" PRIu64 "; %s", n, fact);
    else if (matches[0])
        it_line(t, "Processors", "%" PRIu64 "; %s", n, matches);
    else
        it_line(t, "Processors", "%" PRIu64, n);
}

/* A dump's processors: the header's count, the kernel's, and which have a CONTEXT where WinDbg reads it. */
static void
it_dump_processors(struct it *t)
{
    const json_t *list = json_object_get(json_object_get(t->info, "dump_processors"), "contexts");
    uint64_t hdr = 0, kernel = 0, rip = 0, rsp = 0, ptr = 0;
    char present[512] = "", other[512] = "";
    const int x86 = it_u64(t, "analysis/paging/pointer_size", &ptr) && ptr == 4;

    it_u64(t, "input/notes/dump.number_processors", &hdr);
    if (it_u64(t, "dump_processors/kernel", &kernel))
        it_drop_same(t, "analysis/processors", kernel);
    for (size_t i = 0; i < json_array_size(list); i++) {
        char path[96], *buf;
        const char *state;
        uint64_t j = i;

        snprintf(path, sizeof(path), "dump_processors/contexts/%zu/processor", i);
        it_u64(t, path, &j);
        snprintf(path, sizeof(path), "dump_processors/contexts/%zu/context", i);
        state = it_str(t, path);
        buf = state && !strcmp(state, "present") ? present : other;
        snprintf(buf + strlen(buf), 512 - strlen(buf), "%s%" PRIu64 "%s%s%s", buf[0] ? ", " : "", j,
                 buf == other ? " (" : "", buf == other && state ? state : "", buf == other ? ")" : "");
    }
    it_line(t, "Processors", "%" PRIu64 " in the header, %" PRIu64 " by KeNumberProcessors", hdr, kernel);
    if (present[0] || other[0])
        it_line(t, "", "CONTEXT at KPRCB.Context: %s%s%s%s", present[0] ? "present for " : "", present,
                present[0] && other[0] ? "; missing for "
                : other[0]             ? "missing for "
                                       : "",
                other);
    if (it_u64(t, "input/cpus/0/rip", &rip) && it_u64(t, "input/cpus/0/rsp", &rsp)) {
        it_drop_same(t, "input/notes/dump.rip", rip);
        it_drop_same(t, "input/notes/dump.rsp", rsp);
        it_line(t, "", "header CONTEXT: %s 0x%" PRIx64 ", %s 0x%" PRIx64, x86 ? "EIP" : "RIP", rip,
                x86 ? "ESP" : "RSP", rsp);
    } else {
        it_line(t, "", "header CONTEXT: none (ContextFlags has no %s bit)", x86 ? "i386" : "AMD64");
    }
}

static void
it_ram(struct it *t)
{
    const json_t *plan = json_object_get(t->info, "plan");
    char size[32];
    uint64_t pages = 0, runs = 0, bytes = 0;

    if (it_is_dump(t)) {
        it_u64(t, "input/notes/dump.header_pages", &pages);
        it_u64(t, "input/notes/dump.header_runs", &runs);
        it_drop_same(t, "input/bytes_in_runs", pages * 4096);
    } else if (plan) {
        it_u64(t, "plan/pages", &pages);
        runs = json_array_size(json_object_get(plan, "ranges"));
        it_drop_same(t, "input/bytes_in_runs", pages * 4096);
    } else {
        it_u64(t, "input/bytes_in_runs", &bytes);
        runs = json_array_size(json_object_get(json_object_get(t->info, "input"), "runs"));
        it_size(bytes, size, sizeof(size));
        it_line(t, "RAM", "%s in %" PRIu64 " run%s of the input", size, runs, runs == 1 ? "" : "s");
        return;
    }
    it_size(pages * 4096, size, sizeof(size));
    it_line(t, "RAM", "%s in %" PRIu64 " run%s (%" PRIu64 " pages)", size, runs, runs == 1 ? "" : "s", pages);
}

/* KDBG differences, one line each: the fields a tampered block changed. */
static void
it_kdbg_diffs(struct it *t)
{
    const json_t *d = json_object_get(json_object_get(t->info, "kdbg_verification"), "differences");

    for (size_t i = 0; i < json_array_size(d); i++) {
        const json_t *e = json_array_get(d, i);

        it_line(t, "", "  %s (+%s): image %s, symbols %s", json_string_value(json_object_get(e, "field")),
                json_string_value(json_object_get(e, "offset")),
                json_string_value(json_object_get(e, "image")),
                json_string_value(json_object_get(e, "symbols")));
    }
    it_take(t, "kdbg_verification/differences");
}

static void
it_kdbg(struct it *t)
{
    const char *va = it_str(t, "analysis/kdbg/va"), *mode = it_str(t, "analysis/kdbg/mode");
    const char *result = it_str(t, "kdbg_verification/result"), *error = it_str(t, "kdbg_verification/error");
    const json_t *dk = json_object_get(t->info, "dump_kdbg");
    const size_t ndiff =
        json_array_size(json_object_get(json_object_get(t->info, "kdbg_verification"), "differences"));
    char state[160], check[160];

    if (!va)
        return;
    it_take(t, "plan/header/kdbg_va");
    it_take(t, "input/notes/dump.kdbg_va");
    it_take(t, "dump_kdbg/va");
    snprintf(state, sizeof(state), "%s",
             !mode                      ? "?"
             : !strcmp(mode, "plain")   ? "plain (tag KDBG)"
             : !strcmp(mode, "decoded") ? "encoded (Windows 8+), decoded for the dump"
             : !strcmp(mode, "rebuilt") ? "rebuilt from the symbols"
                                        : mode);
    if (dk && !json_is_true(json_object_get(dk, "readable")))
        snprintf(state, sizeof(state), "NOT readable where the header points: WinDbg will not find it");
    else if (dk && !json_is_true(json_object_get(dk, "owner_tag_ok")))
        snprintf(state, sizeof(state), "encoded in the dump: WinDbg will not find it");
    if (!result)
        snprintf(check, sizeof(check), "not compared with the symbols");
    else if (!strcmp(result, "matches"))
        snprintf(check, sizeof(check), "matches the symbols");
    else if (!strcmp(result, "differs"))
        snprintf(check, sizeof(check), "TAMPERED? %zu field%s differ%s from the symbols:", ndiff,
                 ndiff == 1 ? "" : "s", ndiff == 1 ? "s" : "");
    else
        snprintf(check, sizeof(check), "not verifiable: %.120s", error ? error : result);
    it_line(t, "KDBG", "%s: %s; %s", va, state, check);
    it_kdbg_diffs(t);
}

/* "KDBG decoded x2, processor 0 CONTEXT": the patches by reason, in order of first appearance. */
static void
it_patch_reasons(struct it *t, const json_t *patches, char *buf, size_t n)
{
    size_t len = 0;

    for (size_t i = 0; i < json_array_size(patches) && len < n; i++) {
        const char *r = json_string_value(json_object_get(json_array_get(patches, i), "reason"));
        size_t count = 0, seen = 0;

        for (size_t j = 0; j < json_array_size(patches); j++) {
            const char *o = json_string_value(json_object_get(json_array_get(patches, j), "reason"));

            if (r && o && !strcmp(r, o)) {
                seen += j < i;
                count++;
            }
        }
        if (seen || !r)
            continue;
        len += (size_t)snprintf(buf + len, n - len, "%s%s", len ? ", " : "", r);
        if (count > 1 && len < n)
            len += (size_t)snprintf(buf + len, n - len, " x%zu", count);
    }
}

static void
it_bugcheck(uint64_t code, char *out, size_t n)
{
    const char *name = r2d_bugcheck_name((uint32_t)code);

    snprintf(out, n, "0x%" PRIX64 "%s%s%s", code, name ? " (" : "", name ? name : "", name ? ")" : "");
}

static void
it_conversion(struct it *t)
{
    const json_t *patches = json_object_get(json_object_get(t->info, "plan"), "patches");
    char reasons[1024] = "", bug[96];
    uint64_t type = 0, code = 0;

    if (!it_u64(t, "plan/dump_type", &type))
        return;
    it_u64(t, "plan/header/bugcheck_code", &code);
    it_bugcheck(code, bug, sizeof(bug));
    it_line(t, "Conversion", "%s dump (DumpType %" PRIu64 "), bug check %s", type == 1 ? "full" : "bitmap",
            type, bug);
    it_patch_reasons(t, patches, reasons, sizeof(reasons));
    for (size_t i = 0; i < json_array_size(patches); i++) {
        char path[64];

        snprintf(path, sizeof(path), "plan/patches/%zu/reason", i);
        it_take(t, path);
    }
    if (json_array_size(patches))
        it_line(t, "", "%zu patch%s: %s", json_array_size(patches), json_array_size(patches) == 1 ? "" : "es",
                reasons);
    else
        it_line(t, "", "no patches: the image's bytes as they are");
}

static void
it_dump(struct it *t)
{
    const char *comment = it_str(t, "input/notes/dump.comment");
    uint64_t type = 0, code = 0;
    char bug[96];

    it_u64(t, "input/notes/dump.dump_type", &type);
    it_u64(t, "input/notes/dump.bugcheck_code", &code);
    it_bugcheck(code, bug, sizeof(bug));
    it_line(t, "Dump", "%s dump (DumpType %" PRIu64 "), bug check %s",
            type == 1   ? "full"
            : type == 5 ? "bitmap"
                        : "a",
            type, bug);
    if (comment && *comment)
        it_line(t, "", "comment: %s", comment);
}

static void
it_warnings(struct it *t)
{
    const json_t *w = it_take(t, "plan/warnings");
    const char *stopped = it_str(t, "analysis_stopped_at"),
               *error = it_walk(t, "analysis_error", 0) ? "" : NULL;

    for (size_t i = 0; i < json_array_size(w); i++)
        it_line(t, i ? "" : "Warnings", "%s", json_string_value(json_array_get(w, i)));
    (void)error; /* the CLI's warning says it; -v and --json keep it */
    if (stopped)
        it_line(t, "Stopped", "at the %s: the description is incomplete (see the warning)", stopped);
}

/* Drop what is empty once the summary took its values, so the detail shows no bare headings. */
static void
it_prune(json_t *v)
{
    const char *key;
    json_t *e;
    void *tmp;

    json_object_foreach_safe(v, tmp, key, e)
    {
        it_prune(e);
        if ((json_is_object(e) && json_object_size(e) == 0) || (json_is_array(e) && json_array_size(e) == 0))
            json_object_del(v, key);
    }
    for (size_t i = 0; json_is_array(v) && i < json_array_size(v); i++)
        it_prune(json_array_get(v, i));
}

/* A scalar as text; FILETIMEs (keys ending in system_time, system_uptime) as a date and a duration. */
static void
it_scalar(const char *key, const json_t *v, char *buf, size_t n)
{
    const size_t klen = strlen(key);
    uint64_t x;

    if (json_is_string(v) && klen >= 11 && !strcmp(key + klen - 11, "system_time") && it_value(v, &x))
        it_filetime(x, buf, n);
    else if (json_is_string(v) && klen >= 13 && !strcmp(key + klen - 13, "system_uptime") && it_value(v, &x))
        it_duration(x, buf, n);
    else if (json_is_string(v) && strlen(json_string_value(v)) > 200)
        snprintf(buf, n, "(%zu characters; see --json)", strlen(json_string_value(v)));
    else if (json_is_string(v))
        snprintf(buf, n, "%s", json_string_value(v));
    else if (json_is_integer(v))
        snprintf(buf, n, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
    else if (json_is_boolean(v))
        snprintf(buf, n, "%s", json_is_true(v) ? "yes" : "no");
    else
        snprintf(buf, n, "-");
}

static void it_tree(FILE *out, int indent, const char *key, const json_t *v);

/* An array element that is an object goes on one line: run, CPU and patch tables stay readable. */
static void
it_tree_row(FILE *out, int indent, size_t i, const json_t *e)
{
    const char *k;
    json_t *f;
    char buf[256];

    fprintf(out, "%*s[%zu]", indent, "", i);
    json_object_foreach((json_t *)e, k, f)
    {
        if (json_is_object(f) || json_is_array(f))
            continue;
        it_scalar(k, f, buf, sizeof(buf));
        fprintf(out, " %s=%s", k, buf);
    }
    fputc('\n', out);
}

static void
it_tree(FILE *out, int indent, const char *key, const json_t *v)
{
    const char *k;
    json_t *e;
    size_t i;
    char buf[4096];

    if (json_is_object(v)) {
        fprintf(out, "%*s%s:\n", indent, "", key);
        json_object_foreach((json_t *)v, k, e) it_tree(out, indent + 2, k, e);
    } else if (json_is_array(v)) {
        fprintf(out, "%*s%s: %zu\n", indent, "", key, json_array_size(v));
        json_array_foreach(v, i, e)
        {
            if (json_is_object(e)) {
                it_tree_row(out, indent + 2, i, e);
            } else {
                snprintf(buf, sizeof(buf), "[%zu]", i);
                it_tree(out, indent + 2, buf, e);
            }
        }
    } else {
        it_scalar(key, v, buf, sizeof(buf));
        fprintf(out, "%*s%s: %s\n", indent, "", key, buf);
    }
}

/* Values the description holds under two names (the engine's finding and the header it goes to): once. */
static void
it_drop_repeats(struct it *t)
{
    static const char *const pairs[][2] = {
        {"analysis/system_dtb", "plan/header/dtb"},
        {"analysis/dtb", "analysis/system_dtb"},
        {"input/notes/dump.dtb", "input/notes/dump.dtb_raw"},
        {"input/notes/dump.dtb", "analysis/dtb"},
        {"plan/header/major_version", "analysis/version/major"},
        {"input/notes/dump.major_version", "analysis/version/major"},
        {"plan/header/kd_secondary_version", "analysis/version/kd_secondary_version"},
        {"input/notes/dump.kd_secondary_version", "analysis/version/kd_secondary_version"},
        {"analysis/kdbg/size", "dump_kdbg/size"},
        {"analysis/kernel/base", "dump_kdbg/kern_base"},
    };
    const char *why = json_string_value(
        json_object_get(json_object_get(json_object_get(t->info, "analysis"), "kdbg"), "why"));

    for (size_t i = 0; i < sizeof(pairs) / sizeof(pairs[0]); i++) {
        uint64_t v;

        if (it_value(it_walk(t, pairs[i][0], 0), &v))
            it_drop_same(t, pairs[i][1], v);
    }
    if (why && strstr(why, "KdpDataBlockEncoded = "))
        it_take(t, "analysis/kdbg/KdpDataBlockEncoded");
}

void
r2d_info_print_text(const json_t *info, FILE *out, int detail)
{
    struct it t = {info, json_deep_copy(info), out};
    const int dump = it_is_dump(&t);
    const char *key;
    json_t *v;

    if (!t.rest)
        return;
    it_input(&t);
    it_os(&t);
    it_paging(&t);
    it_kernel(&t);
    it_symbols(&t);
    it_time(&t);
    if (dump)
        it_dump_processors(&t);
    else
        it_processors(&t);
    it_ram(&t);
    it_kdbg(&t);
    if (dump)
        it_dump(&t);
    else
        it_conversion(&t);
    it_warnings(&t);
    if (detail) {
        it_drop_repeats(&t);
        it_prune(t.rest);
        fputs("\nDetail (every other value; --json has all of them):\n", out);
        json_object_foreach(t.rest, key, v) it_tree(out, 2, key, v);
    } else {
        fputs("(-v for every detail, --json for the description as JSON)\n", out);
    }
    json_decref(t.rest);
}

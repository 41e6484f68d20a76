/* SPDX-License-Identifier: MIT */
/* raw2dmp: the command-line client of libraw2dmp. It parses options, shows progress and picks exit codes. */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "raw2dmp/convert.h"
#include "raw2dmp/format.h"

enum {
    EXIT_OK = 0,
    EXIT_FAILED = 1,
    EXIT_USAGE = 2,
    EXIT_VERIFY = 3,
    EXIT_INTERRUPTED = 130,
};

enum {
    OPT_LIST_FORMATS = 256,
    OPT_PDB,
    OPT_SYMBOLS,
    OPT_SYMBOL_PATH,
    OPT_OFFLINE,
    OPT_FORCE_SYMBOLS,
    OPT_DTB,
    OPT_KERNEL_BASE,
    OPT_REBUILD_KDBG,
    OPT_VERIFY_KDBG,
    OPT_BUGCHECK,
    OPT_DUMP_TYPE,
    OPT_HASH,
    OPT_REPORT,
    OPT_INFO,
    OPT_JSON,
    OPT_PROGRESS,
    OPT_NO_PROGRESS,
};

static volatile sig_atomic_t cli_interrupted;

struct cli_progress {
    int enabled;
    struct timespec last;
    struct timespec start;
};

static void
cli_on_signal(int sig)
{
    cli_interrupted = sig;
}

static void
cli_log(void *arg, int level, const char *msg)
{
    (void)arg;
    (void)level;
    fprintf(stderr, "raw2dmp: %s\n", msg);
}

static double
cli_elapsed(const struct timespec *a, const struct timespec *b)
{
    return (double)(b->tv_sec - a->tv_sec) + (double)(b->tv_nsec - a->tv_nsec) / 1e9;
}

/* Redraw at most about six times a second, and only on a terminal (or with --progress). */
static void
cli_progress(void *arg, uint64_t done, uint64_t total)
{
    struct cli_progress *p = arg;
    struct timespec now;
    double secs, rate;

    if (!p->enabled)
        return;
    clock_gettime(CLOCK_MONOTONIC, &now);
    if (done < total && cli_elapsed(&p->last, &now) < 0.16)
        return;
    p->last = now;
    secs = cli_elapsed(&p->start, &now);
    rate = secs > 0 ? (double)done / secs : 0;
    fprintf(stderr, "\r%8.1f / %.1f MiB  %6.1f MiB/s  ETA %4.0f s ", (double)done / 1048576.0,
            (double)total / 1048576.0, rate / 1048576.0, rate > 0 ? (double)(total - done) / rate : 0.0);
    if (done >= total)
        fputc('\n', stderr);
}

static void
cli_usage(FILE *out)
{
    fputs("usage: raw2dmp [OPTIONS] INPUT OUTPUT\n"
          "       raw2dmp --info [--json] [OPTIONS] INPUT\n"
          "Convert a physical-memory image of a 64-bit Windows machine into a crash dump WinDbg opens.\n"
          "\n"
          "Input:\n"
          "  -f, --input-format NAME  input format (default auto; see --list-formats)\n"
          "      --list-formats       list the input formats and exit\n"
          "      --dtb ADDR           physical address of the kernel page tables (skip discovery)\n"
          "      --kernel-base ADDR   virtual address of ntoskrnl (skip discovery)\n"
          "Symbols:\n"
          "      --pdb FILE           the kernel's PDB (ntkrnlmp.pdb) as a file\n"
          "      --symbols FILE       a Volatility 3 JSON symbol table (.json or .json.xz)\n"
          "      --symbol-path PATH   WinDbg symbol path (default: $_NT_SYMBOL_PATH, else\n"
          "                           srv*~/.cache/raw2dmp/symbols*https://msdl.microsoft.com/download/symbols)\n"
          "      --offline            never use the network; only local files and caches\n"
          "      --force-symbols      use symbols whose GUID/age do not match the kernel\n"
          "KDBG:\n"
          "      --rebuild-kdbg       rebuild the debugger data block from symbols instead of the image's\n"
          "      --verify-kdbg        compare the image's block with the symbols; differences exit 3\n"
          "Output:\n"
          "      --dump-type TYPE     auto (default), full (DumpType 1) or bitmap (DumpType 5)\n"
          "      --bugcheck CODE      bug check code for the header (default: the kernel's, else 0x161)\n"
          "      --force              replace an existing output or report\n"
          "      --hash ALG           sha256 (default) or none: digest of the output, computed while writing\n"
          "      --report FILE        write a JSON report of the conversion\n"
          "      --info               describe INPUT (format, runs, CPUs, kernel, KDBG) and write nothing\n"
          "      --json               with --info: JSON instead of text\n"
          "      --progress, --no-progress  force the progress line on or off (default: on a terminal)\n"
          "  -q, --quiet              errors only\n"
          "  -v, --verbose            more detail (repeatable: decisions, debug, trace)\n"
          "  -h, --help               this help\n"
          "  -V, --version            version\n"
          "\n"
          "Exit codes: 0 done, 1 failed, 2 usage, 3 --verify-kdbg found differences, 130 interrupted.\n",
          out);
}

static int cli_bad_usage(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static int
cli_bad_usage(const char *fmt, ...)
{
    va_list ap;

    fputs("raw2dmp: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputs("\ntry 'raw2dmp --help'\n", stderr);
    return EXIT_USAGE;
}

/* Numbers: decimal or 0x-hex, no trailing junk, no overflow. */
static int
cli_parse_u64(const char *s, uint64_t *out)
{
    char *end;

    if (!s || !*s || *s == '-')
        return -1;
    errno = 0;
    *out = strtoull(s, &end, 0);
    return (errno || *end) ? -1 : 0;
}

static int
cli_list_formats(void)
{
    for (size_t i = 0; r2d_formats[i]; i++)
        printf("%-10s %s\n", r2d_formats[i]->name, r2d_formats[i]->summary);
    return EXIT_OK;
}

static int
cli_exit_code(int rc)
{
    if (rc == 0)
        return EXIT_OK;
    if (rc == R2D_ECANCELED || cli_interrupted)
        return EXIT_INTERRUPTED;
    if (rc == R2D_EVERIFY)
        return EXIT_VERIFY;
    return EXIT_FAILED;
}

int
main(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"input-format", required_argument, NULL, 'f'},
        {"list-formats", no_argument, NULL, OPT_LIST_FORMATS},
        {"pdb", required_argument, NULL, OPT_PDB},
        {"symbols", required_argument, NULL, OPT_SYMBOLS},
        {"symbol-path", required_argument, NULL, OPT_SYMBOL_PATH},
        {"offline", no_argument, NULL, OPT_OFFLINE},
        {"force-symbols", no_argument, NULL, OPT_FORCE_SYMBOLS},
        {"dtb", required_argument, NULL, OPT_DTB},
        {"kernel-base", required_argument, NULL, OPT_KERNEL_BASE},
        {"rebuild-kdbg", no_argument, NULL, OPT_REBUILD_KDBG},
        {"verify-kdbg", no_argument, NULL, OPT_VERIFY_KDBG},
        {"bugcheck", required_argument, NULL, OPT_BUGCHECK},
        {"dump-type", required_argument, NULL, OPT_DUMP_TYPE},
        {"force", no_argument, NULL, OPT_FORCE_SYMBOLS + 100},
        {"hash", required_argument, NULL, OPT_HASH},
        {"report", required_argument, NULL, OPT_REPORT},
        {"info", no_argument, NULL, OPT_INFO},
        {"json", no_argument, NULL, OPT_JSON},
        {"progress", no_argument, NULL, OPT_PROGRESS},
        {"no-progress", no_argument, NULL, OPT_NO_PROGRESS},
        {"quiet", no_argument, NULL, 'q'},
        {"verbose", no_argument, NULL, 'v'},
        {"help", no_argument, NULL, 'h'},
        {"version", no_argument, NULL, 'V'},
        {NULL, 0, NULL, 0},
    };
    struct r2d_options opts;
    struct cli_progress progress = {0};
    struct r2d_ctx *ctx;
    int verbosity = R2D_LOG_WARN, info = 0, json = 0, progress_mode = -1, c, rc;
    uint64_t v;

    r2d_options_init(&opts);
    while ((c = getopt_long(argc, argv, "f:qvhV", longopts, NULL)) != -1) {
        switch (c) {
        case 'f': opts.input_format = optarg; break;
        case OPT_LIST_FORMATS: return cli_list_formats();
        case OPT_PDB: opts.pdb_path = optarg; break;
        case OPT_SYMBOLS: opts.isf_path = optarg; break;
        case OPT_SYMBOL_PATH: opts.symbol_path = optarg; break;
        case OPT_OFFLINE: opts.offline = 1; break;
        case OPT_FORCE_SYMBOLS: opts.force_symbols = 1; break;
        case OPT_FORCE_SYMBOLS + 100: opts.force = 1; break;
        case OPT_DTB:
            if (cli_parse_u64(optarg, &opts.dtb))
                return cli_bad_usage("--dtb: not a number: '%s'", optarg);
            opts.have_dtb = 1;
            break;
        case OPT_KERNEL_BASE:
            if (cli_parse_u64(optarg, &opts.kernel_base))
                return cli_bad_usage("--kernel-base: not a number: '%s'", optarg);
            opts.have_kernel_base = 1;
            break;
        case OPT_REBUILD_KDBG: opts.rebuild_kdbg = 1; break;
        case OPT_VERIFY_KDBG: opts.verify_kdbg = 1; break;
        case OPT_BUGCHECK:
            if (cli_parse_u64(optarg, &v) || v > UINT32_MAX)
                return cli_bad_usage("--bugcheck: not a 32-bit number: '%s'", optarg);
            opts.bugcheck_code = (uint32_t)v;
            opts.have_bugcheck = 1;
            break;
        case OPT_DUMP_TYPE:
            if (strcmp(optarg, "auto") == 0)
                opts.dump_type = R2D_DUMP_AUTO;
            else if (strcmp(optarg, "full") == 0)
                opts.dump_type = R2D_DUMP_FULL;
            else if (strcmp(optarg, "bitmap") == 0)
                opts.dump_type = R2D_DUMP_BITMAP;
            else
                return cli_bad_usage("--dump-type: expected auto, full or bitmap, not '%s'", optarg);
            break;
        case OPT_HASH:
            if (strcmp(optarg, "sha256") == 0)
                opts.hash = R2D_HASH_SHA256;
            else if (strcmp(optarg, "none") == 0)
                opts.hash = R2D_HASH_NONE;
            else
                return cli_bad_usage("--hash: expected sha256 or none, not '%s'", optarg);
            break;
        case OPT_REPORT: opts.report_path = optarg; break;
        case OPT_INFO: info = 1; break;
        case OPT_JSON: json = 1; break;
        case OPT_PROGRESS: progress_mode = 1; break;
        case OPT_NO_PROGRESS: progress_mode = 0; break;
        case 'q': verbosity = R2D_LOG_ERROR; break;
        case 'v': verbosity = verbosity < R2D_LOG_INFO ? R2D_LOG_INFO : verbosity < R2D_LOG_DEBUG ? R2D_LOG_DEBUG
                                                                                                  : R2D_LOG_TRACE;
            break;
        case 'h': cli_usage(stdout); return EXIT_OK;
        case 'V': printf("raw2dmp %s\n", R2D_VERSION); return EXIT_OK;
        default: fputs("try 'raw2dmp --help'\n", stderr); return EXIT_USAGE;
        }
    }
    if (info ? argc - optind != 1 : argc - optind != 2)
        return cli_bad_usage("%s", info ? "--info takes exactly one INPUT" : "expected INPUT and OUTPUT");
    if (opts.pdb_path && opts.isf_path)
        return cli_bad_usage("%s", "--pdb and --symbols are alternatives; give one");

    ctx = r2d_ctx_new();
    if (!ctx) {
        fputs("raw2dmp: out of memory\n", stderr);
        return EXIT_FAILED;
    }
    r2d_ctx_set_verbosity(ctx, verbosity);
    r2d_ctx_set_log(ctx, cli_log, NULL);
    r2d_ctx_set_cancel_flag(ctx, &cli_interrupted);
    progress.enabled = progress_mode == -1 ? (isatty(STDERR_FILENO) && verbosity > R2D_LOG_ERROR) : progress_mode;
    clock_gettime(CLOCK_MONOTONIC, &progress.start);
    r2d_ctx_set_progress(ctx, cli_progress, &progress);
    signal(SIGINT, cli_on_signal);
    signal(SIGTERM, cli_on_signal);

    if (info)
        rc = r2d_info(ctx, &opts, argv[optind], stdout, json);
    else
        rc = r2d_convert(ctx, &opts, argv[optind], argv[optind + 1]);
    if (rc)
        fprintf(stderr, "raw2dmp: %s\n", r2d_errmsg(ctx));
    r2d_ctx_free(ctx);
    return cli_exit_code(rc);
}

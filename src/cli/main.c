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

#include "cli_batch.h"
#include "cli_display.h"
#include "cli_options.h"
#include "raw2dmp/convert.h"
#include "raw2dmp/formats.h"

/* Options of the program itself; the conversion options are in cli_options.c. */
enum {
    OPT_LIST_FORMATS = 256,
    OPT_REPORT,
    OPT_INFO,
    OPT_JSON,
    OPT_PROGRESS,
    OPT_NO_PROGRESS,
    OPT_BATCH,
};

static const struct option cli_own_options[] = {
    {"list-formats", no_argument, NULL, OPT_LIST_FORMATS},
    {"report", required_argument, NULL, OPT_REPORT},
    {"info", no_argument, NULL, OPT_INFO},
    {"json", no_argument, NULL, OPT_JSON},
    {"progress", no_argument, NULL, OPT_PROGRESS},
    {"no-progress", no_argument, NULL, OPT_NO_PROGRESS},
    {"batch", required_argument, NULL, OPT_BATCH},
    {"jobs", required_argument, NULL, 'j'},
    {"quiet", no_argument, NULL, 'q'},
    {"verbose", no_argument, NULL, 'v'},
    {"help", no_argument, NULL, 'h'},
    {"version", no_argument, NULL, 'V'},
};
#define CLI_OWN_COUNT (sizeof(cli_own_options) / sizeof(cli_own_options[0]))
#define CLI_MAX_JOBS 256

/* What the command line asked for. */
struct cli_args {
    struct r2d_options opts;
    int verbosity;
    int info, json;
    int progress; /* -1 = on a terminal unless -q, 0 off, 1 forced */
    long jobs;    /* 0 = not given */
    const char *batch;
};

static volatile sig_atomic_t cli_interrupted;

static void
cli_on_signal(int sig)
{
    cli_interrupted = sig;
}

static void
cli_usage(FILE *out)
{
    fputs(
        "usage: raw2dmp [OPTIONS] INPUT OUTPUT\n"
        "       raw2dmp --info [--json] [OPTIONS] INPUT\n"
        "       raw2dmp --batch MANIFEST [-j N] [OPTIONS]\n"
        "Convert a physical-memory image of a 64-bit Windows machine into a crash dump WinDbg opens.\n"
        "\n"
        "Input:\n"
        "  -f, --input-format NAME  input format (default auto; see --list-formats); inside containers,\n"
        "                           the format of what they hold\n"
        "      --list-formats       list the input formats and containers, and exit\n"
        "      --container MODE     auto (default): read gzip, xz, zstd, LZ4, ZIP and EWF (E01) files in\n"
        "                           place; none: read the file as it is\n"
        "      --member NAME        the ZIP member holding the image (when a ZIP holds several)\n"
        "      --verify-container   check the stored digests of containers (EWF MD5/SHA-1, ZIP CRC-32,\n"
        "                           xz/zstd checks) against the data: one more full read at open\n"
        "      --dtb ADDR           physical address of the kernel page tables (skip discovery)\n"
        "      --kernel-base ADDR   virtual address of ntoskrnl (skip discovery)\n"
        "Symbols:\n"
        "      --pdb FILE           the kernel's PDB (ntkrnlmp.pdb) as a file\n"
        "      --symbols FILE       a Volatility 3 JSON symbol table (.json or .json.xz)\n"
        "      --symbol-path PATH   WinDbg symbol path (default: $_NT_SYMBOL_PATH, else\n"
        "                           "
        "srv*~/.cache/raw2dmp/symbols*https://msdl.microsoft.com/download/symbols)\n"
        "      --offline            never use the network; only local files and caches\n"
        "      --force-symbols      use symbols whose GUID/age do not match the kernel\n"
        "KDBG:\n"
        "      --rebuild-kdbg       rebuild the debugger data block from symbols instead of the image's\n"
        "      --verify-kdbg        compare the image's block with the symbols; differences exit 3\n"
        "Output:\n"
        "      --dump-type TYPE     auto (default), full (DumpType 1) or bitmap (DumpType 5)\n"
        "      --bugcheck CODE      bug check code for the header (default: the kernel's, else 0x161)\n"
        "      --force              replace an existing output or report\n"
        "      --hash ALG           sha256 (default) or none: SHA-256 of the input and the output\n"
        "      --report FILE        write a JSON report of the conversion\n"
        "      --info               describe INPUT (format, runs, CPUs, kernel, KDBG) and write nothing\n"
        "      --json               with --info: JSON instead of text\n"
        "Batch:\n"
        "      --batch MANIFEST     convert every line of a JSON-lines manifest ('-' = standard input);\n"
        "                           the options above are defaults for every item; one JSON line per item\n"
        "  -j, --jobs N             conversions at once in a batch (default 1)\n"
        "Messages:\n"
        "      --progress, --no-progress  force the progress line on or off (default: on a terminal)\n"
        "  -q, --quiet              errors only\n"
        "  -v, --verbose            more detail (repeatable: decisions, debug, trace)\n"
        "  -h, --help               this help\n"
        "  -V, --version            version\n"
        "\n"
        "Exit codes: 0 done, 1 failed, 2 usage (or unreadable manifest), 3 --verify-kdbg found differences,\n"
        "130 interrupted. See raw2dmp(1).\n",
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
    return CLI_EXIT_USAGE;
}

static int
cli_list_formats(void)
{
    const char *name, *summary;

    for (size_t i = 0; r2d_format_describe(i, &name, &summary) == 0; i++)
        printf("%-10s %s\n", name, summary);
    printf("\ncontainers, read in place around a format (--container none reads the file as it is):\n");
    for (size_t i = 0; r2d_container_describe(i, &name, &summary) == 0; i++)
        printf("%-10s %s\n", name, summary);
    return CLI_EXIT_OK;
}

/* getopt_long's table: the program's own options, then the conversion options of cli_options.c. */
static struct option *
cli_longopts(void)
{
    size_t n = 0, k = 0;
    struct option *l;

    while (cli_options[n].name)
        n++;
    l = calloc(CLI_OWN_COUNT + n + 1, sizeof(*l));
    if (!l)
        return NULL;
    for (size_t i = 0; i < CLI_OWN_COUNT; i++)
        l[k++] = cli_own_options[i];
    for (size_t i = 0; i < n; i++)
        l[k++] = (struct option){cli_options[i].name, cli_options[i].has_arg, NULL, CLI_OPTION_BASE + (int)i};
    return l;
}

/* One option of the program itself. Returns -1 to go on, else the exit code. */
static int
cli_parse_own(struct cli_args *a, int c)
{
    char *end;

    switch (c) {
    case OPT_LIST_FORMATS:
        return cli_list_formats();
    case OPT_REPORT:
        a->opts.report_path = optarg;
        break;
    case OPT_INFO:
        a->info = 1;
        break;
    case OPT_JSON:
        a->json = 1;
        break;
    case OPT_PROGRESS:
        a->progress = 1;
        break;
    case OPT_NO_PROGRESS:
        a->progress = 0;
        break;
    case OPT_BATCH:
        a->batch = optarg;
        break;
    case 'j':
        errno = 0;
        a->jobs = strtol(optarg, &end, 10);
        if (errno || *end || a->jobs < 1 || a->jobs > CLI_MAX_JOBS)
            return cli_bad_usage("--jobs: expected 1 to %d, not '%s'", CLI_MAX_JOBS, optarg);
        break;
    case 'q':
        a->verbosity = R2D_LOG_ERROR;
        break;
    case 'v':
        a->verbosity = a->verbosity < R2D_LOG_INFO    ? R2D_LOG_INFO
                       : a->verbosity < R2D_LOG_DEBUG ? R2D_LOG_DEBUG
                                                      : R2D_LOG_TRACE;
        break;
    case 'h':
        cli_usage(stdout);
        return CLI_EXIT_OK;
    case 'V':
        printf("raw2dmp %s\n", R2D_VERSION);
        return CLI_EXIT_OK;
    default:
        fputs("try 'raw2dmp --help'\n", stderr);
        return CLI_EXIT_USAGE;
    }
    return -1;
}

/* Parse argv into a. Returns -1 to go on, else the exit code (help, version, bad usage). */
static int
cli_parse(int argc, char **argv, struct cli_args *a)
{
    struct option *longopts = cli_longopts();
    int c, rc = -1;

    if (!longopts) {
        fputs("raw2dmp: out of memory\n", stderr);
        return CLI_EXIT_FAILED;
    }
    while (rc < 0 && (c = getopt_long(argc, argv, "f:j:qvhV", longopts, NULL)) != -1) {
        const int i = c == 'f' ? 0 : c - CLI_OPTION_BASE;
        char why[256];

        if (c != 'f' && (c < CLI_OPTION_BASE || c >= CLI_OPTION_BASE + 100))
            rc = cli_parse_own(a, c);
        else if (cli_option_set(&a->opts, cli_options[i].name, optarg, why, sizeof(why)))
            rc = cli_bad_usage("--%s: %s", cli_options[i].name, why);
    }
    free(longopts);
    if (rc >= 0)
        return rc;
    if (a->batch && (a->info || a->opts.report_path || argc != optind))
        return cli_bad_usage("%s",
                             "--batch takes no INPUT/OUTPUT, --report or --info (the manifest names them)");
    if (a->jobs && !a->batch)
        return cli_bad_usage("%s", "--jobs applies to --batch only");
    if (!a->batch && (a->info ? argc - optind != 1 : argc - optind != 2))
        return cli_bad_usage("%s", a->info ? "--info takes exactly one INPUT" : "expected INPUT and OUTPUT");
    if (a->opts.pdb_path && a->opts.isf_path)
        return cli_bad_usage("%s", "--pdb and --symbols are alternatives; give one");
    return -1;
}

/* One conversion or --info, with the progress line and messages on stderr. */
static int
cli_run_single(const struct cli_args *a, const char *input, const char *output)
{
    struct cli_display *d = cli_display_new(a->progress, 0, 1);
    struct cli_log_sink sink = {d, NULL};
    struct r2d_ctx *ctx = r2d_ctx_new();
    int rc;

    if (!ctx || !d) {
        fputs("raw2dmp: out of memory\n", stderr);
        r2d_ctx_free(ctx);
        cli_display_free(d);
        return CLI_EXIT_FAILED;
    }
    r2d_ctx_set_verbosity(ctx, a->verbosity);
    r2d_ctx_set_log(ctx, cli_display_log, &sink);
    r2d_ctx_set_cancel_flag(ctx, &cli_interrupted);
    r2d_ctx_set_progress(ctx, cli_display_progress, cli_display_slot(d, 0));
    if (a->info)
        rc = r2d_info(ctx, &a->opts, input, stdout, a->json);
    else
        rc = r2d_convert(ctx, &a->opts, input, output);
    cli_display_end(d);
    if (rc)
        cli_display_message(d, NULL, r2d_errmsg(ctx));
    r2d_ctx_free(ctx);
    cli_display_free(d);
    return cli_exit_code(rc, cli_interrupted);
}

int
main(int argc, char **argv)
{
    struct cli_args a = {.verbosity = R2D_LOG_WARN, .progress = -1};
    int rc;

    r2d_options_init(&a.opts);
    rc = cli_parse(argc, argv, &a);
    if (rc >= 0)
        return rc;
    if (a.progress < 0)
        a.progress = isatty(STDERR_FILENO) && a.verbosity > R2D_LOG_ERROR;
    signal(SIGINT, cli_on_signal);
    signal(SIGTERM, cli_on_signal);
    /* Past RLIMIT_FSIZE a write then fails with EFBIG, reported as disk full, and the temporary is removed. */
    signal(SIGXFSZ, SIG_IGN);
    if (a.batch) {
        const struct cli_batch_config cfg = {
            .manifest = a.batch,
            .defaults = &a.opts,
            .jobs = a.jobs ? (int)a.jobs : 1,
            .verbosity = a.verbosity,
            .progress = a.progress,
            .cancel = &cli_interrupted,
        };

        return cli_batch_run(&cfg);
    }
    return cli_run_single(&a, argv[optind], a.info ? NULL : argv[optind + 1]);
}

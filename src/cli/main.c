/* SPDX-License-Identifier: MIT */
/* raw2dmp: the command-line client of libraw2dmp. It parses options, shows progress and picks exit codes. */
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "cli_batch.h"
#include "cli_display.h"
#include "cli_options.h"
#include "cli_results.h"
#include "cli_shard.h"
#include "raw2dmp/convert.h"
#include "raw2dmp/formats.h"
#include "raw2dmp/parse.h"

/* Options of the program itself; the conversion options are in cli_options.c. */
enum {
    OPT_LIST_FORMATS = 256,
    OPT_REPORT,
    OPT_INFO,
    OPT_JSON,
    OPT_PROGRESS,
    OPT_NO_PROGRESS,
    OPT_BATCH,
    OPT_SHARD,
    OPT_SHARD_COUNT,
    OPT_RESULTS,
    OPT_BATCH_STATUS,
    OPT_BREAK_STALE_LOCKS,
};

static const struct option cli_own_options[] = {
    {"list-formats", no_argument, NULL, OPT_LIST_FORMATS},
    {"report", required_argument, NULL, OPT_REPORT},
    {"info", no_argument, NULL, OPT_INFO},
    {"json", no_argument, NULL, OPT_JSON},
    {"progress", no_argument, NULL, OPT_PROGRESS},
    {"no-progress", no_argument, NULL, OPT_NO_PROGRESS},
    {"batch", required_argument, NULL, OPT_BATCH},
    {"shard", required_argument, NULL, OPT_SHARD},
    {"shard-count", required_argument, NULL, OPT_SHARD_COUNT},
    {"results", required_argument, NULL, OPT_RESULTS},
    {"batch-status", required_argument, NULL, OPT_BATCH_STATUS},
    {"break-stale-locks", no_argument, NULL, OPT_BREAK_STALE_LOCKS},
    {"jobs", required_argument, NULL, 'j'},
    {"quiet", no_argument, NULL, 'q'},
    {"verbose", no_argument, NULL, 'v'},
    {"help", no_argument, NULL, 'h'},
    {"version", no_argument, NULL, 'V'},
};
#define CLI_OWN_COUNT (sizeof(cli_own_options) / sizeof(cli_own_options[0]))
/* The leading ':' makes getopt return ':' for a missing argument, and say nothing itself. */
#define CLI_SHORT_OPTIONS ":f:j:qvhV"
#define CLI_MAX_JOBS 256

/* What the command line asked for. */
struct cli_args {
    struct r2d_options opts;
    int verbosity;
    int info, json;
    int progress; /* -1 = on a terminal unless -q, 0 off, 1 forced */
    long jobs;    /* 0 = not given */
    const char *batch;
    const char *batch_status; /* --batch-status MANIFEST */
    const char *results;      /* --results DIR */
    struct cli_shard shard;   /* --shard, when shard_given */
    int shard_given;
    size_t shard_count; /* --shard-count, 0 = not given */
    int break_stale_locks;
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
        "       raw2dmp --batch MANIFEST [-j N] [--shard K/N] [--results DIR] [OPTIONS]\n"
        "       raw2dmp --batch-status MANIFEST --results DIR\n"
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
        "                           xz/zstd checks) and AFF4's aff4:hash against the data: one more\n"
        "                           full read at open\n"
        "      --vmem FILE          VMware: the memory file of a .vmss/.vmsn INPUT (default: the .vmem\n"
        "                           of the same name, else the only .vmem beside INPUT)\n"
        "      --dtb ADDR           physical address of the kernel page tables (skip discovery)\n"
        "      --kernel-base ADDR   virtual address of ntoskrnl (skip discovery)\n"
        "                           ADDR and CODE are hex as in WinDbg: 0x optional, 0n for decimal\n"
        "Symbols:\n"
        "      --pdb FILE           the kernel's PDB (ntkrnlmp.pdb) as a file\n"
        "      --symbols FILE|DIR   a Volatility 3 JSON symbol table (.json or .json.xz), or a symbol\n"
        "                           directory or windows.zip pack to pick the kernel's table from\n"
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
        "      --bugcheck CODE      bug check code or name for the header (MANUALLY_INITIATED_CRASH ...;\n"
        "                           default: the kernel's, else 0x161 LIVE_SYSTEM_DUMP)\n"
        "      --force              replace an existing output or report (never INPUT, by any name)\n"
        "      --no-sync            do not fsync the output and report (faster; a host crash can leave\n"
        "                           a complete-looking dump with stale or zero blocks)\n"
        "      --hash LIST          digests of the input and the output: sha256 (default), sha1, md5,\n"
        "                           comma-separated (sha256,md5,sha1), or none\n"
        "      --report FILE        write a JSON report of the conversion\n"
        "      --info               describe INPUT (a summary; -v: every detail) and write nothing\n"
        "      --json               with --info: JSON instead of text\n"
        "Batch:\n"
        "      --batch MANIFEST     convert every line of a JSON-lines manifest ('-' = standard input);\n"
        "                           the options above are defaults for every item; one JSON line per item\n"
        "  -j, --jobs N             conversions at once in a batch (default 1)\n"
        "      --shard K/N          convert items K, K+N, K+2N ... of the manifest (0-based; 'none': all);\n"
        "                           default: from SLURM_ARRAY_TASK_ID (and _MIN/_MAX) or\n"
        "                           JOB_COMPLETION_INDEX (with --shard-count) when set\n"
        "      --shard-count N      the number of shards for JOB_COMPLETION_INDEX or SLURM_ARRAY_TASK_ID\n"
        "      --results DIR        also write the result lines to a file of this process in DIR\n"
        "      --break-stale-locks  take over items whose OUTPUT.lock another host holds, at any age\n"
        "                           (default: after 24 hours; on this host, when its process is gone)\n"
        "      --batch-status MANIFEST  with --results DIR: merge the result files; every item done,\n"
        "                           failed (why) or missing; exit 0 all done, 1 some failed, 4 missing\n"
        "Messages:\n"
        "      --progress, --no-progress  force the progress line on or off (default: on a terminal)\n"
        "  -q, --quiet              errors only\n"
        "  -v, --verbose            more detail (repeatable: decisions, debug, trace)\n"
        "  -h, --help               this help\n"
        "  -V, --version            version\n"
        "\n"
        "Exit codes: 0 done, 1 failed, 2 usage (also OUTPUT or the report being INPUT, or each other; an\n"
        "unreadable manifest), 3 --verify-kdbg found differences, 4 --info incomplete (no kernel or no\n"
        "symbols), 130 interrupted. See raw2dmp(1).\n",
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

/* The formats in one aligned table, then the containers, then the optional features this build has or lacks. */
static int
cli_list_formats(void)
{
    const char *name, *summary, *what;
    int width = 0, present;

    for (size_t i = 0; r2d_format_describe(i, &name, &summary) == 0; i++)
        width = (int)strlen(name) > width ? (int)strlen(name) : width;
    for (size_t i = 0; r2d_feature_describe(i, &name, &present, &what) == 0; i++)
        width = (int)strlen(name) > width ? (int)strlen(name) : width;
    for (size_t i = 0; r2d_container_describe(i, &name, &summary) == 0; i++)
        width = (int)strlen(name) > width ? (int)strlen(name) : width;
    for (size_t i = 0; r2d_format_describe(i, &name, &summary) == 0; i++)
        printf("%-*s  %s\n", width, name, summary);
    printf("\ncontainers, read in place around a format (--container none reads the file as it is):\n");
    for (size_t i = 0; r2d_container_describe(i, &name, &summary) == 0; i++)
        printf("%-*s  %s\n", width, name, summary);
    printf("\noptional features of this build:\n");
    for (size_t i = 0; r2d_feature_describe(i, &name, &present, &what) == 0; i++)
        printf("%-*s  %-3s  %s\n", width, name, present ? "yes" : "no", what);
    return CLI_EXIT_OK;
}

/*
 * The build, as the report's "tool" records it: the program's version, the library's (they may differ),
 * its source revision and its optional features, and the libcrypto that computes the digests.
 */
static int
cli_version(void)
{
    printf("raw2dmp %s\n", R2D_VERSION);
    printf("library %s, revision %s\n", r2d_version(), r2d_version_revision());
    printf("features %s\n", r2d_version_features());
    printf("digests sha256 sha1 md5 (%s)\n", OpenSSL_version(OPENSSL_VERSION));
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
    uint64_t jobs;

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
    case OPT_SHARD: {
        char why[200];

        if (cli_shard_parse(optarg, &a->shard, why, sizeof(why)))
            return cli_bad_usage("--shard: %s", why);
        a->shard_given = 1;
        break;
    }
    case OPT_SHARD_COUNT:
        if (r2d_parse_u64(optarg, R2D_RADIX_DECIMAL, &jobs) || jobs < 1 || jobs > CLI_SHARD_MAX)
            return cli_bad_usage("--shard-count: expected 1 to %u, not '%s'", CLI_SHARD_MAX, optarg);
        a->shard_count = (size_t)jobs;
        break;
    case OPT_RESULTS:
        a->results = optarg;
        break;
    case OPT_BATCH_STATUS:
        a->batch_status = optarg;
        break;
    case OPT_BREAK_STALE_LOCKS:
        a->break_stale_locks = 1;
        break;
    case 'j':
        if (r2d_parse_u64(optarg, R2D_RADIX_DECIMAL, &jobs) || jobs < 1 || jobs > CLI_MAX_JOBS)
            return cli_bad_usage("--jobs: expected 1 to %d, not '%s'", CLI_MAX_JOBS, optarg);
        a->jobs = (long)jobs;
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
        return cli_version();
    default:
        return CLI_EXIT_USAGE; /* cli_bad_option said why */
    }
    return -1;
}

/*
 * getopt's own messages start with argv[0] (a path) and are not ours: it is silenced (opterr 0 and a
 * leading ':'), and the option it stopped at is named here, with what could have been meant.
 */
static int
cli_bad_option(int c, char *const *argv, const char *shortopts, const struct option *longopts)
{
    const char *arg = argv[optind - 1];
    const int is_long = strncmp(arg, "--", 2) == 0;
    const int len = (int)strcspn(arg, "=");

    if (c == ':' && is_long)
        return cli_bad_usage("option '%.*s' needs an argument", len, arg);
    if (c == ':')
        return cli_bad_usage("option '-%c' needs an argument", optopt);
    /* '?': an unknown letter, a long option given a value it does not take, or an unknown long option. */
    if (optopt > 0 && optopt < 128 && !strchr(shortopts, optopt))
        return cli_bad_usage("unknown option '-%c'", optopt);
    if (optopt && is_long)
        return cli_bad_usage("option '%.*s' takes no argument", len, arg);
    if (is_long) {
        char alts[256] = "";
        size_t n = 0;

        for (size_t i = 0; longopts[i].name; i++) {
            if (strncmp(longopts[i].name, arg + 2, (size_t)len - 2) != 0)
                continue;
            snprintf(alts + strlen(alts), sizeof(alts) - strlen(alts), "%s--%s", n++ ? ", " : "",
                     longopts[i].name);
        }
        if (n > 1)
            return cli_bad_usage("ambiguous option '%.*s': %s", len, arg, alts);
    }
    return cli_bad_usage("unknown option '%.*s'", len, arg);
}

/* "-f memory.elf INPUT OUTPUT": the input given where the format name goes. */
static int
cli_format_mixup(const char *value)
{
    struct stat st;

    if (r2d_format_known(value) || stat(value, &st) != 0 || S_ISDIR(st.st_mode))
        return -1;
    return cli_bad_usage("-f '%s': a file, but -f is --input-format, a format name (see --list-formats); "
                         "the input goes last",
                         value);
}

/*
 * A crash dump is written with holes to a temporary file beside its target and renamed into place when
 * complete, so that a failure leaves nothing; a report likewise. Neither can go to a stream, and "-" would
 * otherwise make a file named "-".
 */
static int
cli_refuse_stdout(const char *role, const char *path)
{
    if (!path || strcmp(path, "-") != 0)
        return -1;
    fprintf(stderr,
            "raw2dmp: %s '-': cannot write to standard output (written to a temporary file and renamed when "
            "complete); name a file ('./-' for one called '-')\n",
            role);
    return CLI_EXIT_USAGE;
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
    opterr = 0;
    while (rc < 0 && (c = getopt_long(argc, argv, CLI_SHORT_OPTIONS, longopts, NULL)) != -1) {
        const int i = c == 'f' ? 0 : c - CLI_OPTION_BASE;
        char why[256];

        if (c == '?' || c == ':')
            rc = cli_bad_option(c, argv, CLI_SHORT_OPTIONS, longopts);
        else if (c != 'f' && (c < CLI_OPTION_BASE || c >= CLI_OPTION_BASE + 100))
            rc = cli_parse_own(a, c);
        else if (i == 0 && (rc = cli_format_mixup(optarg)) >= 0)
            break;
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
    if (a->batch_status && (a->batch || argc != optind || !a->results))
        return cli_bad_usage("%s", "--batch-status MANIFEST takes --results DIR and nothing else to convert");
    if (a->batch_status)
        return -1;
    if ((a->shard_given || a->shard_count || a->results || a->break_stale_locks) && !a->batch)
        return cli_bad_usage("%s",
                             "--shard, --shard-count, --results and --break-stale-locks apply to --batch only");
    if (a->shard_given && a->shard_count)
        return cli_bad_usage("%s",
                             "--shard K/N gives the count already; --shard-count is for the scheduler's index");
    if (!a->batch && (a->info ? argc - optind != 1 : argc - optind != 2))
        return cli_bad_usage("%s", a->info ? "--info takes exactly one INPUT" : "expected INPUT and OUTPUT");
    if (a->opts.pdb_path && a->opts.isf_path)
        return cli_bad_usage("%s", "--pdb and --symbols are alternatives; give one");
    if (!a->batch && !a->info && (rc = cli_refuse_stdout("OUTPUT", argv[optind + 1])) >= 0)
        return rc;
    return a->info ? -1 : cli_refuse_stdout("--report", a->opts.report_path);
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
    if (a->verbosity >= R2D_LOG_WARN)
        r2d_ctx_set_result(ctx, cli_display_result, &sink);
    if (a->info)
        rc = r2d_info(ctx, &a->opts, input, stdout, a->json);
    else
        rc = r2d_convert(ctx, &a->opts, input, output);
    cli_display_end(d);
    /* An incomplete --info still printed its description: what stopped it is a warning, not an error. */
    if (rc)
        cli_display_message(d, rc == R2D_EINCOMPLETE ? "warning: " : NULL, r2d_errmsg(ctx));
    r2d_ctx_free(ctx);
    cli_display_free(d);
    return cli_exit_code(rc, cli_interrupted);
}

/*
 * The shard when --shard was not given: the scheduler's environment, for a manifest file. A manifest on
 * standard input is a piece someone already chose (the older recipe: one line per array task through sed),
 * so it is never split again. Returns -1 to go on, else the exit code.
 */
static int
cli_batch_shard(struct cli_args *a)
{
    char why[400];

    if (a->shard_given)
        return -1;
    if (strcmp(a->batch, "-") == 0) {
        a->shard = (struct cli_shard){.index = 0, .count = 1, .from = "a manifest on standard input"};
        return -1;
    }
    if (cli_shard_from_env(a->shard_count, &a->shard, why, sizeof(why)) == 0)
        return -1;
    fprintf(stderr, "raw2dmp: --batch: %s\n", why);
    return CLI_EXIT_USAGE;
}

int
main(int argc, char **argv)
{
    struct cli_args a = {.verbosity = R2D_LOG_WARN, .progress = -1};
    const char **given;
    int rc;

    r2d_options_init(&a.opts);
    /* The report records the command line as given: a copy, since getopt_long reorders argv. */
    given = calloc((size_t)argc + 1, sizeof(*given));
    if (given)
        memcpy(given, argv, (size_t)argc * sizeof(*given));
    a.opts.argc = argc;
    a.opts.argv = given;
    rc = cli_parse(argc, argv, &a);
    if (rc >= 0) {
        free(given);
        return rc;
    }
    if (a.progress < 0)
        a.progress = isatty(STDERR_FILENO) && a.verbosity > R2D_LOG_ERROR;
    signal(SIGINT, cli_on_signal);
    signal(SIGTERM, cli_on_signal);
    /* Past RLIMIT_FSIZE a write then fails with EFBIG, reported as disk full, and the temporary is removed. */
    signal(SIGXFSZ, SIG_IGN);
    if (a.batch_status) {
        rc = cli_batch_status(a.batch_status, a.results, a.verbosity < R2D_LOG_WARN);
    } else if (a.batch) {
        const struct cli_batch_config cfg = {
            .manifest = a.batch,
            .defaults = &a.opts,
            .jobs = a.jobs ? (int)a.jobs : 1,
            .verbosity = a.verbosity,
            .progress = a.progress,
            .cancel = &cli_interrupted,
            .shard = &a.shard,
            .results_dir = a.results,
            .break_stale_locks = a.break_stale_locks,
        };

        rc = cli_batch_shard(&a);
        if (rc < 0)
            rc = cli_batch_run(&cfg);
    } else {
        rc = cli_run_single(&a, argv[optind], a.info ? NULL : argv[optind + 1]);
    }
    free(given);
    return rc;
}

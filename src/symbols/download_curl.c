/* SPDX-License-Identifier: MIT */
/*
 * Downloads of symbol files over HTTP(S) with libcurl: redirects, timeouts, a low-speed abort, retries with
 * backoff for transient failures, a hard size limit, HTTP 200 only. Proxy environment variables (http_proxy,
 * https_proxy, no_proxy) are honoured by libcurl's default behaviour, which we leave alone.
 */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>

#include "download.h"

#define DOWNLOAD_MAX_REDIRS 5
#define DOWNLOAD_LOW_SPEED 1024    /* bytes/s below which ... */
#define DOWNLOAD_LOW_SPEED_TIME 60 /* ... for this many seconds, the transfer is aborted */
#define DOWNLOAD_MAX_BACKOFF 8     /* seconds between attempts, doubling from 1 */

/*
 * curl_global_init() initialises process-wide state in libcurl (and in the TLS library below it) and is not
 * thread-safe in older libcurl versions. That state belongs to libcurl, not to us: raw2dmp has no globals of
 * its own here beyond this once-flag and the result it guards, written exactly once under pthread_once, so
 * any number of contexts in any number of threads may download. We never call curl_global_cleanup(): another
 * user of libcurl in the same process may still need it, and the OS reclaims it at exit.
 */
static pthread_once_t download_once = PTHREAD_ONCE_INIT;
static CURLcode download_init_result = CURLE_FAILED_INIT;

static void
download_global_init(void)
{
    download_init_result = curl_global_init(CURL_GLOBAL_DEFAULT);
}

static long
download_env_long(const char *name, long lo, long hi, long def)
{
    const char *s = getenv(name);
    char *end;
    long v;

    if (!s || !*s)
        return def;
    errno = 0;
    v = strtol(s, &end, 10);
    if (errno || *end || v < lo || v > hi)
        return def;
    return v;
}

int
r2d_download_available(void)
{
    return 1;
}

void
r2d_download_opts_default(struct r2d_download_opts *opts)
{
    opts->max_bytes = R2D_DOWNLOAD_MAX_BYTES;
    opts->connect_timeout = R2D_DOWNLOAD_CONNECT_TIMEOUT;
    opts->timeout = download_env_long("R2D_DOWNLOAD_TIMEOUT", 1, 86400, R2D_DOWNLOAD_TIMEOUT);
    opts->retries = (int)download_env_long("R2D_DOWNLOAD_RETRIES", 0, 20, R2D_DOWNLOAD_RETRIES);
}

struct download_sink {
    struct r2d_ctx *ctx;
    int fd;
    uint64_t written;
    uint64_t max_bytes;
    int too_big;
    int write_errno;
};

static size_t
download_write(char *data, size_t size, size_t nmemb, void *arg)
{
    struct download_sink *sink = arg;
    const size_t len = size * nmemb; /* libcurl guarantees size == 1 */
    size_t done = 0;

    if (len > sink->max_bytes - sink->written) {
        sink->too_big = 1;
        return 0;
    }
    while (done < len) {
        const ssize_t n = write(sink->fd, data + done, len - done);

        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            sink->write_errno = n < 0 ? errno : ENOSPC;
            return 0;
        }
        done += (size_t)n;
    }
    sink->written += len;
    return len;
}

static int
download_xferinfo(void *arg, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal, curl_off_t ulnow)
{
    const struct download_sink *sink = arg;

    return r2d_cancelled(sink->ctx) ? 1 : 0;
}

static int
download_transient(CURLcode res, long http)
{
    switch (res) {
    case CURLE_COULDNT_CONNECT:
    case CURLE_OPERATION_TIMEDOUT:
    case CURLE_PARTIAL_FILE:
    case CURLE_RECV_ERROR:
    case CURLE_SEND_ERROR:
    case CURLE_GOT_NOTHING:
        return 1;
    case CURLE_HTTP_RETURNED_ERROR:
        return http >= 500 || http == 408 || http == 429;
    default:
        return 0;
    }
}

/* Sleep seconds, waking every 100 ms to notice cancellation. Returns non-zero when cancelled. */
static int
download_backoff(struct r2d_ctx *ctx, int seconds)
{
    const struct timespec step = {0, 100 * 1000 * 1000};

    for (int i = 0; i < seconds * 10; i++) {
        if (r2d_cancelled(ctx))
            return 1;
        nanosleep(&step, NULL);
    }
    return r2d_cancelled(ctx);
}

static void
download_setup(CURL *curl, const char *url, const struct r2d_download_opts *opts, struct download_sink *sink,
               char *errbuf)
{
    const long low_time = opts->timeout < DOWNLOAD_LOW_SPEED_TIME ? opts->timeout : DOWNLOAD_LOW_SPEED_TIME;

    curl_easy_setopt(curl, CURLOPT_URL, url);
    curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, errbuf);
    curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(curl, CURLOPT_FOLLOWLOCATION, 1L);
    curl_easy_setopt(curl, CURLOPT_MAXREDIRS, (long)DOWNLOAD_MAX_REDIRS);
#if LIBCURL_VERSION_NUM >= 0x075500
    curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(curl, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
#else
    curl_easy_setopt(curl, CURLOPT_PROTOCOLS, (long)(CURLPROTO_HTTP | CURLPROTO_HTTPS));
    curl_easy_setopt(curl, CURLOPT_REDIR_PROTOCOLS, (long)(CURLPROTO_HTTP | CURLPROTO_HTTPS));
#endif
    curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT, opts->connect_timeout);
    curl_easy_setopt(curl, CURLOPT_TIMEOUT, opts->timeout);
    curl_easy_setopt(curl, CURLOPT_LOW_SPEED_LIMIT, (long)DOWNLOAD_LOW_SPEED);
    curl_easy_setopt(curl, CURLOPT_LOW_SPEED_TIME, low_time);
    curl_easy_setopt(curl, CURLOPT_USERAGENT, "raw2dmp/" R2D_VERSION);
    curl_easy_setopt(curl, CURLOPT_FAILONERROR, 1L);
    curl_easy_setopt(curl, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)opts->max_bytes);
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, download_write);
    curl_easy_setopt(curl, CURLOPT_WRITEDATA, sink);
    curl_easy_setopt(curl, CURLOPT_NOPROGRESS, 0L);
    curl_easy_setopt(curl, CURLOPT_XFERINFOFUNCTION, download_xferinfo);
    curl_easy_setopt(curl, CURLOPT_XFERINFODATA, sink);
}

/* Turn one attempt's outcome into a status and message. *retry is set when another attempt may help. */
static int
download_outcome(struct r2d_ctx *ctx, const char *url, CURLcode res, long http,
                 const struct download_sink *sink, const char *errbuf, long opts_timeout, int *retry)
{
    *retry = 0;
    if (res == CURLE_OK && http == 200)
        return 0;
    if (res == CURLE_OK)
        return r2d_err(ctx, R2D_ENETWORK, "%s: HTTP %ld (only 200 is accepted)", url, http);
    if (res == CURLE_ABORTED_BY_CALLBACK)
        return r2d_err(ctx, R2D_ECANCELED, "%s: download interrupted", url);
    if (res == CURLE_FILESIZE_EXCEEDED || (res == CURLE_WRITE_ERROR && sink->too_big))
        return r2d_err(ctx, R2D_ENETWORK, "%s: larger than the %" PRIu64 "-byte limit; download aborted", url,
                       sink->max_bytes);
    if (res == CURLE_WRITE_ERROR && sink->write_errno) {
        errno = sink->write_errno;
        return r2d_err_errno(ctx, "%s: cannot write the download", url);
    }
    if (res == CURLE_HTTP_RETURNED_ERROR && (http == 404 || http == 410))
        return r2d_err(ctx, R2D_ENOTFOUND, "%s: HTTP %ld: not on the server", url, http);
    *retry = download_transient(res, http);
    if (res == CURLE_HTTP_RETURNED_ERROR)
        return r2d_err(ctx, R2D_ENETWORK, "%s: HTTP %ld", url, http);
    if (res == CURLE_OPERATION_TIMEDOUT)
        return r2d_err(ctx, R2D_ENETWORK, "%s: timed out (limit %ld s, R2D_DOWNLOAD_TIMEOUT; %s)", url,
                       opts_timeout, errbuf[0] ? errbuf : curl_easy_strerror(res));
    if (res == CURLE_PARTIAL_FILE)
        return r2d_err(ctx, R2D_ENETWORK, "%s: transfer cut short after %" PRIu64 " bytes (%s)", url,
                       sink->written, errbuf[0] ? errbuf : curl_easy_strerror(res));
    return r2d_err(ctx, R2D_ENETWORK, "%s: %s", url, errbuf[0] ? errbuf : curl_easy_strerror(res));
}

static int
download_rewind(struct r2d_ctx *ctx, const char *url, int fd)
{
    if (ftruncate(fd, 0) != 0 || lseek(fd, 0, SEEK_SET) != 0)
        return r2d_err_errno(ctx, "%s: cannot reset the download file", url);
    return 0;
}

int
r2d_download(struct r2d_ctx *ctx, const char *url, int out_fd, const struct r2d_download_opts *opts,
             uint64_t *size_out)
{
    struct r2d_download_opts defaults;
    struct download_sink sink = {.ctx = ctx, .fd = out_fd};
    char errbuf[CURL_ERROR_SIZE];
    CURL *curl;
    int rc = R2D_ENETWORK;

    if (!opts) {
        r2d_download_opts_default(&defaults);
        opts = &defaults;
    }
    if (strncmp(url, "http://", 7) != 0 && strncmp(url, "https://", 8) != 0)
        return r2d_err(ctx, R2D_EINVAL, "%s: only http:// and https:// URLs can be downloaded", url);
    pthread_once(&download_once, download_global_init);
    if (download_init_result != CURLE_OK)
        return r2d_err(ctx, R2D_ENETWORK, "libcurl initialisation failed: %s",
                       curl_easy_strerror(download_init_result));
    curl = curl_easy_init();
    if (!curl)
        return r2d_err(ctx, R2D_ENOMEM, "%s: cannot create a libcurl handle", url);
    sink.max_bytes = opts->max_bytes;
    for (int attempt = 0;; attempt++) {
        CURLcode res;
        long http = 0;
        int retry;
        int wait;

        rc = download_rewind(ctx, url, out_fd);
        if (rc)
            break;
        sink.written = 0;
        sink.too_big = 0;
        sink.write_errno = 0;
        errbuf[0] = 0;
        download_setup(curl, url, opts, &sink, errbuf);
        r2d_log(ctx, R2D_LOG_INFO, "downloading %s%s", url, attempt ? " (retry)" : "");
        res = curl_easy_perform(curl);
        curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &http);
        rc = download_outcome(ctx, url, res, http, &sink, errbuf, opts->timeout, &retry);
        if (rc == 0 || !retry || attempt >= opts->retries)
            break;
        wait = attempt < 3 ? 1 << attempt : DOWNLOAD_MAX_BACKOFF;
        r2d_log(ctx, R2D_LOG_INFO, "%s; retrying in %d s (%d of %d)", r2d_errmsg(ctx), wait, attempt + 1,
                opts->retries);
        if (download_backoff(ctx, wait)) {
            rc = r2d_err(ctx, R2D_ECANCELED, "%s: download interrupted", url);
            break;
        }
    }
    curl_easy_cleanup(curl);
    if (rc == 0) {
        r2d_log(ctx, R2D_LOG_INFO, "downloaded %" PRIu64 " bytes from %s", sink.written, url);
        if (size_out)
            *size_out = sink.written;
    }
    return rc;
}

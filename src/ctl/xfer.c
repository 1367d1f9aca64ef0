/*
 * ctl/xfer: the small helpers backup and restore share: telling formats
 * apart, hiding passwords, taking their own options out of argv before the
 * common parser (cli.c) sees the rest, and clocks.
 */
#include "ctl/xfer.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/hlc.h"
#include "ctl/ctl.h"

struct xfer_source *xfer_open_source(const char *arg, uint64_t pg_id, char *err, size_t errlen)
{
    switch (xfer_format_of(arg)) {
    case XFER_FMT_PG:
        return ctl_pg_source(arg, pg_id, err, errlen);
    case XFER_FMT_JSONL:
        return ctl_jsonl_source(arg, err, errlen);
    case XFER_FMT_SNAPSHOT:
        break;
    }
    return ctl_snapfile_source(arg, err, errlen);
}

static bool has_prefix(const char *s, const char *p) { return strncmp(s, p, strlen(p)) == 0; }

enum xfer_format xfer_format_of(const char *arg)
{
    size_t n = strlen(arg);
    if (has_prefix(arg, "postgresql://") || has_prefix(arg, "postgres://"))
        return XFER_FMT_PG;
    if (n >= 6 && strcmp(arg + n - 6, ".jsonl") == 0)
        return XFER_FMT_JSONL;
    return XFER_FMT_SNAPSHOT;
}

/* Copy s[0..n) to out at *o, within outlen (always leaving room for NUL). */
static void put(char *out, size_t outlen, size_t *o, const char *s, size_t n)
{
    if (*o + n >= outlen)
        n = outlen - *o - 1;
    memcpy(out + *o, s, n);
    *o += n;
}

void xfer_redact(char *out, size_t outlen, const char *arg)
{
    size_t o = 0;
    if (outlen == 0)
        return;
    const char *scheme = strstr(arg, "://");
    const char *p = arg;
    if (scheme) {
        const char *auth = scheme + 3;
        /* as libpq reads it: user info ends at the first '@' before any '/'
         * ('?' does not end it: "u:pa?ss@h" is password "pa?ss") */
        const char *at = strpbrk(auth, "@/");
        const char *colon = at && *at == '@' ? memchr(auth, ':', (size_t)(at - auth)) : NULL;
        if (colon) { /* user:password@ */
            put(out, outlen, &o, arg, (size_t)(colon + 1 - arg));
            put(out, outlen, &o, "***", 3);
            p = at;
        }
    }
    while (*p) {
        const char *pw = strstr(p, "password=");
        if (!pw) {
            put(out, outlen, &o, p, strlen(p));
            break;
        }
        put(out, outlen, &o, p, (size_t)(pw + 9 - p));
        put(out, outlen, &o, "***", 3);
        p = pw + 9 + strcspn(pw + 9, "& ");
    }
    out[o] = '\0';
}

static void drop(int *argc, char **argv, int i, int k)
{
    memmove(argv + i, argv + i + k, (size_t)(*argc - i - k + 1) * sizeof(*argv));
    *argc -= k;
}

bool xfer_take_value(const char *cmd, int *argc, char **argv, const char *name,
                     const char **value)
{
    size_t n = strlen(name);
    *value = NULL;
    for (int i = 1; i < *argc; i++) {
        if (strcmp(argv[i], "--") == 0)
            break;
        const char *v = NULL;
        int k;
        if (strcmp(argv[i], name) == 0) {
            if (i + 1 >= *argc) {
                ctl_usage_error(cmd, "%s needs a value after it", name);
                return false;
            }
            v = argv[i + 1];
            k = 2;
        } else if (strncmp(argv[i], name, n) == 0 && argv[i][n] == '=') {
            v = argv[i] + n + 1;
            k = 1;
        } else {
            continue;
        }
        if (*value) {
            ctl_usage_error(cmd, "%s given twice", name);
            return false;
        }
        if (!*v) {
            ctl_usage_error(cmd, "%s needs a non-empty value", name);
            return false;
        }
        *value = v;
        drop(argc, argv, i, k);
        i--;
    }
    return true;
}

void xfer_take_flag(int *argc, char **argv, const char *name, bool *flag)
{
    *flag = false;
    for (int i = 1; i < *argc; i++) {
        if (strcmp(argv[i], "--") == 0)
            break;
        if (strcmp(argv[i], name) == 0) {
            *flag = true;
            drop(argc, argv, i, 1);
            i--;
        }
    }
}

/* Set by the signal handler, read by the one thread that runs the command:
 * the process owns it, for the length of a backup or restore. */
static volatile sig_atomic_t interrupted;

static void on_signal(int sig)
{
    interrupted = 1;
    signal(sig, SIG_DFL); /* a second ^C kills at once */
}

void xfer_catch_signals(void)
{
    struct sigaction sa = {.sa_handler = on_signal};
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
}

bool xfer_interrupted(void) { return interrupted != 0; }

uint32_t xfer_now(void) { return (uint32_t)time(NULL); }

uint64_t xfer_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

#define HLC_LOW_BITS (HLC_NODE_BITS + HLC_LOGICAL_BITS)

uint64_t xfer_version_ms(uint64_t v) { return (v >> HLC_LOW_BITS) + HLC_EPOCH_MS; }

uint64_t xfer_version_at(uint64_t ms)
{
    return ms <= HLC_EPOCH_MS ? 0 : (ms - HLC_EPOCH_MS) << HLC_LOW_BITS;
}

bool xfer_file_commit(FILE *f, const char *tmp, const char *path, char *err, size_t errlen)
{
    bool ok = fflush(f) == 0 && !ferror(f) && fsync(fileno(f)) == 0;
    int e = errno;
    if (fclose(f) != 0 && ok) {
        ok = false;
        e = errno;
    }
    if (ok && rename(tmp, path) != 0) {
        ok = false;
        e = errno;
    }
    if (!ok) {
        snprintf(err, errlen, "%s: cannot write the backup: %s (is the disk full?)", tmp,
                 strerror(e));
        unlink(tmp);
        return false;
    }
    char *copy = strdup(path);
    int dfd = copy ? open(dirname(copy), O_RDONLY | O_DIRECTORY | O_CLOEXEC) : -1;
    if (dfd >= 0) { /* the rename itself must survive a crash */
        fsync(dfd);
        close(dfd);
    }
    free(copy);
    return true;
}

/*
 * snapshot dir: the files of a --snapshot-dir.
 *
 * A snapshot is named "snapshot-<created_ms>-<node>.tsnap", the time zero
 * padded to 13 digits so `ls` shows them in order too. Only names of exactly
 * that shape count: an operator's notes, a backup copied in by hand or a
 * file named by another tool is never listed, loaded or deleted. The
 * writer's "<name>.tmp" files are left by a crash mid-write; pruning
 * removes them.
 */
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "snapshot/snapshot.h"

#define PREFIX "snapshot-"

void snap_dir_name(char *out, size_t outlen, const char *dir, uint64_t created_ms, uint16_t node)
{
    snprintf(out, outlen, "%s/" PREFIX "%013" PRIu64 "-%u" SNAP_SUFFIX, dir, created_ms,
             (unsigned)node);
}

/* Parse "snapshot-<digits>-<digits>.tsnap" (+ ".tmp" if tmp); the time into *ms. */
static bool parse_name(const char *name, bool tmp, uint64_t *ms)
{
    size_t plen = strlen(PREFIX);
    if (strncmp(name, PREFIX, plen) != 0)
        return false;
    const char *p = name + plen;
    uint64_t v = 0;
    const char *d = p;
    while (*p >= '0' && *p <= '9' && p - d < 20)
        v = v * 10 + (uint64_t)(*p++ - '0');
    if (p == d || *p++ != '-')
        return false;
    d = p;
    while (*p >= '0' && *p <= '9' && p - d < 6)
        p++;
    if (p == d)
        return false;
    const char *want = tmp ? SNAP_SUFFIX ".tmp" : SNAP_SUFFIX;
    if (strcmp(p, want) != 0)
        return false;
    *ms = v;
    return true;
}

struct entry {
    char *path;
    uint64_t ms;
};

/* Newest first; names with the same time by name, descending. */
static int by_time_desc(const void *a, const void *b)
{
    const struct entry *x = a, *y = b;
    if (x->ms != y->ms)
        return x->ms < y->ms ? 1 : -1;
    return -strcmp(x->path, y->path);
}

/* Matching files in dir, newest first; -1 with err set on failure. */
static int list(const char *dir, bool tmp, struct entry **out, char *err, size_t errlen)
{
    DIR *d = opendir(dir);
    if (!d) {
        snprintf(err, errlen, "%s: cannot read the snapshot directory: %s", dir,
                 strerror(errno));
        return -1;
    }
    struct entry *v = NULL;
    int n = 0, cap = 0;
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        uint64_t ms;
        if (!parse_name(de->d_name, tmp, &ms))
            continue;
        if (n == cap) {
            int ncap = cap ? cap * 2 : 16;
            struct entry *nv = realloc(v, (size_t)ncap * sizeof(*nv));
            if (!nv)
                goto oom;
            v = nv;
            cap = ncap;
        }
        size_t len = strlen(dir) + strlen(de->d_name) + 2;
        if (!(v[n].path = malloc(len)))
            goto oom;
        snprintf(v[n].path, len, "%s/%s", dir, de->d_name);
        v[n++].ms = ms;
    }
    closedir(d);
    if (n > 1)
        qsort(v, (size_t)n, sizeof(*v), by_time_desc);
    *out = v;
    return n;
oom:
    closedir(d);
    for (int i = 0; i < n; i++)
        free(v[i].path);
    free(v);
    snprintf(err, errlen, "%s: out of memory listing snapshots", dir);
    return -1;
}

int snap_dir_list(const char *dir, char ***paths, char *err, size_t errlen)
{
    struct entry *v = NULL;
    int n = list(dir, false, &v, err, errlen);
    if (n < 0)
        return -1;
    char **p = malloc((size_t)(n ? n : 1) * sizeof(*p));
    if (!p) {
        for (int i = 0; i < n; i++)
            free(v[i].path);
        free(v);
        snprintf(err, errlen, "%s: out of memory listing snapshots", dir);
        return -1;
    }
    for (int i = 0; i < n; i++)
        p[i] = v[i].path;
    free(v);
    *paths = p;
    return n;
}

void snap_dir_free(char **paths, int n)
{
    if (!paths)
        return;
    for (int i = 0; i < n; i++)
        free(paths[i]);
    free(paths);
}

void snap_dir_prune(const char *dir, int keep)
{
    char err[256];
    for (int pass = 0; pass < 2; pass++) {
        bool tmp = pass == 1;
        struct entry *v = NULL;
        int n = list(dir, tmp, &v, err, sizeof(err));
        for (int i = 0; i < n; i++) {
            if (tmp || i >= keep)
                unlink(v[i].path);
            free(v[i].path);
        }
        free(v);
    }
}

/*
 * settings_conf: reading Debian's /etc/memcached.conf format (--config FILE).
 *
 * Debian's systemd-memcached-wrapper reads the file line by line: it cuts
 * every '#' not preceded by a backslash to the end of the line, trims the
 * line, skips empty ones and ones starting with "-d" or "-h", treats a line
 * not starting with '-' that has an argument as a directive (`logfile PATH`;
 * the wrapper ignores it, start-memcached redirects the daemon's output
 * there), then joins the remaining lines with spaces and hands them to
 * /bin/sh. We do the same
 * without a shell: each line is split into words with sh's quoting rules
 * ('single', "double" with \" \\ \$ \` escapes, and backslash escapes outside
 * quotes), and all the words go through the command line's parser, so an
 * option's value may even sit alone on the next line as it may for the
 * wrapper. Any other directive is an error rather than silently ignored.
 * Unlike sh, $VAR and `cmd` are not expanded; they stay as written.
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server/settings.h"
#include "server/settings_int.h"

#define CONF_MAX_BYTES (1024 * 1024) /* a config file is small; refuse a runaway one */

struct words {
    char **v;
    int *lines;
    int n, cap;
};

static void words_free(struct words *w)
{
    for (int i = 0; i < w->n; i++)
        settings_wipe_free(w->v[i]); /* a word may be --repl-password's value */
    free(w->v);
    free(w->lines);
}

static bool words_push(struct words *w, const char *word, size_t n, int line)
{
    if (w->n == w->cap) {
        int cap = w->cap ? w->cap * 2 : 32;
        char **v = realloc(w->v, (size_t)cap * sizeof(*v));
        if (!v)
            return false;
        w->v = v;
        int *l = realloc(w->lines, (size_t)cap * sizeof(*l));
        if (!l)
            return false;
        w->lines = l;
        w->cap = cap;
    }
    if (!(w->v[w->n] = strndup(word, n)))
        return false;
    w->lines[w->n++] = line;
    return true;
}

/* Cut the comment (an unescaped '#' and the rest) and trim; returns the start. */
static char *strip_line(char *line)
{
    for (char *p = line; *p; p++) {
        if (*p == '#' && (p == line || p[-1] != '\\')) {
            *p = '\0';
            break;
        }
    }
    char *end = line + strlen(line);
    while (end > line && isspace((unsigned char)end[-1]))
        *--end = '\0';
    while (isspace((unsigned char)*line))
        line++;
    return line;
}

/* One quoted or unquoted run of a word, appended to out[*k]. */
static const char *scan_part(const char *p, char *out, size_t *k, bool *ok)
{
    if (*p == '\'') {
        for (p++; *p && *p != '\''; p++)
            out[(*k)++] = *p;
    } else if (*p == '"') {
        for (p++; *p && *p != '"'; p++) {
            if (*p == '\\' && p[1] && strchr("\\\"$`", p[1]))
                p++;
            out[(*k)++] = *p;
        }
    } else {
        if (*p == '\\' && p[1])
            p++;
        out[(*k)++] = *p;
        return p + 1;
    }
    *ok = *p != '\0';
    return *p ? p + 1 : p;
}

/* Split one option line into words with sh's quoting rules. */
static int split_words(struct settings_ctx *c, struct words *w, const char *p, int line)
{
    size_t size = strlen(p) + 1;
    char *word = malloc(size);
    if (!word)
        return settings_fail(c, SETTINGS_EXIT_FAIL, "out of memory");
    int rc = 0;
    while (rc == 0 && *p) {
        if (isspace((unsigned char)*p)) {
            p++;
            continue;
        }
        size_t k = 0;
        bool ok = true;
        while (ok && *p && !isspace((unsigned char)*p))
            p = scan_part(p, word, &k, &ok);
        if (!ok)
            rc = settings_fail(c, SETTINGS_EXIT_FAIL, "unterminated quote");
        else if (!words_push(w, word, k, line))
            rc = settings_fail(c, SETTINGS_EXIT_FAIL, "out of memory");
    }
    explicit_bzero(word, size);
    free(word);
    return rc;
}

/* A line that does not start with '-'. Like the systemd wrapper, a single
 * word is passed on as a word (it may be the value of an option ending the
 * previous line); otherwise it is a directive, and only `logfile PATH` exists. */
static int other_line(struct settings_ctx *c, struct words *w, const char *line)
{
    size_t n = strcspn(line, " \t");
    const char *arg = line + n;
    while (isspace((unsigned char)*arg))
        arg++;
    bool logfile = n == 7 && strncmp(line, "logfile", 7) == 0;
    if (logfile && !*arg)
        return settings_fail(c, SETTINGS_EXIT_FAIL, "logfile needs a path");
    if (logfile)
        return settings_set_str(&c->s->logfile, arg)
                   ? 0
                   : settings_fail(c, SETTINGS_EXIT_FAIL, "out of memory");
    if (!*arg)
        return split_words(c, w, line, c->line);
    return settings_fail(c, SETTINGS_EXIT_FAIL,
                         "unknown directive \"%.*s\" (options start with '-'; the only "
                         "directive is \"logfile PATH\")",
                         (int)n, line);
}

static int conf_line(struct settings_ctx *c, struct words *w, char *raw)
{
    char *line = strip_line(raw);
    if (!*line)
        return 0;
    if (line[0] == '-' && (line[1] == 'd' || line[1] == 'h'))
        return 0; /* as Debian's wrapper: systemd keeps the daemon in the foreground */
    if (line[0] != '-')
        return other_line(c, w, line);
    return split_words(c, w, line, c->line);
}

static int read_words(struct settings_ctx *c, FILE *f, struct words *w)
{
    char *buf = NULL;
    size_t cap = 0, total = 0;
    ssize_t len;
    int rc = 0;
    while (rc == 0 && (len = getline(&buf, &cap, f)) != -1) {
        c->line++;
        total += (size_t)len;
        if (total > CONF_MAX_BYTES)
            rc = settings_fail(c, SETTINGS_EXIT_FAIL, "file larger than %d bytes",
                               CONF_MAX_BYTES);
        else if (memchr(buf, '\0', (size_t)len))
            rc = settings_fail(c, SETTINGS_EXIT_FAIL, "binary data (a NUL byte)");
        else
            rc = conf_line(c, w, buf);
    }
    if (rc == 0 && ferror(f))
        rc = settings_fail(c, SETTINGS_EXIT_FAIL, "read error: %s", strerror(errno));
    if (buf)
        explicit_bzero(buf, cap);
    free(buf);
    return rc;
}

int settings_read_config(struct settings_ctx *c, const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return settings_fail(c, SETTINGS_EXIT_FAIL, "cannot read config file %s: %s", path,
                             strerror(errno));
    struct words w = {0};
    const char *outer = c->file;
    int outer_line = c->line;
    c->file = path;
    c->line = 0;
    int rc = read_words(c, f, &w);
    fclose(f);
    if (rc == 0)
        rc = settings_run_words(c, w.v, w.n, w.lines);
    words_free(&w);
    if (rc == 0) { /* keep file:line in an error message; restore otherwise */
        c->file = outer;
        c->line = outer_line;
    }
    return rc;
}

#include "server/auth.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server/server.h"
#include "server/session.h"

#define AUTH_MAX_PAYLOAD 4096

struct entry {
    char *user, *pass;
    size_t nuser, npass;
};

/* Loaded at start and on SIGHUP by the main thread, read by workers; both
 * under `lock`. */
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static struct entry *entries;
static size_t nentries;

static void free_entries(struct entry *e, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(e[i].user); /* user and pass share one allocation */
    free(e);
}

bool auth_load(const char *path, char *err, size_t errlen)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        snprintf(err, errlen, "Could not open the auth file %s", path);
        return false;
    }
    struct entry *list = NULL;
    size_t n = 0, cap = 0;
    char line[1024];
    while (fgets(line, sizeof(line), f)) {
        size_t len = strcspn(line, "\r\n");
        line[len] = '\0';
        char *colon = strchr(line, ':');
        if (len == 0 || !colon)
            continue;
        if (n == cap) {
            cap = cap ? cap * 2 : 8;
            struct entry *grown = realloc(list, cap * sizeof(*list));
            if (!grown)
                break;
            list = grown;
        }
        char *copy = strdup(line);
        if (!copy)
            break;
        size_t ulen = (size_t)(colon - line);
        copy[ulen] = '\0';
        list[n++] = (struct entry){copy, copy + ulen + 1, ulen, len - ulen - 1};
    }
    fclose(f);
    pthread_mutex_lock(&lock);
    struct entry *old = entries;
    size_t nold = nentries;
    entries = list;
    nentries = n;
    pthread_mutex_unlock(&lock);
    free_entries(old, nold);
    return true;
}

bool auth_check(const char *user, size_t nuser, const char *pass, size_t npass)
{
    bool ok = false;
    pthread_mutex_lock(&lock);
    for (size_t i = 0; i < nentries && !ok; i++)
        ok = entries[i].nuser == nuser && entries[i].npass == npass &&
             memcmp(entries[i].user, user, nuser) == 0 && memcmp(entries[i].pass, pass, npass) == 0;
    pthread_mutex_unlock(&lock);
    return ok;
}

void auth_free(void)
{
    pthread_mutex_lock(&lock);
    free_entries(entries, nentries);
    entries = NULL;
    nentries = 0;
    pthread_mutex_unlock(&lock);
}

/* Split on spaces into at most `max` tokens; returns the count. */
static size_t split(const char *p, size_t n, struct proto_token *t, size_t max)
{
    size_t k = 0, i = 0;
    while (i < n && k < max) {
        while (i < n && p[i] == ' ')
            i++;
        size_t start = i;
        while (i < n && p[i] != ' ')
            i++;
        if (i > start)
            t[k++] = (struct proto_token){p + start, i - start};
    }
    return k;
}

enum conn_action auth_process(struct conn *c, struct session *s, bool *need_more)
{
    struct tstats *st = conn_thread(c)->stats;
    const char *p = conn_rdata(c);
    size_t avail = conn_rlen(c);
    const char *nl = memchr(p, '\n', avail);
    if (!nl) {
        *need_more = avail <= PROTO_LINE_MAX;
        return *need_more ? CONN_WAIT : CONN_CLOSE;
    }
    size_t line = (size_t)(nl - p) + 1;
    size_t body = line - 1 - (line > 1 && nl[-1] == '\r');
    struct proto_token tok[6];
    size_t nt = split(p, body, tok, 6);
    uint32_t size;
    if (nt < 5 || tok[0].n != 3 || memcmp(tok[0].p, "set", 3) != 0 ||
        !proto_parse_u32(tok[4].p, tok[4].n, &size)) {
        conn_consume(c, line);
        session_reply(c, "CLIENT_ERROR unauthenticated", false);
        return CONN_WAIT;
    }
    if (size > AUTH_MAX_PAYLOAD) {
        conn_consume(c, line);
        session_reply(c, "CLIENT_ERROR bad authentication token format", false);
        session_swallow(s, (uint64_t)size + 2);
        return CONN_WAIT;
    }
    if (avail < line + size + 2) {
        *need_more = true;
        return CONN_WAIT;
    }
    const char *payload = p + line;
    conn_consume(c, line + size + 2);
    if (memcmp(payload + size, "\r\n", 2) != 0) {
        session_reply(c, "CLIENT_ERROR bad command line termination", false);
        return CONN_WAIT;
    }
    struct proto_token cred[3];
    if (split(payload, size, cred, 3) < 2) {
        session_reply(c, "CLIENT_ERROR bad authentication token format", false);
        return CONN_WAIT;
    }
    TSTAT_INC(st, auth_cmds); /* memcached counts only well-formed attempts */
    if (auth_check(cred[0].p, cred[0].n, cred[1].p, cred[1].n)) {
        s->authenticated = true;
        session_reply(c, "STORED", false);
    } else {
        TSTAT_INC(st, auth_errors);
        session_reply(c, "CLIENT_ERROR authentication failure", false);
    }
    return CONN_WAIT;
}

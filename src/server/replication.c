/*
 * replication: tandemd's side of the replication engine (src/repl): building
 * its configuration from the settings, and refusing writes on a replica.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

#include "core/hlc.h"
#include "repl/auth.h"
#include "repl/repl.h"
#include "server/cmd.h"
#include "server/session.h"
#include "server/settings.h"

/* A node id that differs between nodes without configuration: a hash of the
 * addresses this node serves on (two nodes never share all of them). */
static uint16_t derive_node_id(const struct settings *st)
{
    char id[256];
    snprintf(id, sizeof(id), "%s|%d|%d|%s", st->inter ? st->inter : "", st->port, st->repl_port,
             st->socketpath ? st->socketpath : "");
    return (uint16_t)(1 + XXH3_64bits(id, strlen(id)) % HLC_MAX_NODE);
}

struct repl *server_repl_create(const struct settings *st, char *err, size_t errlen)
{
    struct repl_config rc = {
        .node_id = st->node_id_given ? (uint16_t)st->node_id : derive_node_id(st),
        .port = st->repl_port,
        .read_only = st->replica_of_host != NULL,
        .user = st->repl_user,
        .cluster = "tandem",
        .min_acks = (unsigned)st->repl_min_acks,
    };
    /* the replication listener binds where clients are served */
    static char bind[256]; /* read only by repl_start, before main returns */
    snprintf(bind, sizeof(bind), "%s", st->inter ? st->inter : "127.0.0.1");
    char *comma = strchr(bind, ',');
    if (comma)
        *comma = '\0';
    rc.bind_addr = bind;
    if (st->replica_of_host) {
        rc.up[rc.nup++] = (struct repl_upstream_config){st->replica_of_host,
                                                        st->replica_of_port, true};
    }
    for (int i = 0; i < st->npeers && rc.nup < REPL_MAX_UPSTREAMS; i++) {
        const struct settings_peer *p = &st->peers[i];
        rc.up[rc.nup++] = (struct repl_upstream_config){
            p->host, p->port ? p->port : st->repl_port, false};
    }
    if (st->repl_password_file) {
        char why[256] = "";
        enum repl_auth_status as =
            repl_auth_secret_load(st->repl_password_file, &rc.secret, why, sizeof(why));
        if (as != REPL_AUTH_OK) {
            snprintf(err, errlen, "--repl-password-file %s: %s", st->repl_password_file,
                     why[0] ? why : repl_auth_strerror(as));
            return NULL;
        }
    } else if (st->repl_password) {
        rc.secret = repl_auth_secret_new(st->repl_password, strlen(st->repl_password));
        if (!rc.secret) {
            snprintf(err, errlen, "--repl-password is empty or too long");
            return NULL;
        }
    }
    hlc_set_node(rc.node_id);
    return repl_create(&rc, err, errlen); /* owns the secret from here on */
}

/* Is this request a write a replica must refuse? */
static bool is_write(const struct proto_req *req)
{
    switch (req->cmd) {
    case PROTO_CMD_SET:
    case PROTO_CMD_ADD:
    case PROTO_CMD_REPLACE:
    case PROTO_CMD_APPEND:
    case PROTO_CMD_PREPEND:
    case PROTO_CMD_CAS:
    case PROTO_CMD_DELETE:
    case PROTO_CMD_INCR:
    case PROTO_CMD_DECR:
    case PROTO_CMD_TOUCH:
    case PROTO_CMD_GAT:
    case PROTO_CMD_GATS:
    case PROTO_CMD_FLUSH_ALL:
    case PROTO_CMD_MS:
    case PROTO_CMD_MD:
    case PROTO_CMD_MA: return true;
    case PROTO_CMD_MG: return proto_meta_has(&req->meta, 'T') || proto_meta_has(&req->meta, 'N');
    default: return false;
    }
}

bool cmd_refuse_on_replica(struct conn *c, struct session *s, const struct proto_req *req)
{
    struct server *srv = conn_thread(c)->srv;
    if (!srv->repl || !repl_read_only(srv->repl) || !is_write(req))
        return false;
    char master[96], line[160];
    repl_master(srv->repl, master, sizeof(master));
    snprintf(line, sizeof(line), "SERVER_ERROR read-only replica of %s", master);
    bool meta = req->cmd == PROTO_CMD_MS || req->cmd == PROTO_CMD_MD || req->cmd == PROTO_CMD_MA ||
                req->cmd == PROTO_CMD_MG;
    session_reply(c, line, req->noreply && !meta);
    if (req->cmd >= PROTO_CMD_SET && req->cmd <= PROTO_CMD_CAS)
        session_swallow(s, (uint64_t)req->nbytes + 2);
    else if (req->cmd == PROTO_CMD_MS)
        session_swallow(s, (uint64_t)req->nbytes + 2);
    return true;
}

/* --repl-sync-wait error: data commands get a clear error until this node
 * has its peers' data. */
bool cmd_refuse_while_syncing(struct conn *c, struct session *s, const struct proto_req *req)
{
    struct server *srv = conn_thread(c)->srv;
    if (!srv->sync_refuse || atomic_load_explicit(&srv->synced, memory_order_relaxed))
        return false;
    if (repl_synced(srv->repl)) {
        atomic_store(&srv->synced, true);
        return false;
    }
    bool data = (req->cmd >= PROTO_CMD_GET && req->cmd <= PROTO_CMD_TOUCH) ||
                (req->cmd >= PROTO_CMD_MG && req->cmd <= PROTO_CMD_MA) || req->cmd == PROTO_CMD_ME;
    if (!data)
        return false;
    session_reply(c, "SERVER_ERROR syncing with peers; try again shortly", false);
    if ((req->cmd >= PROTO_CMD_SET && req->cmd <= PROTO_CMD_CAS) || req->cmd == PROTO_CMD_MS)
        session_swallow(s, (uint64_t)req->nbytes + 2);
    return true;
}

/* "host:port" (the last colon splits, so [v6]:port works); false if malformed. */
static bool split_hostport(const struct proto_token *t, char *host, size_t hostlen, int *port)
{
    const char *colon = memrchr(t->p, ':', t->n);
    if (!colon || colon == t->p || (size_t)(colon - t->p) >= hostlen)
        return false;
    uint32_t p;
    if (!proto_parse_u32(colon + 1, t->n - (size_t)(colon - t->p) - 1, &p) || p == 0 ||
        p > 65535)
        return false;
    size_t n = (size_t)(colon - t->p);
    if (t->p[0] == '[' && colon[-1] == ']') { /* [::1]:11212 */
        memcpy(host, t->p + 1, n - 2);
        host[n - 2] = '\0';
    } else {
        memcpy(host, t->p, n);
        host[n] = '\0';
    }
    *port = (int)p;
    return true;
}

enum conn_action cmd_replication_run(struct conn *c, const struct proto_req *req)
{
    struct server *srv = conn_thread(c)->srv;
    const struct proto_token *t = req->tokens;
    bool promote = req->ntokens == 2 && t[1].n == 7 && memcmp(t[1].p, "promote", 7) == 0;
    bool follow = req->ntokens == 3 && t[1].n == 6 && memcmp(t[1].p, "follow", 6) == 0;
    char host[80], err[200];
    int port = 0;
    if (!promote && !(follow && split_hostport(&t[2], host, sizeof(host), &port))) {
        session_reply(c, "CLIENT_ERROR usage: replication promote | replication follow "
                         "HOST:REPLPORT", false);
        return CONN_WAIT;
    }
    if (!srv->repl) {
        session_reply(c, "SERVER_ERROR replication is off on this node (start it with "
                         "--repl-port)", false);
        return CONN_WAIT;
    }
    bool ok = promote ? repl_promote(srv->repl, err, sizeof(err))
                      : repl_follow(srv->repl, host, port, err, sizeof(err));
    char line[256];
    snprintf(line, sizeof(line), ok ? "OK" : "SERVER_ERROR %s", err);
    session_reply(c, line, false);
    return CONN_WAIT;
}

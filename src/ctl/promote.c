/*
 * ctl/promote: `tandemctl promote NEW_MASTER [--follow HOST:PORT,...]`.
 *
 * Manual failover for master→replica setups (src/repl/failover.c):
 *   1. check that NEW_MASTER is a replica, and find its replication port;
 *   2. `replication promote` on it: it stops following and takes writes;
 *   3. `replication follow NEWHOST:REPLPORT` on each --follow node: the
 *      other replicas, and the old master if it is reachable (demoting it,
 *      so clients that still reach it can no longer write there).
 * Each step is printed as it happens, so an operator sees where a failover
 * stopped if one node does not answer. Exit 0 when every step succeeded.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl/ctl.h"
#include "ctl/stats.h"

/* Send one command that answers a single line; OK is success. */
static bool one_line(struct ctl_conn *c, const char *cmd)
{
    char *line;
    size_t len;
    if (ctl_conn_send_str(c, cmd) != CTL_OK || ctl_conn_readline(c, &line, &len) != CTL_OK)
        return false;
    if (strcmp(line, "OK") == 0)
        return true;
    if (!ctl_conn_error_reply(c, line, len))
        ctl_conn_bad_reply(c, line, len);
    return false;
}

/* NEW_MASTER's role and replication port; false with a message printed. */
static bool inspect(struct ctl_conn *c, char *role, size_t rolelen, char *port, size_t portlen)
{
    struct ctl_stats repl = {0};
    bool ok = false;
    if (ctl_stats_fetch(c, "replication", &repl) != CTL_OK) {
        if (c->unknown_cmd)
            snprintf(c->err, sizeof(c->err), "not a Tandem node (no `stats replication`)");
        goto out;
    }
    const char *r = ctl_stats_get(&repl, "role"), *p = ctl_stats_get(&repl, "repl_port");
    if (!r || !p || strcmp(r, "standalone") == 0 || strcmp(p, "0") == 0) {
        snprintf(c->err, sizeof(c->err), "replication is off on this node");
        goto out;
    }
    snprintf(role, rolelen, "%s", r);
    snprintf(port, portlen, "%s", p);
    ok = true;
out:
    ctl_stats_free(&repl);
    return ok;
}

/* Tell one node to follow master (host:replport); prints the outcome. */
static bool repoint(const char *addr, const char *master, int timeout_ms)
{
    struct ctl_conn c;
    char cmd[400];
    snprintf(cmd, sizeof(cmd), "replication follow %s\r\n", master);
    bool ok = ctl_conn_open(&c, addr, timeout_ms) == CTL_OK && one_line(&c, cmd);
    if (ok)
        printf("%s: now follows %s\n", addr, master);
    else
        ctl_report("promote", &c);
    ctl_conn_close(&c);
    return ok;
}

static int run(int argc, char **argv)
{
    const char *follow = NULL;
    /* --follow LIST is ours; the shared parser handles the rest */
    int n = 1;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--follow") == 0 && i + 1 < argc)
            follow = argv[++i];
        else if (strncmp(argv[i], "--follow=", 9) == 0)
            follow = argv[i] + 9;
        else
            argv[n++] = argv[i];
    }
    struct ctl_opts o = {.timeout_ms = CTL_DEFAULT_TIMEOUT_MS};
    if (!ctl_opts_parse("promote", n, argv, CTL_OPT_TIMEOUT, &o))
        return CTL_EXIT_ERROR;
    if (o.help) {
        fputs(ctl_promote_command.help, stdout);
        return CTL_EXIT_OK;
    }
    if (o.nargs != 1) {
        ctl_usage_error("promote", "takes one address, the replica to promote");
        return CTL_EXIT_ERROR;
    }
    const char *addr = o.args[0];
    char host[CTL_ADDR_MAX], cport[16], role[32], rport[16];
    if (!ctl_addr_split(addr, host, sizeof(host), cport, sizeof(cport))) {
        ctl_usage_error("promote", "'%s' is not HOST:PORT", addr);
        return CTL_EXIT_ERROR;
    }
    struct ctl_conn c;
    if (ctl_conn_open(&c, addr, o.timeout_ms) != CTL_OK ||
        !inspect(&c, role, sizeof(role), rport, sizeof(rport))) {
        ctl_report("promote", &c);
        ctl_conn_close(&c);
        return CTL_EXIT_ERROR;
    }
    if (strcmp(role, "replica") == 0) {
        if (!one_line(&c, "replication promote\r\n")) {
            ctl_report("promote", &c);
            ctl_conn_close(&c);
            return CTL_EXIT_ERROR;
        }
        printf("%s: promoted to master\n", addr);
    } else if (strcmp(role, "master") == 0) {
        printf("%s: already a master\n", addr);
    } else {
        fprintf(stderr, "tandemctl promote: %s: a %s node has no master; multi-master nodes "
                        "need no failover\n", addr, role);
        ctl_conn_close(&c);
        return CTL_EXIT_ERROR;
    }
    ctl_conn_close(&c);

    char master[CTL_ADDR_MAX + 24];
    snprintf(master, sizeof(master), strchr(host, ':') ? "[%s]:%s" : "%s:%s", host, rport);
    bool all = true;
    char *list = follow ? strdup(follow) : NULL, *save = NULL;
    for (char *a = list ? strtok_r(list, ",", &save) : NULL; a; a = strtok_r(NULL, ",", &save))
        all &= repoint(a, master, o.timeout_ms);
    free(list);
    return all ? CTL_EXIT_OK : CTL_EXIT_ERROR;
}

const struct ctl_command ctl_promote_command = {
    .name = "promote",
    .summary = "make a replica the master, and point other nodes at it",
    .help =
        "usage: tandemctl promote HOST:PORT [--follow HOST:PORT,...] [--timeout SEC]\n"
        "\n"
        "Manual failover. HOST:PORT is the client port of the replica to promote:\n"
        "it stops following its master and takes writes. Each node in --follow\n"
        "(the other replicas, and the old master if it still runs) is then told to\n"
        "follow the new master's replication port; a sync merges by version, so\n"
        "they keep everything the new master has. Demote the old master before its\n"
        "clients come back: what it accepts after the promotion stays on it alone.\n"
        "\n"
        "  --follow LIST  comma-separated client addresses to re-point\n"
        "  --timeout SEC  give up when a node makes no progress for SEC seconds\n"
        "\n"
        "Exit status: 0 if every step succeeded, 1 otherwise (each step is printed).\n",
    .run = run,
};

/*
 * tandem-proxy: command line, config check, and the event loop.
 *
 * The flags are nutcracker's, so an init script written for twemproxy runs
 * unchanged: -c FILE, -t (check the config and exit), -v N (nutcracker's
 * 0-11 levels, mapped onto ours), -o FILE, -p PIDFILE, -d, -h, -V. The
 * stats flags (-s -a -i) and -m are accepted and ignored: stats are served
 * by `stats` on each pool's own port, and buffers grow as needed.
 *
 * One thread, one libevent loop (see proxy.h for the objects). SIGTERM and
 * SIGINT stop the loop and free everything, so sanitizers see a clean exit.
 */
#include <errno.h>
#include <event2/event.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/log.h"
#include "proxy/proxy.h"

static void usage(FILE *out)
{
    fprintf(out,
            "Usage: tandem-proxy [-?hVdDt] [-v verbosity level] [-o output file]\n"
            "                    [-c conf file] [-p pid file]\n"
            "\n"
            "Options:\n"
            "  -h, --help             this help\n"
            "  -V, --version          print the version and exit\n"
            "  -t, --test-conf        check the configuration file and exit\n"
            "  -d, --daemonize        run as a daemon\n"
            "  -D, --describe-stats   list the stats counters and exit\n"
            "  -v, --verbose=N        log level, nutcracker's 0-11 (default 5: errors;\n"
            "                         6: backend failures, 7-8: connections, 9+: trace)\n"
            "  -o, --output=FILE      log to FILE instead of stderr\n"
            "  -c, --conf-file=FILE   pool file (default: conf/nutcracker.yml)\n"
            "  -p, --pid-file=FILE    write the process id to FILE\n"
            "  -s, -a, -i, -m         accepted for nutcracker compatibility, ignored\n"
            "                         (send `stats` to a pool's port instead)\n"
            "\n"
            "The pool file is twemproxy's YAML; see docs/proxy.md.\n");
}

static void describe_stats(void)
{
    printf("pool stats (STAT pool:<pool>:<name>):\n"
           "  client_connections total_client_connections rejected_clients client_eof\n"
           "  client_err requests errors fragments failovers servers live_servers replicas\n"
           "  latency_avg_us latency_p50_us latency_p99_us latency_max_us\n"
           "server stats (STAT server:<pool>:<host:port>:<name>):\n"
           "  requests errors server_errors timeouts ejections ejected connected connects\n"
           "  in_flight bytes_out bytes_in latency_avg_us latency_p50_us latency_p99_us\n"
           "  latency_max_us\n");
}

static int map_verbosity(int v)
{
    return v <= 5 ? LOG_ERROR : v == 6 ? LOG_INFO : v <= 8 ? LOG_DEBUG : LOG_TRACE;
}

static void on_signal(evutil_socket_t sig, short what, void *arg)
{
    (void)what;
    log_info("tandem-proxy: signal %d, exiting", (int)sig);
    event_base_loopbreak(arg);
}

static void print_conf(const struct conf *c)
{
    for (size_t i = 0; i < c->npools; i++) {
        const struct conf_pool *p = &c->pools[i];
        printf("pool %s: listen %s%s%d, %s/%s, %zu server%s, replicas %u, balance %s, "
               "read_from %s\n", p->name, p->listen_path ? p->listen_path : p->listen_host,
               p->listen_path ? " " : ":", p->listen_path ? 0 : p->listen_port,
               ring_dist_name(p->dist), ring_hash_name(p->hash), p->nservers,
               p->nservers == 1 ? "" : "s", p->replicas, conf_balance_name(p->balance),
               p->read_from == READ_FROM_ANY ? "any" : "primary");
    }
}

int main(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"help", no_argument, NULL, 'h'},          {"version", no_argument, NULL, 'V'},
        {"test-conf", no_argument, NULL, 't'},     {"daemonize", no_argument, NULL, 'd'},
        {"describe-stats", no_argument, NULL, 'D'}, {"verbose", required_argument, NULL, 'v'},
        {"output", required_argument, NULL, 'o'},  {"conf-file", required_argument, NULL, 'c'},
        {"pid-file", required_argument, NULL, 'p'}, {"stats-port", required_argument, NULL, 's'},
        {"stats-addr", required_argument, NULL, 'a'},
        {"stats-interval", required_argument, NULL, 'i'},
        {"mbuf-size", required_argument, NULL, 'm'}, {NULL, 0, NULL, 0},
    };
    const char *conf_file = "conf/nutcracker.yml", *out_file = NULL, *pid_file = NULL;
    bool test = false, daemonize = false;
    int opt;
    while ((opt = getopt_long(argc, argv, "hVtdDv:o:c:p:s:a:i:m:", longopts, NULL)) != -1) {
        switch (opt) {
        case 'h': usage(stdout); return 0;
        case 'V': printf("tandem-proxy %s\n", PX_VERSION); return 0;
        case 'D': describe_stats(); return 0;
        case 't': test = true; break;
        case 'd': daemonize = true; break;
        case 'v': log_set_level(map_verbosity(atoi(optarg))); break;
        case 'o': out_file = optarg; break;
        case 'c': conf_file = optarg; break;
        case 'p': pid_file = optarg; break;
        case 's': case 'a': case 'i': case 'm': break;
        default: usage(stderr); return 1;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "tandem-proxy: unexpected argument '%s'\n", argv[optind]);
        usage(stderr);
        return 1;
    }

    struct px px = {0};
    char err[1024];
    enum conf_status cst = conf_load(conf_file, &px.conf, err, sizeof(err));
    if (test) {
        if (cst != CONF_OK) {
            fprintf(stderr, "tandem-proxy: configuration file '%s' is invalid\n%s\n", conf_file, err);
            return 1;
        }
        printf("tandem-proxy: configuration file '%s' syntax is ok\n", conf_file);
        print_conf(&px.conf);
        conf_free(&px.conf);
        return 0;
    }
    if (cst != CONF_OK) {
        fprintf(stderr, "tandem-proxy: %s\n", err);
        return 1;
    }
    if (out_file && !freopen(out_file, "a", stderr)) {
        fprintf(stdout, "tandem-proxy: cannot open log file %s: %s\n", out_file, strerror(errno));
        return 1;
    }
    signal(SIGPIPE, SIG_IGN);
    px.base = event_base_new();
    if (!px.base) {
        fprintf(stderr, "tandem-proxy: cannot create the event loop\n");
        return 1;
    }
    int rc = 0;
    if (!px_start(&px, err, sizeof(err))) {
        fprintf(stderr, "tandem-proxy: %s\n", err[0] ? err : "out of memory");
        rc = 1;
        goto out;
    }
    if (daemonize && daemon(1, out_file ? 1 : 0) < 0) {
        fprintf(stderr, "tandem-proxy: cannot daemonize: %s\n", strerror(errno));
        rc = 1;
        goto out;
    }
    if (pid_file) {
        FILE *f = fopen(pid_file, "w");
        if (f) {
            fprintf(f, "%d\n", (int)getpid());
            fclose(f);
        } else {
            log_error("tandem-proxy: cannot write pid file %s: %s", pid_file, strerror(errno));
        }
    }
    struct event *sigterm = evsignal_new(px.base, SIGTERM, on_signal, px.base);
    struct event *sigint = evsignal_new(px.base, SIGINT, on_signal, px.base);
    if (sigterm)
        event_add(sigterm, NULL);
    if (sigint)
        event_add(sigint, NULL);
    for (size_t i = 0; i < px.conf.npools; i++)
        log_info("tandem-proxy: pool '%s' listening", px.conf.pools[i].name);
    event_base_dispatch(px.base);
    if (sigterm)
        event_free(sigterm);
    if (sigint)
        event_free(sigint);
    if (pid_file)
        unlink(pid_file);
out:
    px_stop(&px);
    event_base_free(px.base);
    conf_free(&px.conf);
    return rc;
}

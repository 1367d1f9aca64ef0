/*
 * listen: the sockets clients connect to (TCP, UNIX, UDP) and accepting.
 *
 * Accepting runs on the main thread's event loop; every accepted socket is
 * handed to a worker. With -c clients connected, a new client gets
 * memcached's "ERROR Too many open connections" and is closed at once.
 * (memcached also counts ~20 descriptors of its own against -c, because it
 * lowers the process's descriptor limit to -c; Tandem does not, so -c is
 * simply the number of clients.)
 */
#ifndef TANDEM_CORE_LISTEN_H
#define TANDEM_CORE_LISTEN_H

#include <stdbool.h>
#include <stddef.h>

#include "core/conn.h"
#include "core/worker.h"

struct event_base;

struct listen_config {
    const char *addrs;     /* comma-separated -l list; NULL or "" = all interfaces */
    int port;              /* TCP, 0 = none */
    int udp_port;          /* UDP, 0 = none */
    const char *unix_path; /* UNIX socket path; when set, no TCP/UDP (like memcached) */
    int unix_mask;         /* permission mask for the socket file (octal -a) */
    int backlog;
    unsigned maxconns;
};

/* Open every configured listener and start accepting on `base`, handing
 * connections to the workers. False with a message in err on failure. */
bool listen_start(struct event_base *base, const struct listen_config *cfg, struct worker *ws,
                  int nworkers, const struct conn_handler *h, char *err, size_t errlen);

/* The TCP port actually bound (useful with -p 0), or 0. */
int listen_tcp_port(void);

/* Is the server accepting connections right now? (stats accepting_conns) */
bool listen_accepting(void);

/* Call fn(fd, local_addr, is_udp, arg) for each listening socket (main or
 * worker thread; the list does not change after start). */
void listen_each(void (*fn)(int fd, const char *local, bool udp, void *arg), void *arg);

/* How many TCP/UNIX listeners are open (memcached counts them as connections). */
int listen_count(void);

/* Stop accepting and close the listening sockets (UDP sockets are closed
 * with their workers). */
void listen_stop(void);

#endif

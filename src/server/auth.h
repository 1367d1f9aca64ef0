/*
 * auth: memcached's ASCII authentication (-Y FILE).
 *
 * The file holds "user:pass" lines. Until a connection authenticates, every
 * request gets "CLIENT_ERROR unauthenticated"; a client authenticates by
 * sending "set <any> <any> <any> <len>\r\n<user> <pass>\r\n". SIGHUP reloads
 * the file.
 */
#ifndef TANDEM_SERVER_AUTH_H
#define TANDEM_SERVER_AUTH_H

#include <stdbool.h>
#include <stddef.h>

#include "core/conn.h"

struct session;

/* (Re)load the file; on failure the previous contents stay in force. */
bool auth_load(const char *path, char *err, size_t errlen);

/* Does this user/password pair appear in the file? */
bool auth_check(const char *user, size_t nuser, const char *pass, size_t npass);

/* Forget the loaded entries (at exit). */
void auth_free(void);

/* Handle input on a connection that has not authenticated yet. Returns
 * CONN_WAIT when it needs more bytes or after answering one request. */
enum conn_action auth_process(struct conn *c, struct session *s, bool *need_more);

#endif

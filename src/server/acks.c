/*
 * acks: the client side of --repl-min-acks.
 *
 * After each request, the session asks whether it logged a write (the
 * thread's log position moved). If it did, the connection parks with the
 * reply held in its output until `min_acks` subscribers acknowledged that
 * position (src/repl/acks.c wakes it) or --repl-ack-timeout passes. On a
 * timeout the held text reply is replaced by a SERVER_ERROR that says the
 * write was made here but not confirmed: the client learns exactly what it
 * asked to know. Requests pipelined behind the write wait with it, so
 * replies stay in order. UDP requests are answered at once.
 */
#include <event2/event.h>
#include <stdio.h>

#include "core/clock.h"
#include "repl/repl.h"
#include "server/session.h"
#include "server/settings.h"

bool acks_park(struct conn *c, struct session *s, uint64_t pos_before, size_t hold)
{
    struct server *srv = conn_thread(c)->srv;
    uint64_t pos = repl_thread_pos();
    if (!srv->repl || pos == pos_before || c->kind == CONN_UDP || repl_min_acks(srv->repl) == 0)
        return false;
    struct event *ev = conn_wake_event(c);
    if (!ev)
        return false; /* out of memory: answer without waiting */
    s->ack.w = (struct repl_waiter){.pos = pos, .ev = ev};
    if (repl_wait(srv->repl, &s->ack.w))
        return false;
    int ms = srv->settings->repl_ack_timeout;
    s->ack.waiting = true;
    s->ack.hold = hold;
    s->ack.deadline_ms = clock_now_ms() + (uint64_t)ms;
    struct timeval tv = {ms / 1000, (ms % 1000) * 1000};
    event_add(ev, &tv);
    return true;
}

bool acks_resume(struct conn *c, struct session *s)
{
    struct server *srv = conn_thread(c)->srv;
    unsigned want = repl_min_acks(srv->repl);
    unsigned got = repl_acked(srv->repl, s->ack.w.pos);
    if (got < want) {
        uint64_t now = clock_now_ms();
        if (now < s->ack.deadline_ms) { /* woken early: wait out the rest */
            uint64_t left = s->ack.deadline_ms - now;
            struct timeval tv = {(time_t)(left / 1000), (suseconds_t)(left % 1000) * 1000};
            event_add(s->ack.w.ev, &tv);
            return true;
        }
        repl_wait_cancel(srv->repl, &s->ack.w);
        if (s->proto == SESS_TEXT && c->wbuf.len > s->ack.hold) {
            c->wbuf.len = s->ack.hold;
            char line[160];
            snprintf(line, sizeof(line),
                     "SERVER_ERROR written here but confirmed by %u of %u replicas within %d ms",
                     got, want, srv->settings->repl_ack_timeout);
            session_reply(c, line, false);
        }
    }
    s->ack.waiting = false;
    return false;
}

void acks_cancel(struct conn *c, struct session *s)
{
    if (s->ack.waiting)
        repl_wait_cancel(conn_thread(c)->srv->repl, &s->ack.w);
    s->ack.waiting = false;
}

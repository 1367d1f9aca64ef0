/*
 * buf: a growable byte buffer for requests and responses.
 *
 * Appends never fail from the caller's point of view: if memory runs out the
 * buffer sets `oom` and drops further data, and the connection that owns it
 * closes once it notices. That keeps every response writer free of error
 * plumbing while never sending a half-formed reply as if it were whole.
 */
#ifndef TANDEM_CORE_BUF_H
#define TANDEM_CORE_BUF_H

#include <stdbool.h>
#include <stddef.h>

struct buf {
    char *data;
    size_t len; /* bytes in use */
    size_t cap; /* bytes allocated */
    bool oom;   /* an append failed; contents are incomplete */
};

/* Release the memory and reset to empty. */
void buf_free(struct buf *b);

/* Make room for `extra` more bytes; false (and oom set) if impossible. */
bool buf_reserve(struct buf *b, size_t extra);

/* Append `n` bytes. */
void buf_append(struct buf *b, const void *p, size_t n);

/* Append a NUL-terminated string. */
void buf_puts(struct buf *b, const char *s);

/* Append printf-style formatted text. */
void buf_printf(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Write the decimal form of `v` at p (at most 20 bytes); returns the end. */
static inline char *buf_fmt_u64(char *p, unsigned long long v)
{
    char tmp[20];
    int i = (int)sizeof(tmp);
    do {
        tmp[--i] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    for (; i < (int)sizeof(tmp); i++)
        *p++ = tmp[i];
    return p;
}

/* Append the decimal form of `v`. */
void buf_put_u64(struct buf *b, unsigned long long v);

/* Drop the first `n` bytes, keeping the rest. */
void buf_consume(struct buf *b, size_t n);

/* Drop everything, keeping the allocation. */
static inline void buf_reset(struct buf *b) { b->len = 0; }

#endif

/*
 * ctl/b64: standard base64 (RFC 4648, with '=' padding), as memcached's
 * meta `b` flag and the JSON lines format use it.
 */
#ifndef TANDEM_CTL_B64_H
#define TANDEM_CTL_B64_H

#include <stdbool.h>
#include <stddef.h>

/* Encoded length of n bytes. */
#define CTL_B64_LEN(n) (((n) + 2) / 3 * 4)

/* Encode in[0..n) into out (room for CTL_B64_LEN(n)); the length written. */
size_t ctl_b64_encode(char *out, const void *in, size_t n);

/* Decode in[0..n) into out (room for n / 4 * 3); the length, or -1 if in is
 * not canonical padded base64. */
long ctl_b64_decode(void *out, const char *in, size_t n);

/* True if every byte of k is printable ASCII other than space: the key can
 * go on a text-protocol command line as it is (else it goes base64 with b). */
bool ctl_key_is_plain(const char *k, size_t n);

#endif

/*
 * libFuzzer target for proxy/rsp, the backend reply parser: the first byte
 * picks the request kind, the rest is what a (possibly hostile) backend sent.
 * The input is fed the way the proxy's server loop feeds it: growing
 * prefixes with the parse state kept, replies consumed as they complete.
 * Invariants:
 *
 *   - a complete reply never claims more bytes than were given, and its
 *     length is the same whether its bytes came at once or in pieces;
 *   - a shorter prefix of a complete reply is never complete;
 *   - walking a complete retrieval reply with rsp_next_value() stays inside it.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proxy/rsp.h"

#include "fuzz_check.h"

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size);

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
    if (size < 1)
        return 0;
    enum rsp_kind kind = (enum rsp_kind)(data[0] % (RSP_KIND_OK + 1));
    const char *buf = (const char *)data + 1;
    size_t len = size - 1, pos = 0;
    unsigned step = (unsigned)(data[0] / 8) + 1; /* how the bytes trickle in */
    while (pos < len) {
        struct rsp whole = {0}, piece = {0};
        enum rsp_status st = rsp_parse(kind, buf + pos, len - pos, &whole);
        if (st != RSP_OK)
            break;
        CHECK(whole.len > 0 && whole.len <= len - pos);
        /* the same bytes in pieces: complete exactly at whole.len */
        enum rsp_status ps = RSP_NEED_MORE;
        for (size_t have = step < whole.len ? step : whole.len;; have += step) {
            if (have > whole.len)
                have = whole.len;
            ps = rsp_parse(kind, buf + pos, have, &piece);
            if (ps != RSP_NEED_MORE || have == whole.len)
                break;
        }
        CHECK(ps == RSP_OK);
        CHECK(piece.len == whole.len && piece.cls == whole.cls);
        if (kind == RSP_KIND_RETRIEVAL) {
            size_t vp = 0, nkey, blen;
            const char *key;
            while (rsp_next_value(buf + pos, whole.len, &vp, &key, &nkey, &blen)) {
                CHECK(vp <= whole.len);
                CHECK(key >= buf + pos && key + nkey <= buf + pos + whole.len);
            }
        }
        pos += whole.len;
    }
    return 0;
}

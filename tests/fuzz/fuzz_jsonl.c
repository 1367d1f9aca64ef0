/*
 * libFuzzer target for ctl/jsonl, the JSON lines backup decoder. The input
 * is one line (a person may have edited the file, or it may be damaged).
 * Invariants:
 *
 *   - decoding never reads or writes outside the line, and a refusal says
 *     where ("column N: ...", N within the line plus one);
 *   - a line that decodes re-encodes to one ASCII line that decodes to the
 *     same record (round trip), and encoding that record again gives the
 *     same bytes (the encoder's output is a fixed point).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl/jsonl.h"
#include "fuzz_check.h"

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size);

static void encode(struct buf *b, const struct ctl_jsonl_rec *r)
{
    switch (r->kind) {
    case CTL_JSONL_HEADER:
        ctl_jsonl_encode_header(b, &r->meta);
        break;
    case CTL_JSONL_ITEM:
        ctl_jsonl_encode_item(b, &r->item);
        break;
    case CTL_JSONL_END:
        ctl_jsonl_encode_end(b, r->records);
        break;
    }
}

static bool same_str(const char *a, const char *b)
{
    return (!a && !b) || (a && b && strcmp(a, b) == 0);
}

static bool same_bytes(const char *a, size_t na, const char *b, size_t nb)
{
    return na == nb && (na == 0 || memcmp(a, b, na) == 0);
}

static bool same(const struct ctl_jsonl_rec *a, const struct ctl_jsonl_rec *b)
{
    if (a->kind != b->kind)
        return false;
    switch (a->kind) {
    case CTL_JSONL_HEADER:
        return a->meta.node == b->meta.node && a->meta.created_ms == b->meta.created_ms &&
               a->meta.history == b->meta.history && a->meta.log_pos == b->meta.log_pos &&
               same_str(a->meta.source, b->meta.source) &&
               same_str(a->meta.server, b->meta.server);
    case CTL_JSONL_ITEM:
        return a->item.kind == b->item.kind && a->item.flags == b->item.flags &&
               a->item.exptime == b->item.exptime && a->item.version == b->item.version &&
               a->item.binary_key == b->item.binary_key &&
               same_bytes(a->item.key, a->item.nkey, b->item.key, b->item.nkey) &&
               same_bytes(a->item.value, a->item.nvalue, b->item.value, b->item.nvalue);
    case CTL_JSONL_END:
        return a->records == b->records;
    }
    return false;
}

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
    /* an exact-size copy, so ASan sees any access past the line */
    char *line = malloc(size ? size : 1);
    CHECK(line);
    memcpy(line, data, size);
    char err[256] = "";
    struct ctl_jsonl_rec r1;
    if (!ctl_jsonl_decode(line, size, &r1, err, sizeof(err))) {
        size_t col = 0;
        CHECK(sscanf(err, "column %zu: ", &col) == 1);
        CHECK(col >= 1 && col <= size + 1);
        CHECK(strlen(err) > strlen("column 1: "));
        free(line);
        return 0;
    }
    if (r1.kind == CTL_JSONL_ITEM)
        CHECK(r1.item.nkey >= 1 && r1.item.nkey <= 250);

    struct buf b1 = {0}, b2 = {0};
    encode(&b1, &r1);
    CHECK(!b1.oom && b1.len > 0 && b1.data[b1.len - 1] == '\n');
    for (size_t i = 0; i + 1 < b1.len; i++)
        CHECK(b1.data[i] >= 0x20 && b1.data[i] <= 0x7e);

    /* decode a copy (decoding is in place); r1 still points into line */
    char *line2 = malloc(b1.len);
    CHECK(line2);
    memcpy(line2, b1.data, b1.len);
    struct ctl_jsonl_rec r2;
    if (!ctl_jsonl_decode(line2, b1.len - 1, &r2, err, sizeof(err))) {
        fprintf(stderr, "re-encoded line does not decode: %s\n%.*s", err, (int)b1.len, b1.data);
        abort();
    }
    CHECK(same(&r1, &r2));
    encode(&b2, &r2);
    CHECK(b2.len == b1.len && memcmp(b1.data, b2.data, b1.len) == 0);

    buf_free(&b1);
    buf_free(&b2);
    free(line2);
    free(line);
    return 0;
}

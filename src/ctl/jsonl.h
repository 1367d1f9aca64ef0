/*
 * ctl/jsonl: the JSON lines backup format, one JSON object per line.
 *
 *   {"format":"tandem-jsonl","format_version":1,"node":1,"created_ms":...,
 *    "history":0,"log_pos":0,"source":"127.0.0.1:11211","server":"tandemd"}
 *   {"key":"user:1","value":"hello","flags":0,"exptime":0,"version":4660...}
 *   {"key_b64":"AAEC","value_b64":"/wA=","flags":7,"exptime":1767225600,
 *    "version":4660...,"binary_key":true}
 *   {"end":true,"records":2}
 *
 * The rule for key and value is the same: bytes that are all printable
 * ASCII (0x20..0x7e; for values also tab, LF and CR) are written as a JSON
 * string under "key" / "value"; anything else is written base64 under
 * "key_b64" / "value_b64". So every file is plain ASCII, text stays
 * readable and diffable, and binary data round-trips exactly. exptime is
 * absolute Unix seconds (0 = never); version is the item's HLC version.
 * binary_key (absent = false) says the key was stored with meta `b`.
 *
 * The header line comes first and the end line last; its count must match,
 * so a truncated file is detected. Readers ignore members they do not
 * know, so later versions can add some; a text "value" may hold any JSON
 * escapes or UTF-8 a person typed, which become their UTF-8 bytes.
 *
 * Encoding appends to a struct buf; decoding works in place on a line
 * (decoded strings are never longer than their JSON form) and points the
 * result into it. Pure functions: no I/O, no state.
 */
#ifndef TANDEM_CTL_JSONL_H
#define TANDEM_CTL_JSONL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"
#include "ctl/xfer.h"

#define CTL_JSONL_FORMAT "tandem-jsonl"
#define CTL_JSONL_VERSION 1

enum ctl_jsonl_kind { CTL_JSONL_HEADER, CTL_JSONL_ITEM, CTL_JSONL_END };

struct ctl_jsonl_rec {
    enum ctl_jsonl_kind kind;
    struct xfer_item item;  /* ITEM: key and value point into the line */
    struct xfer_meta meta;  /* HEADER: source and server point into the line */
    uint64_t records;       /* END */
};

/* Append the header, an item (kind XFER_SET) or the end line, each with "\n". */
void ctl_jsonl_encode_header(struct buf *b, const struct xfer_meta *m);
void ctl_jsonl_encode_item(struct buf *b, const struct xfer_item *it);
void ctl_jsonl_encode_end(struct buf *b, uint64_t records);

/* Decode one line (without its "\n"), in place. False with err set to what
 * is wrong and at which byte of the line ("column 12: ..."). */
bool ctl_jsonl_decode(char *line, size_t n, struct ctl_jsonl_rec *out, char *err,
                      size_t errlen);

#endif

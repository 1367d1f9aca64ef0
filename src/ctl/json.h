/*
 * ctl/json: the few helpers tandemctl needs to print one JSON object.
 *
 * Output is always valid JSON: strings escape quotes, backslashes, control
 * bytes and bytes >= 0x80 (as \u00XX, so a stray non-UTF-8 byte in an error
 * message cannot make the document unparseable).
 */
#ifndef TANDEM_CTL_JSON_H
#define TANDEM_CTL_JSON_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

/* Write s as a JSON string, or null if s is NULL. */
void ctl_json_str(FILE *f, const char *s);

/* Write `"name": ` with the separator: first is cleared after the first member. */
void ctl_json_key(FILE *f, bool *first, const char *name);

/* Write an unsigned number, or null if !have. */
void ctl_json_u64(FILE *f, bool have, uint64_t v);

#endif

/*
 * ctl/json: string escaping and member separators for tandemctl's --json.
 */
#include "ctl/json.h"

void ctl_json_str(FILE *f, const char *s)
{
    if (!s) {
        fputs("null", f);
        return;
    }
    fputc('"', f);
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p == '"' || *p == '\\')
            fprintf(f, "\\%c", *p);
        else if (*p < 0x20 || *p >= 0x7f)
            fprintf(f, "\\u%04x", *p);
        else
            fputc(*p, f);
    }
    fputc('"', f);
}

void ctl_json_key(FILE *f, bool *first, const char *name)
{
    if (!*first)
        fputs(", ", f);
    *first = false;
    ctl_json_str(f, name);
    fputs(": ", f);
}

void ctl_json_u64(FILE *f, bool have, uint64_t v)
{
    if (have)
        fprintf(f, "%llu", (unsigned long long)v);
    else
        fputs("null", f);
}

/*
 * ctl/cli: option parsing and error reporting shared by the subcommands.
 *
 * Options are long (--json, --timeout SEC or --timeout=SEC) plus -h; they
 * may come before or after the addresses, as operators type them in any
 * order. Whatever is not recognised is an error that names it: a typo must
 * never be mistaken for an address.
 */
#include "ctl/ctl.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void ctl_usage_error(const char *cmd, const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "tandemctl %s: ", cmd);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, " (see 'tandemctl help %s')\n", cmd);
}

void ctl_print_key(const char *k, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)k[i];
        if (ch > 0x20 && ch < 0x7f && ch != '%')
            putchar(ch);
        else
            printf("%%%02X", ch);
    }
}

void ctl_report(const char *cmd, const struct ctl_conn *c)
{
    fprintf(stderr, "tandemctl %s: %s: %s\n", cmd, c->addr, c->err);
}

static bool parse_timeout(const char *cmd, const char *v, int *ms)
{
    char *end;
    errno = 0;
    double s = v ? strtod(v, &end) : 0;
    if (!v) {
        ctl_usage_error(cmd, "--timeout needs a number of seconds after it");
        return false;
    }
    if (errno || end == v || *end || !isfinite(s) || s <= 0 || s > 86400) {
        ctl_usage_error(cmd, "--timeout needs a number of seconds above 0 and up to 86400, "
                        "got '%s'", v);
        return false;
    }
    *ms = s * 1000 < 1 ? 1 : (int)(s * 1000);
    return true;
}

/* One option at argv[*i] (which may consume the next argument). */
static bool one_option(const char *cmd, int argc, char **argv, int *i, unsigned allowed,
                       struct ctl_opts *o)
{
    const char *a = argv[*i];
    if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
        o->help = true;
        return true;
    }
    if ((allowed & CTL_OPT_JSON) && strcmp(a, "--json") == 0) {
        o->json = true;
        return true;
    }
    if ((allowed & CTL_OPT_VALUES) && strcmp(a, "--values") == 0) {
        o->values = true;
        return true;
    }
    if ((allowed & CTL_OPT_TIMEOUT) && strncmp(a, "--timeout=", 10) == 0)
        return parse_timeout(cmd, a + 10, &o->timeout_ms);
    if ((allowed & CTL_OPT_TIMEOUT) && strcmp(a, "--timeout") == 0) {
        const char *v = *i + 1 < argc ? argv[++*i] : NULL;
        return parse_timeout(cmd, v, &o->timeout_ms);
    }
    ctl_usage_error(cmd, "unknown option '%s'", a);
    return false;
}

bool ctl_opts_parse(const char *cmd, int argc, char **argv, unsigned allowed,
                    struct ctl_opts *o)
{
    *o = (struct ctl_opts){.timeout_ms = CTL_DEFAULT_TIMEOUT_MS, .args = argv + 1};
    bool options = true;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (options && strcmp(a, "--") == 0) {
            options = false;
        } else if (options && a[0] == '-' && a[1] != '\0') {
            if (!one_option(cmd, argc, argv, &i, allowed, o))
                return false;
        } else {
            o->args[o->nargs++] = argv[i];
        }
    }
    return true;
}

/*
 * ctl: tandemctl's subcommands and the command-line plumbing they share.
 *
 * Each subcommand is one file exporting one `struct ctl_command`; main.c
 * lists them. Adding a subcommand (backup, restore, ...) is a new file and
 * one line in main.c's table. Subcommands talk to nodes through the client
 * library (client, stats, metadump, values, keyset, json), which does no
 * printing of its own.
 */
#ifndef TANDEM_CTL_CTL_H
#define TANDEM_CTL_CTL_H

#include <stdbool.h>
#include <stddef.h>

#include "ctl/client.h"

/* Exit codes shared by every subcommand. */
enum {
    CTL_EXIT_OK = 0,
    CTL_EXIT_ERROR = 1,  /* bad usage, unreachable node, protocol error */
    CTL_EXIT_DIFFER = 2, /* verify: nodes hold different data */
};

struct ctl_command {
    const char *name;
    const char *summary; /* one line for the command list */
    const char *help;    /* full usage text */
    int (*run)(int argc, char **argv); /* argv[0] is the command name */
};

extern const struct ctl_command ctl_status_command;
extern const struct ctl_command ctl_verify_command;
extern const struct ctl_command ctl_backup_command;
extern const struct ctl_command ctl_restore_command;
extern const struct ctl_command ctl_inspect_command;
extern const struct ctl_command ctl_ring_command;
extern const struct ctl_command ctl_rebalance_command;
extern const struct ctl_command ctl_promote_command;

/* Options a subcommand may accept (a bitmask for ctl_opts_parse). */
enum {
    CTL_OPT_JSON = 1 << 0,
    CTL_OPT_VALUES = 1 << 1,
    CTL_OPT_TIMEOUT = 1 << 2,
};

#define CTL_DEFAULT_TIMEOUT_MS 10000

struct ctl_opts {
    int timeout_ms;
    bool json, values, help;
    char **args; /* positional arguments, in order */
    int nargs;
};

/* Parse argv[1..argc) of subcommand `cmd`, accepting the options in
 * `allowed` anywhere ("--" ends them). On a bad or unknown option, print a
 * message naming it and return false. Positional arguments are compacted
 * into argv itself. */
bool ctl_opts_parse(const char *cmd, int argc, char **argv, unsigned allowed,
                    struct ctl_opts *o);

/* Print a key to stdout as itself, except bytes that would break columns or
 * hide (space, control, non-ASCII, '%'), which print as %XX as metadump
 * encodes them. */
void ctl_print_key(const char *k, size_t n);

/* Print "tandemctl <cmd>: <addr>: <why>" for a failed connection. */
void ctl_report(const char *cmd, const struct ctl_conn *c);

/* Print "tandemctl <cmd>: <message>" and the hint to see its help. */
void ctl_usage_error(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif

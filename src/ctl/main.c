/*
 * tandemctl: the operator tool. main() only finds the subcommand and hands
 * it the rest of the command line; each subcommand lives in its own file
 * (status.c, verify.c, ...) and is listed once in `commands` below.
 */
#include <stdio.h>
#include <string.h>

#include "ctl/ctl.h"

static const struct ctl_command *const commands[] = {
    &ctl_status_command,
    &ctl_verify_command,
    &ctl_backup_command,
    &ctl_restore_command,
    &ctl_inspect_command,
    &ctl_ring_command,
    &ctl_rebalance_command,
    &ctl_promote_command,
};

#define NCOMMANDS (sizeof(commands) / sizeof(commands[0]))

static void usage(FILE *f)
{
    fprintf(f, "usage: tandemctl COMMAND [ARGS...]\n"
               "       tandemctl help [COMMAND]\n"
               "\n"
               "The operator tool for Tandem (tandemd) nodes; status and verify also work\n"
               "against stock memcached. Addresses are HOST:PORT of a node's client port\n"
               "([v6addr]:PORT for IPv6; the port defaults to 11211).\n"
               "\n"
               "Nodes started with -Y (memcached's ASCII login): set TANDEM_AUTH_FILE to a\n"
               "file whose first line is user:password (the node's -Y file will do).\n"
               "\n"
               "commands:\n");
    for (size_t i = 0; i < NCOMMANDS; i++)
        fprintf(f, "  %-10s %s\n", commands[i]->name, commands[i]->summary);
    fprintf(f, "  %-10s %s\n", "help", "show this text, or a command's usage and options");
    fprintf(f, "\n");
    for (size_t i = 0; i < NCOMMANDS; i++)
        fprintf(f, "%s\n", commands[i]->help);
}

static const struct ctl_command *find(const char *name)
{
    for (size_t i = 0; i < NCOMMANDS; i++)
        if (strcmp(commands[i]->name, name) == 0)
            return commands[i];
    return NULL;
}

static int unknown(const char *name)
{
    fprintf(stderr, "tandemctl: unknown command '%s' (commands:", name);
    for (size_t i = 0; i < NCOMMANDS; i++)
        fprintf(stderr, " %s", commands[i]->name);
    fprintf(stderr, " help; see 'tandemctl -h')\n");
    return CTL_EXIT_ERROR;
}

static int help(int argc, char **argv)
{
    if (argc < 2) {
        usage(stdout);
        return CTL_EXIT_OK;
    }
    if (argc > 2) {
        fprintf(stderr, "tandemctl help: takes at most one command name, got %d\n", argc - 1);
        return CTL_EXIT_ERROR;
    }
    const struct ctl_command *c = find(argv[1]);
    if (!c)
        return unknown(argv[1]);
    fputs(c->help, stdout);
    return CTL_EXIT_OK;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return CTL_EXIT_ERROR;
    }
    const char *name = argv[1];
    if (strcmp(name, "-h") == 0 || strcmp(name, "--help") == 0 || strcmp(name, "help") == 0)
        return help(argc - 1, argv + 1);
    if (name[0] == '-') {
        fprintf(stderr, "tandemctl: unknown option '%s' (options go after the command; "
                        "see 'tandemctl -h')\n", name);
        return CTL_EXIT_ERROR;
    }
    const struct ctl_command *c = find(name);
    if (!c)
        return unknown(name);
    int rc = c->run(argc - 1, argv + 1);
    if (fflush(stdout) != 0 || ferror(stdout)) {
        perror("tandemctl: writing the output");
        return CTL_EXIT_ERROR;
    }
    return rc;
}

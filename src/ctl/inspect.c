/*
 * ctl/inspect: `tandemctl inspect`. Placeholder until the command lands.
 */
#include <stdio.h>

#include "ctl/ctl.h"

static int run(int argc, char **argv)
{
    (void)argc;
    fprintf(stderr, "tandemctl %s: not available yet\n", argv[0]);
    return CTL_EXIT_ERROR;
}

const struct ctl_command ctl_inspect_command = {
    .name = "inspect",
    .summary = "check a snapshot or backup file and describe it",
    .help = "usage: tandemctl inspect (not available yet)\n",
    .run = run,
};

/*
 * ctl/promote: `tandemctl promote`. Placeholder until the command lands.
 */
#include <stdio.h>

#include "ctl/ctl.h"

static int run(int argc, char **argv)
{
    (void)argc;
    fprintf(stderr, "tandemctl %s: not available yet\n", argv[0]);
    return CTL_EXIT_ERROR;
}

const struct ctl_command ctl_promote_command = {
    .name = "promote",
    .summary = "make a replica a master",
    .help = "usage: tandemctl promote (not available yet)\n",
    .run = run,
};

/*
 * ctl/rebalance: `tandemctl rebalance`. Placeholder until the command lands.
 */
#include <stdio.h>

#include "ctl/ctl.h"

static int run(int argc, char **argv)
{
    (void)argc;
    fprintf(stderr, "tandemctl %s: not available yet\n", argv[0]);
    return CTL_EXIT_ERROR;
}

const struct ctl_command ctl_rebalance_command = {
    .name = "rebalance",
    .summary = "move keys whose owner changes when the server list changes",
    .help = "usage: tandemctl rebalance (not available yet)\n",
    .run = run,
};

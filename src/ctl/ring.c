/*
 * ctl/ring: `tandemctl ring`. Placeholder until the command lands.
 */
#include <stdio.h>

#include "ctl/ctl.h"

static int run(int argc, char **argv)
{
    (void)argc;
    fprintf(stderr, "tandemctl %s: not available yet\n", argv[0]);
    return CTL_EXIT_ERROR;
}

const struct ctl_command ctl_ring_command = {
    .name = "ring",
    .summary = "show which server owns each key (ketama or modula)",
    .help = "usage: tandemctl ring (not available yet)\n",
    .run = run,
};

/*
 * ctl/restore: `tandemctl restore`. Placeholder until the command lands.
 */
#include <stdio.h>

#include "ctl/ctl.h"

static int run(int argc, char **argv)
{
    (void)argc;
    fprintf(stderr, "tandemctl %s: not available yet\n", argv[0]);
    return CTL_EXIT_ERROR;
}

const struct ctl_command ctl_restore_command = {
    .name = "restore",
    .summary = "merge a backup into a node by last-writer-wins",
    .help = "usage: tandemctl restore (not available yet)\n",
    .run = run,
};

/*
 * ctl/backup: `tandemctl backup`. Placeholder until the command lands.
 */
#include <stdio.h>

#include "ctl/ctl.h"

static int run(int argc, char **argv)
{
    (void)argc;
    fprintf(stderr, "tandemctl %s: not available yet\n", argv[0]);
    return CTL_EXIT_ERROR;
}

const struct ctl_command ctl_backup_command = {
    .name = "backup",
    .summary = "copy a node's items to a file, JSON lines or PostgreSQL",
    .help = "usage: tandemctl backup (not available yet)\n",
    .run = run,
};

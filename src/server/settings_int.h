/*
 * settings_int: what the settings_*.c files share and nobody else needs.
 *
 * One struct settings_ctx lives for a whole settings_parse_args() call. The
 * command line and every --config file feed their words through the same
 * settings_run_words(), so an option behaves the same wherever it is written;
 * `file`/`line` only change how an error is reported.
 */
#ifndef TANDEM_SERVER_SETTINGS_INT_H
#define TANDEM_SERVER_SETTINGS_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "server/settings.h"

#define SETTINGS_PROG "tandemd"

/* memcached's exit statuses: plain `return 1` from main, and EX_USAGE. */
#define SETTINGS_EXIT_FAIL 1
#define SETTINGS_EXIT_USAGE 64

struct settings_ctx {
    struct settings *s;
    char *err;
    size_t errlen;
    const char *file;         /* config file being read; NULL on the command line */
    int line;                 /* line in `file` of the word being applied */
    char optname[40];         /* the option being applied, as spelled: "-p" or "--port" */
    bool tcp_specified;       /* -p seen (memcached: -U alone also moves -p) */
    bool udp_specified;       /* -U seen */
    bool protocol_specified;  /* -B seen (-S and -Y only pick a default) */
    bool slab_chunk_changed;  /* -o slab_chunk_max seen */
    bool inter_given;         /* an -l replaced the 127.0.0.1 default */
    bool after_X;             /* the previous word ended in -X (repcached's -X PORT) */
    bool snapshot_interval_given;
    bool repl_port_given;     /* --repl-port seen (else a clash with -p just disables it) */
    char *slab_sizes_raw;     /* -o slab_sizes, parsed in finish() like memcached does */
};

/* Write "file:line: " (in a config file) and the message into c->err, set
 * c->s->exit_code, and return -1. */
int settings_fail(struct settings_ctx *c, int exit_code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Apply a word list (argv-style; lines[i] is words[i]'s line, or NULL).
 * 0 ok, 1 exit now (-h/-V/-i), -1 error. */
int settings_run_words(struct settings_ctx *c, char **words, int n, const int *lines);

/* Apply one -o argument (comma-separated sub-options). */
int settings_apply_subopts(struct settings_ctx *c, const char *list);

/* Read a config file and apply its options in place. */
int settings_read_config(struct settings_ctx *c, const char *path);

/* Replace *dst with a copy of src (NULL clears). False when out of memory. */
bool settings_set_str(char **dst, const char *src);

/* Wipe a secret string's bytes, then free it. */
void settings_wipe_free(char *p);

/* Strict decimal integer (optional sign, surrounding spaces allowed). */
bool settings_parse_ll(const char *str, long long *out);

/* Strict floating-point number. */
bool settings_parse_double(const char *str, double *out);

#endif

#include "core/log.h"

#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>

/* Set from the command line and the `verbosity` command; read by all threads. */
static _Atomic int level;

int log_level(void) { return atomic_load_explicit(&level, memory_order_relaxed); }

void log_set_level(int l)
{
    if (l < 0)
        l = 0;
    if (l > LOG_TRACE)
        l = LOG_TRACE;
    atomic_store_explicit(&level, l, memory_order_relaxed);
}

void log_msg(enum log_level l, const char *fmt, ...)
{
    if ((int)l > log_level())
        return;
    char line[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    /* One fputs per line keeps lines from different threads whole. */
    fprintf(stderr, "%s\n", line);
}

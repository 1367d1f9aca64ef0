/*
 * log: one line per event on stderr, filtered by verbosity.
 *
 * Levels follow memcached's -v flags: errors always print, -v adds warnings
 * and notices, -vv adds per-command detail, -vvv adds connection state.
 * Never pass a secret to these functions.
 */
#ifndef TANDEM_CORE_LOG_H
#define TANDEM_CORE_LOG_H

enum log_level { LOG_ERROR = 0, LOG_INFO = 1, LOG_DEBUG = 2, LOG_TRACE = 3 };

/* Current verbosity (0..3). */
int log_level(void);

/* Change verbosity; values are clamped to 0..3. */
void log_set_level(int level);

/* Print a formatted line at `level` if the verbosity allows it. */
void log_msg(enum log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define log_error(...) log_msg(LOG_ERROR, __VA_ARGS__)
#define log_info(...) log_msg(LOG_INFO, __VA_ARGS__)
#define log_debug(...) log_msg(LOG_DEBUG, __VA_ARGS__)
#define log_trace(...) log_msg(LOG_TRACE, __VA_ARGS__)

#endif

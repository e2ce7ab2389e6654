/* host/util/error.h — how host code reports failure.
 *
 * Library code in host/ returns 0 on success or -1 on failure and writes one line into a
 * caller-owned lh_error: the thing (file:line, plugin id, key) and what was expected, e.g.
 *   config examples/x.yaml:12: callbacks.early_stopping.mode: expected min or max, got "maz"
 * No trailing newline, no "lhost:" prefix: only the CLI (host/main.c) prints and exits. */
#ifndef LH_ERROR_H
#define LH_ERROR_H

#include <stddef.h>

typedef struct lh_error {
    char msg[1024];
} lh_error;

/* Overwrite the message (printf format). Returns -1 so callers can `return lh_error_set(...)`. */
int lh_error_set(lh_error *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Prepend context: "prefix: old message". Returns -1. */
int lh_error_wrap(lh_error *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif

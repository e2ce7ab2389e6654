/* host/cli/cmd_check.h — `lhost plugins check PATH.so`, the plugin conformance checker:
 * cmd_check.c runs the rules in child processes and reports, cmd_check_rules.c holds them.
 * `lhost plugins` hands its arguments here when the first one is "check". */
#ifndef LH_CMD_CHECK_H
#define LH_CMD_CHECK_H

#include "registry.h"

/* argv[0] is "check". Returns the exit code: 0 every rule passed, 1 some failed, 2 usage. */
int lh_cmd_plugins_check(int argc, char **argv);

/* One rule's verdict: pass, or the first reason it failed; a pass may carry a note. */
typedef struct lh_check_verdict {
    int pass;
    char reason[1200];
} lh_check_verdict;

/* Fail `v` with a reason (the first one stays). Returns -1. */
int lh_cmd_check_fail(lh_check_verdict *v, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Rule `rule` (descriptor, schema, hooks, state, order, leaks) on the loaded plugin `row`.
 * Returns 0 on pass, -1 on fail (reason in v). */
int lh_cmd_check_rule(const char *rule, const lh_plugin_row *row, lh_check_verdict *v);
/* The entry rule: dlopen `path` and call lhost_plugin_entry twice. */
int lh_cmd_check_entry(const char *path, lh_check_verdict *v);

#endif

/* host/cli/cmd_new_plugin.h — `lhost new-plugin`: render the SDK template (sdk/template, installed
 * as share/lhost/template) into a new plugin directory that builds against the installed SDK. */
#ifndef LH_CMD_NEW_PLUGIN_H
#define LH_CMD_NEW_PLUGIN_H

#include <stddef.h>

#include "error.h"

/* 1 if `name` is a valid plugin name: [a-z][a-z0-9_]*, at most 64 characters; else 0. It becomes
 * a C identifier part, a CMake target and a file name, so nothing else is allowed. */
int lh_cmd_new_plugin_name_ok(const char *name);

/* Find the template directory: the source tree's sdk/template when this program runs from the
 * build tree, else share/lhost/template next to the installed program (relocatable prefix), else
 * the configured install path. Writes it to `out`. Returns 0, or -1 with a message. */
int lh_cmd_new_plugin_template_dir(char *out, size_t n, lh_error *err);

/* Create directory `dir` (must not exist; its parent must) holding the template's top-level files
 * and those of its `kind` subfolder ("callback" or "metric"), with every "@NAME@" replaced by
 * `name`. On failure nothing is left behind. Returns 0 or -1 with a message. */
int lh_cmd_new_plugin_create(const char *template_dir, const char *name, const char *kind,
                         const char *dir, lh_error *err);

/* The command: argv[0] = "new-plugin", then NAME [--kind callback|metric] [--dir DIR].
 * Prints what it did (stdout) or why not (stderr). Returns 0 ok, 1 failure, 2 usage error. */
int lh_cmd_new_plugin(int argc, char **argv);

#endif

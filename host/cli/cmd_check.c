/* host/cli/cmd_check.c — `lhost plugins check PATH.so`: a conformance checker for one plugin
 * file, as clap-validator is for CLAP plugins.
 *
 * The file is first loaded as `lhost plugins` scans it (its entry in a child: a crash or hang
 * there is the "load" rule failing, or "descriptor" / "schema" when the registry refused what
 * the entry returned). Then each rule runs for each plugin of the file in a child process of
 * its own with a time limit, which loads the file again, so a plugin that crashes or hangs
 * fails that rule and the next rule still runs:
 *   descriptor  fields filled and in range (id, name, version, description, kind, vtable)
 *   schema      the parameter schema is valid and create() accepts its defaults
 *   hooks       a fit in Lightning's order over six epochs against the checker's host (a
 *               tiny real model behind the trainer's services, cmd_check_host.h), then a
 *               prediction pass and every other hook of LH_HOOK_MAP, with edge inputs: empty
 *               batches, one class, NaN / inf inputs (so gradients and logits turn NaN),
 *               NaN / inf values, monitored keys missing, a 4 KB exception message; metrics:
 *               empty batch, one class, NaN / inf scores; loggers: 4 KB keys and values, an
 *               empty row, NaN/inf. A hook may fail, but with a message and a legal status
 *   state       state_save -> state_restore into a fresh instance gives the same bytes, and
 *               the restored instance, resumed, behaves as the original going on from the
 *               same point (hook results, lines and values logged, stops, the model's
 *               weights); the final states' bytes must match too where a control run without
 *               a round trip saves the original's bytes (a wall-clock state does not: then
 *               behaviour alone is compared; the reasons are in rule_state)
 *   order       three partial metric states reduced in reverse order (cat rows reordered)
 *               and packed / unpacked equal one state updated with the three batches
 *   leaks       create/destroy cycles leak nothing: under valgrind (definite and indirect
 *               leaks) when it is installed, else the heap's in-use bytes may not grow
 *   entry       lhost_plugin_entry called twice describes the same plugins
 * A pass/fail line per rule with the reason, or --json; exit status 0 only when all pass.
 * The rules themselves are in cmd_check_rules.c; this file runs them and reports. */
#include "cmd_check.h"

#include <cjson/cJSON.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "args.h"
#include "child.h"
#include "registry.h"

#define RULE_TIMEOUT_S 10.0
#define LEAKS_TIMEOUT_S 120.0

static const lh_arg_opt check_opts[] = {
    {"json", 0, LH_ARG_FLAG, NULL, 0, "machine-readable output"},
    {"allow-insecure-plugins", 0, LH_ARG_FLAG, NULL, 0,
     "check a file writable by group or others or owned by another user"},
    {"rule", 0, LH_ARG_VALUE, "RULE", 0, "run only RULE (descriptor, schema, hooks, ...)"},
    {"in-process", 0, LH_ARG_FLAG, NULL, 0, "run the rules in this process (for valgrind)"},
    {NULL, 0, 0, NULL, 0, NULL},
};

static const lh_args_spec check_spec = {
    .cmd = "plugins check",
    .usage = "PATH.so [--json] [--rule RULE]",
    .about = "Check that a plugin file follows the lhost plugin ABI: descriptor, schema, hooks\n"
             "with edge inputs, state round trip, metric reduction order, leaks, entry twice.\n"
             "Each rule runs in a child process; exit status 0 only when every rule passes.\n",
    .opts = check_opts,
    .max_operands = 1,
    .operand = "PATH.so",
};

typedef struct check_job {
    const char *path, *id, *rule;
    int32_t allow_insecure;
} check_job;

/* ---- the children ----------------------------------------------------------------------- */

static const lh_plugin_row *find_row(const lh_registry *reg, const char *id)
{
    for (int32_t i = 0; i < lh_registry_count(reg); i++) {
        const lh_plugin_row *r = lh_registry_row(reg, i);
        if (r->desc && r->id && strcmp(r->id, id) == 0)
            return r;
    }
    return NULL;
}

/* [child] One rule for one plugin; the verdict goes to fd as "PASS reason" or "FAIL reason". */
static int rule_child(int fd, void *arg)
{
    const check_job *job = arg;
    lh_registry_opts opts = {0};
    lh_registry *reg;
    const lh_plugin_row *row;
    lh_error err;
    lh_check_verdict v = {1, ""};
    char dir[] = "/tmp/lhost-check-XXXXXX", cmd[64];
    FILE *f;
    opts.allow_insecure = job->allow_insecure;
    /* Whatever the plugin writes (checkpoints, logs) lands in a folder of its own. */
    if (!mkdtemp(dir) || chdir(dir) != 0)
        lh_cmd_check_fail(&v, "cannot make a temporary folder to run in");
    else if (strcmp(job->rule, "entry") == 0)
        lh_cmd_check_entry(job->path, &v);
    else if (lh_registry_open_file(&reg, job->path, &opts, NULL, &err) != 0)
        lh_cmd_check_fail(&v, "%s", err.msg);
    else {
        if (!(row = find_row(reg, job->id)))
            lh_cmd_check_fail(&v, "plugin %s did not load in-process as it did in the scan",
                              job->id);
        else
            lh_cmd_check_rule(job->rule, row, &v);
        lh_registry_close(reg);
    }
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (chdir("/") != 0 || system(cmd) != 0)
        fprintf(stderr, "lhost: plugins check: cannot remove %s\n", dir);
    if (!(f = fdopen(fd, "w")))
        return 5;
    fprintf(f, "%s %s", v.pass ? "PASS" : "FAIL", v.reason);
    return fclose(f) == 0 ? 0 : 6;
}

/* ---- the parent ------------------------------------------------------------------------- */

static const char *const rules[] = {"descriptor", "schema", "hooks", "state",
                                    "order",      "leaks",  "entry", NULL};

typedef struct report {
    cJSON *arr;
    int json, failed;
} report;

static void verdict_out(report *rp, const char *rule, const char *id, int pass,
                        const char *reason)
{
    if (!pass)
        rp->failed++;
    if (rp->json) {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "rule", rule);
        if (id)
            cJSON_AddStringToObject(o, "plugin", id);
        cJSON_AddBoolToObject(o, "pass", pass);
        cJSON_AddStringToObject(o, "reason", reason ? reason : "");
        cJSON_AddItemToArray(rp->arr, o);
        return;
    }
    printf("%s  %-10s %s%s%s\n", pass ? "PASS" : "FAIL", rule, id ? id : "",
           reason && *reason ? (id ? ": " : "") : "", reason ? reason : "");
}

/* The rule a registry refusal breaks: what the entry returned (descriptor, schema) or the
 * loading itself. */
static const char *refusal_rule(const char *reason)
{
    if (!reason)
        return "load";
    if (strncmp(reason, "bad parameter schema", 20) == 0)
        return "schema";
    if (strncmp(reason, "plugin id", 9) == 0 || strncmp(reason, "library declares", 16) == 0 ||
        strstr(reason, "struct_size") || strstr(reason, "descriptor"))
        return "descriptor";
    return "load";
}

/* The leak run's tool: valgrind, or in a sanitizer build (which valgrind cannot run)
 * LeakSanitizer, which reports at the run's exit. */
#if defined(__SANITIZE_ADDRESS__)
#define LEAK_TOOL "LeakSanitizer"
#define LEAK_RUN "env ASAN_OPTIONS=detect_leaks=1:exitcode=99"
#else
#define LEAK_TOOL "valgrind"
#define LEAK_RUN "valgrind -q --leak-check=full --errors-for-leak-kinds=definite,indirect " \
                 "--error-exitcode=99"
#endif

/* The leaks rule under the leak tool: this program again, in-process, the one rule. */
static int leaks_valgrind(const char *path, const char *id, int insecure, char *reason,
                          size_t cap)
{
    char cmd[8192], exe[4096];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    int st;
    (void)id;
    if (n <= 0)
        return -1;
    exe[n] = '\0';
    snprintf(cmd, sizeof cmd,
             "timeout -k 5 %d " LEAK_RUN " '%s' plugins check "
             "--rule leaks --in-process %s '%s' > /dev/null 2>&1",
             (int)LEAKS_TIMEOUT_S, exe, insecure ? "--allow-insecure-plugins" : "", path);
    st = system(cmd);
    if (st == -1 || !WIFEXITED(st))
        return snprintf(reason, cap, LEAK_TOOL " did not run"), 1;
    if (WEXITSTATUS(st) == 99)
        return snprintf(reason, cap, LEAK_TOOL " found definite or indirect leaks across "
                                     "create/destroy (run: valgrind --leak-check=full lhost "
                                     "plugins check --rule leaks --in-process %s)", path), 1;
    if (WEXITSTATUS(st) == 124 || WEXITSTATUS(st) == 137)
        return snprintf(reason, cap, "the leak run under " LEAK_TOOL " timed out after %d s",
                        (int)LEAKS_TIMEOUT_S), 1;
    if (WEXITSTATUS(st) != 0)
        return snprintf(reason, cap, "the leak run failed (status %d)", WEXITSTATUS(st)), 1;
    snprintf(reason, cap, LEAK_TOOL ": no leaks over 23 create/run/destroy cycles of each plugin");
    return 0;
}

/* The leak tool is there and this program is lhost, which the leak run executes again (from a
 * test binary, running itself again would run the tests again: the heap rule stands in). */
static int have_valgrind(void)
{
    char exe[4096];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    const char *base;
    if (n <= 0)
        return 0;
    exe[n] = '\0';
    base = strrchr(exe, '/') ? strrchr(exe, '/') + 1 : exe;
#if defined(__SANITIZE_ADDRESS__)
    return strcmp(base, "lhost") == 0;
#else
    return strcmp(base, "lhost") == 0 && system("command -v valgrind > /dev/null 2>&1") == 0;
#endif
}

static void check_plugin(report *rp, check_job *job, const char *only, int in_process)
{
    int runs = 1; /* schema and hooks passed: the plugin can be created and driven */
    for (int k = 0; rules[k]; k++) {
        char *out = NULL, reason[1300];
        lh_error err;
        int pass;
        if (only && strcmp(only, rules[k]) != 0)
            continue;
        job->rule = rules[k];
        if (strcmp(rules[k], "leaks") == 0 && !runs) {
            /* the leak run drives the plugin as hooks does: it would crash or hang again */
            verdict_out(rp, rules[k], job->id, 0, "not checked: the plugin did not pass schema "
                                                  "and hooks");
            continue;
        }
        if (strcmp(rules[k], "leaks") == 0 && !in_process && have_valgrind()) {
            /* one valgrind run covers every plugin of the file (its start is the slow part) */
            static char file_reason[1300];
            static int file_pass = -1;
            if (file_pass < 0)
                file_pass = leaks_valgrind(job->path, job->id, job->allow_insecure, file_reason,
                                           sizeof file_reason) == 0;
            verdict_out(rp, rules[k], job->id, file_pass, file_reason);
            continue;
        }
        if (in_process) {
            int fds[2];
            char buf[2048] = "";
            if (pipe(fds) == 0) {
                rule_child(fds[1], job);
                ssize_t n = read(fds[0], buf, sizeof buf - 1);
                buf[n > 0 ? n : 0] = '\0';
                close(fds[0]);
            }
            pass = strncmp(buf, "PASS", 4) == 0;
            verdict_out(rp, rules[k], job->id, pass, buf[0] ? buf + 5 : "no verdict");
            continue;
        }
        if (lh_child_run(rule_child, job, strcmp(rules[k], "leaks") == 0 ? LEAKS_TIMEOUT_S
                                                                          : RULE_TIMEOUT_S,
                         &out, &err) != 0) {
            /* child.c speaks of the entry; here it was the rule's calls */
            const char *m = strncmp(err.msg, "entry ", 6) == 0 ? err.msg + 6 : err.msg;
            snprintf(reason, sizeof reason, "%s", m);
            pass = 0;
        } else {
            pass = out && strncmp(out, "PASS", 4) == 0;
            snprintf(reason, sizeof reason, "%s", out && strlen(out) > 5 ? out + 5 : "");
            if (!out || (!pass && strncmp(out, "FAIL", 4) != 0))
                snprintf(reason, sizeof reason, "the rule's child sent no verdict");
        }
        free(out);
        if (!pass && (strcmp(rules[k], "schema") == 0 || strcmp(rules[k], "hooks") == 0))
            runs = 0;
        verdict_out(rp, rules[k], job->id, pass, reason);
    }
}

int lh_cmd_plugins_check(int argc, char **argv)
{
    lh_registry_opts opts = {0};
    lh_registry *reg;
    lh_error err;
    lh_args a;
    report rp = {0};
    const char *path, *only;
    char abs_path[4096];
    int rc, in_process, n_ok = 0;
    if ((rc = lh_args_parse(&a, &check_spec, argc, argv)) != 0)
        return rc == LH_ARGS_HELP ? 0 : 2;
    if (!(path = lh_args_operand(&a, 0))) {
        rc = lh_args_error(&a, "expected one plugin file (PATH.so)");
        lh_args_free(&a);
        return rc;
    }
    only = lh_args_get(&a, "rule");
    in_process = lh_args_get(&a, "in-process") != NULL;
    rp.json = lh_args_get(&a, "json") != NULL;
    rp.arr = cJSON_CreateArray();
    opts.allow_insecure = lh_args_get(&a, "allow-insecure-plugins") != NULL;
    opts.scan_in_child = 1; /* the "load" rule: the entry runs in a child first */
    /* The rules run in temporary folders: the file is named by its absolute path. */
    if (access(path, R_OK) != 0 || !realpath(path, abs_path)) {
        fprintf(stderr, "lhost: plugins check: %s: cannot read the file\n", path);
        cJSON_Delete(rp.arr);
        lh_args_free(&a);
        return 1;
    }
    if (lh_registry_open_file(&reg, path, &opts, NULL, &err) != 0) {
        fprintf(stderr, "lhost: plugins check: %s: %s\n", path, err.msg);
        cJSON_Delete(rp.arr);
        lh_args_free(&a);
        return 1;
    }
    for (int32_t i = 0; i < lh_registry_count(reg); i++) {
        const lh_plugin_row *r = lh_registry_row(reg, i);
        if (r->status != LH_PLUGIN_OK) {
            if (!only)
                verdict_out(&rp, refusal_rule(r->reason), r->id, 0, r->reason);
            else
                rp.failed++;
            continue;
        }
        n_ok++;
        if (!only || strcmp(only, "load") == 0)
            verdict_out(&rp, "load", r->id, 1, "");
        check_job job = {abs_path, r->id, NULL, opts.allow_insecure};
        check_plugin(&rp, &job, only, in_process);
    }
    if (lh_registry_count(reg) == 0)
        verdict_out(&rp, "load", NULL, 0, "no plugin in the file");
    if (rp.json) {
        char *text = cJSON_Print(rp.arr);
        printf("%s\n", text ? text : "[]");
        cJSON_free(text);
    } else
        printf("%s: %d plugin%s, %s\n", path, n_ok, n_ok == 1 ? "" : "s",
               rp.failed ? "some rules FAILED" : "every rule passed");
    cJSON_Delete(rp.arr);
    lh_registry_close(reg);
    lh_args_free(&a);
    fflush(stdout);
    return rp.failed ? 1 : 0;
}

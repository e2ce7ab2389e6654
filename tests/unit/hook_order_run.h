/* tests/unit/hook_order_run.h — a training folder on synthetic data with the hook_order fixture
 * plugin, and `lhost` run in it on the test's device (LH_TEST_DEVICE, default auto)
 * (header-only). */
#ifndef LH_TEST_HOOK_ORDER_RUN_H
#define LH_TEST_HOOK_ORDER_RUN_H

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>

#include "cli_run.h"
#include "synth_data.h"

/* dir (a fresh temporary folder tagged `tag`) holds data/ (n_train, n_test images) and
 * w/cfg.yaml = cfg. */
static inline void hook_order_workdir(char *dir, size_t len, const char *tag, int32_t n_train,
                                      int32_t n_test, const char *cfg)
{
    char path[512];
    ck_assert_int_eq(synth_workdir(dir, len, tag, n_train, n_test), 0);
    snprintf(path, sizeof path, "%s/w", dir);
    ck_assert_int_eq(mkdir(path, 0755), 0);
    snprintf(path, sizeof path, "%s/w/cfg.yaml", dir);
    write_text(path, cfg);
}

/* lhost ARGS in dir/w with the hook_order fixture's folder, expecting exit want_rc; the
 * output (to free). */
static inline char *hook_order_run(const char *dir, const char *args, int want_rc)
{
    char cwd[400], full[2000], *out;
    const char *device = getenv("LH_TEST_DEVICE");
    int rc;
    snprintf(cwd, sizeof cwd, "%s/w", dir);
    snprintf(full, sizeof full, "%s --plugin-dir '%s/hook_order' --trainer.device=%s", args,
             LH_FIXTURE_PLUGIN_DIR, device ? device : "auto");
    rc = cli_run(cwd, full, &out);
    ck_assert_msg(rc == want_rc, "lhost %s: exit %d, expected %d\n%s", full, rc, want_rc, out);
    return out;
}

#endif

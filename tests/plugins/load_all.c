/* tests/plugins/load_all.c — load and unload every fixture plugin in this process (the ones
 * that crash or hang in their entry are scanned in a child instead), make an instance of each
 * usable plugin and run its hooks once. Run under valgrind by the CTest `fixtures_valgrind`
 * (label valgrind): valgrind --leak-check=full --error-exitcode=1 load_all FIXTURE_DIR */
#include <stdio.h>
#include <string.h>

#include "dispatch.h"
#include "instance.h"
#include "registry.h"

static const char *const in_process[] = {"good", "two", "dispatch", "no_entry", "wrong_major",
                                         "newer_minor", "older_minor", "entry_error",
                                         "entry_null", "dup_a", "dup_b", "bad_schema",
                                         "unresolved", "noop", "many", "huge_stride",
                                         "dup_name", "space_id"};
static const char *const in_child[] = {"segv", "hang"};

static int load(const char *base, const char *name, int child)
{
    char dir[4096];
    const char *dirs[1] = {dir};
    lh_registry_opts o = {0};
    lh_registry *reg;
    lh_error err;
    int32_t k, broken = 0;
    snprintf(dir, sizeof dir, "%s/%s", base, name);
    o.plugin_dirs = dirs;
    o.n_plugin_dirs = 1;
    o.skip_default_dirs = 1;
    o.scan_in_child = child;
    o.scan_timeout_s = 1;
    if (lh_registry_open(&reg, &o, NULL, &err) != 0) {
        fprintf(stderr, "load_all: %s\n", err.msg);
        return 1;
    }
    for (k = 0; k < lh_registry_count(reg); k++) {
        const lh_plugin_row *r = lh_registry_row(reg, k);
        lh_instance *inst;
        lh_dispatch *d;
        if (r->status != LH_PLUGIN_OK || !r->desc) {
            broken++;
            continue;
        }
        if (lh_instance_create(r, r->name, NULL, 0, NULL, &inst, &err) != 0) {
            fprintf(stderr, "load_all: %s\n", err.msg);
            lh_registry_close(reg);
            return 1;
        }
        if (r->kind == LHOST_KIND_CALLBACK && lh_dispatch_create(&d, &inst, 1, &err) == 0) {
            lhost_batch_info b = {.struct_size = sizeof b,
                                    .batch_idx = 0, .batch_size = 1, .loss = 0.0};
            int32_t h;
            for (h = 0; h < LH_HOOK_COUNT; h++)
                lh_dispatch_hook(d, h, &b, &err); /* hooks without batch info ignore b */
            lh_dispatch_exception(d, "test");
            lh_dispatch_destroy(d);
        }
        lh_instance_destroy(inst);
    }
    printf("%-12s %d rows, %d not usable\n", name, (int)lh_registry_count(reg), (int)broken);
    lh_registry_close(reg);
    return 0;
}

int main(int argc, char **argv)
{
    size_t k;
    int rc = 0;
    if (argc != 2) {
        fprintf(stderr, "usage: load_all FIXTURE_DIR\n");
        return 2;
    }
    for (k = 0; k < sizeof in_process / sizeof in_process[0]; k++)
        rc |= load(argv[1], in_process[k], 0);
    for (k = 0; k < sizeof in_child / sizeof in_child[0]; k++)
        rc |= load(argv[1], in_child[k], 1);
    return rc;
}

/* host/store/strmap.c — ordered string map (see strmap.h). */
#include "strmap.h"

#include <stdlib.h>
#include <string.h>

#include "array.h"

int32_t lh_strmap_find(const lh_strmap *m, const char *key)
{
    for (int32_t i = 0; i < m->n; i++)
        if (strcmp(m->items[i].key, key) == 0)
            return i;
    return -1;
}

int lh_strmap_put(lh_strmap *m, const char *key, const char *value)
{
    lh_strmap_item *items = lh_array_grow(m->items, m->n, &m->cap, 16, sizeof *items);
    char *k, *v;
    if (!items)
        return -1;
    m->items = items;
    k = strdup(key);
    v = strdup(value);
    if (!k || !v) {
        free(k);
        free(v);
        return -1;
    }
    m->items[m->n].key = k;
    m->items[m->n++].value = v;
    return 0;
}

void lh_strmap_free(lh_strmap *m)
{
    for (int32_t i = 0; i < m->n; i++) {
        free(m->items[i].key);
        free(m->items[i].value);
    }
    free(m->items);
    memset(m, 0, sizeof *m);
}

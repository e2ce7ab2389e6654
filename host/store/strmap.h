/* host/store/strmap.h — string keys to string values in the order they were put: the
 * "__metadata__" of a safetensors file, as its reader and its writer both keep it. */
#ifndef LH_STRMAP_H
#define LH_STRMAP_H

#include <stdint.h>

typedef struct lh_strmap_item {
    char *key, *value;   /* owned */
} lh_strmap_item;

typedef struct lh_strmap {
    lh_strmap_item *items;
    int32_t n, cap;
} lh_strmap;             /* all zero: empty */

/* The index of `key`, or -1. */
int32_t lh_strmap_find(const lh_strmap *m, const char *key);
/* Append copies of key and value (a key already there is the caller's to refuse). -1 when out
 * of memory, with nothing added. */
int lh_strmap_put(lh_strmap *m, const char *key, const char *value);
/* Free every item; m is empty again. */
void lh_strmap_free(lh_strmap *m);

#endif

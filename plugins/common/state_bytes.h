/* plugins/common/state_bytes.h — a growable byte buffer and a bounds-checked reader for the
 * opaque state a callback plugin writes in state_save and reads back in state_restore.
 *
 * Header-only (static inline), private to the reference plugins; built against the SDK alone.
 * Numbers are written in the machine's byte order (checkpoints are little-endian files and lhost
 * only runs on little-endian machines); strings as a u32 length then the bytes, no terminator. */
#ifndef LHP_STATE_BYTES_H
#define LHP_STATE_BYTES_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

typedef struct lhp_wbuf {
    unsigned char *data;
    uint64_t size, cap;
    int failed; /* set once an allocation failed; later puts do nothing */
} lhp_wbuf;

static inline void lhp_put(lhp_wbuf *b, const void *p, uint64_t n)
{
    if (b->failed)
        return;
    if (b->size + n > b->cap) {
        uint64_t cap = b->cap ? b->cap : 64;
        unsigned char *d;
        while (cap < b->size + n)
            cap *= 2;
        d = (unsigned char *)realloc(b->data, cap);
        if (!d) {
            b->failed = 1;
            return;
        }
        b->data = d;
        b->cap = cap;
    }
    memcpy(b->data + b->size, p, n);
    b->size += n;
}

static inline void lhp_put_i64(lhp_wbuf *b, int64_t v) { lhp_put(b, &v, sizeof v); }
static inline void lhp_put_f64(lhp_wbuf *b, double v) { lhp_put(b, &v, sizeof v); }

/* NULL is written as length 0xffffffff so it reads back as NULL, not "". */
static inline void lhp_put_str(lhp_wbuf *b, const char *s)
{
    uint32_t n = s ? (uint32_t)strlen(s) : UINT32_MAX;
    lhp_put(b, &n, sizeof n);
    if (s)
        lhp_put(b, s, n);
}

typedef struct lhp_rbuf {
    const unsigned char *data;
    uint64_t size, pos;
    int failed; /* set once a read ran past the end */
} lhp_rbuf;

static inline int lhp_get(lhp_rbuf *r, void *p, uint64_t n)
{
    if (r->failed || r->size - r->pos < n) {
        r->failed = 1;
        memset(p, 0, n);
        return -1;
    }
    memcpy(p, r->data + r->pos, n);
    r->pos += n;
    return 0;
}

static inline int64_t lhp_get_i64(lhp_rbuf *r)
{
    int64_t v;
    lhp_get(r, &v, sizeof v);
    return v;
}

static inline double lhp_get_f64(lhp_rbuf *r)
{
    double v;
    lhp_get(r, &v, sizeof v);
    return v;
}

/* Returns a malloc'd copy (or NULL for a NULL string or on failure; check r->failed). */
static inline char *lhp_get_str(lhp_rbuf *r)
{
    uint32_t n;
    char *s;
    if (lhp_get(r, &n, sizeof n) != 0 || n == UINT32_MAX)
        return NULL;
    if (r->size - r->pos < n) {
        r->failed = 1;
        return NULL;
    }
    s = (char *)malloc((size_t)n + 1);
    if (!s) {
        r->failed = 1;
        return NULL;
    }
    memcpy(s, r->data + r->pos, n);
    s[n] = '\0';
    r->pos += n;
    return s;
}

#endif

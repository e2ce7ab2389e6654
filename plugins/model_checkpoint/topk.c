/* plugins/model_checkpoint/topk.c — the ranked list of saved checkpoints; see topk.h. */
#include "topk.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static int score_better(const mc_topk *t, double a, double b)
{
    if (isnan(a))
        return 0;
    if (isnan(b))
        return 1;
    return t->mode_max ? a > b : a < b;
}

int mc_rank_better(const mc_topk *t, double a, int64_t qa, double b, int64_t qb)
{
    if (score_better(t, a, b))
        return 1;
    if (score_better(t, b, a))
        return 0;
    return t->tie_last ? qa > qb : qa < qb; /* equal scores (or both NaN) */
}

size_t mc_topk_best(const mc_topk *t)
{
    size_t k, best = 0;
    for (k = 1; k < t->n; k++)
        if (mc_rank_better(t, t->e[k].score, t->e[k].seq, t->e[best].score, t->e[best].seq))
            best = k;
    return best;
}

size_t mc_topk_worst(const mc_topk *t)
{
    size_t k, worst = 0;
    for (k = 1; k < t->n; k++)
        if (mc_rank_better(t, t->e[worst].score, t->e[worst].seq, t->e[k].score, t->e[k].seq))
            worst = k;
    return worst;
}

int mc_topk_add(mc_topk *t, double score, int64_t seq, const char *path)
{
    char *p;
    if (t->n == t->cap) {
        size_t cap = t->cap ? t->cap * 2 : 8;
        mc_entry *e = (mc_entry *)realloc(t->e, cap * sizeof *e);
        if (!e)
            return -1;
        t->e = e;
        t->cap = cap;
    }
    if (!(p = strdup(path)))
        return -1;
    t->e[t->n].score = score;
    t->e[t->n].seq = seq;
    t->e[t->n].path = p;
    t->n++;
    return 0;
}

char *mc_topk_take(mc_topk *t, size_t k)
{
    char *p = t->e[k].path;
    memmove(&t->e[k], &t->e[k + 1], (t->n - k - 1) * sizeof t->e[0]);
    t->n--;
    return p;
}

long mc_topk_find(const mc_topk *t, const char *path)
{
    size_t k;
    for (k = 0; k < t->n; k++)
        if (strcmp(t->e[k].path, path) == 0)
            return (long)k;
    return -1;
}

void mc_topk_clear(mc_topk *t)
{
    size_t k;
    for (k = 0; k < t->n; k++)
        free(t->e[k].path);
    free(t->e);
    t->e = NULL;
    t->n = t->cap = 0;
}

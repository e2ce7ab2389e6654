/* plugins/model_checkpoint/topk.h — the ranked list of saved checkpoints (Lightning's
 * best_k_models) with strict ties, a tie_break rule and NaN ranked worst. */
#ifndef MC_TOPK_H
#define MC_TOPK_H

#include <stddef.h>
#include <stdint.h>

typedef struct mc_entry {
    double score; /* NaN allowed: ranks below every number, ±inf included */
    int64_t seq;  /* save order, increasing: breaks ties */
    char *path;   /* owned */
} mc_entry;

typedef struct mc_topk {
    mc_entry *e;
    size_t n, cap;
    int mode_max; /* 1: larger scores are better */
    int tie_last; /* 0: among equal scores the earlier save ranks better (tie_break=first) */
} mc_topk;

/* Does (score a, seq qa) rank better than (b, qb)? */
int mc_rank_better(const mc_topk *t, double a, int64_t qa, double b, int64_t qb);

/* Index of the best / worst entry; the list must not be empty. */
size_t mc_topk_best(const mc_topk *t);
size_t mc_topk_worst(const mc_topk *t);

/* Append (takes a copy of path). 0, or -1 when out of memory. */
int mc_topk_add(mc_topk *t, double score, int64_t seq, const char *path);

/* Remove entry k and hand its path to the caller (free it). */
char *mc_topk_take(mc_topk *t, size_t k);

/* Index of the entry with this path, or -1. */
long mc_topk_find(const mc_topk *t, const char *path);

void mc_topk_clear(mc_topk *t);

#endif

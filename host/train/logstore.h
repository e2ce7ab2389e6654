/* host/train/logstore.h — what has been logged, as Lightning's self.log keeps it: the latest
 * value of every key (what callbacks read), batch-size-weighted epoch accumulators, and the rows
 * that go to metrics.csv (one per logged step, one per epoch). */
#ifndef LH_LOGSTORE_H
#define LH_LOGSTORE_H

#include <stddef.h>
#include <stdint.h>

#include "error.h"
#include "safetensors.h"

typedef struct lh_logvalue {
    char key[96];
    double value;
    uint32_t flags;      /* LHOST_LOGF_* */
    double sum, weight;  /* epoch accumulator */
} lh_logvalue;

typedef struct lh_logrow {
    int64_t epoch, step;
    int32_t count;
    char (*keys)[96];
    double *values;
} lh_logrow;

typedef struct lh_logstore {
    lh_logvalue *vals;
    int32_t n, cap;
    lh_logrow *rows;
    int32_t n_rows, cap_rows;
    /* the row being built for the current step / epoch */
    lh_logrow pending;
    int32_t pending_cap;
} lh_logstore;

void lh_logstore_init(lh_logstore *s);
void lh_logstore_free(lh_logstore *s);
/* Set the latest value; ON_EPOCH values also accumulate value*weight for the epoch mean. */
int lh_logstore_put(lh_logstore *s, const char *key, double value, double weight, uint32_t flags);
int lh_logstore_get(const lh_logstore *s, const char *key, double *out);
/* The epoch mean of an accumulated key (latest value if none was accumulated). */
double lh_logstore_epoch_mean(const lh_logstore *s, const char *key);
void lh_logstore_reset_epoch(lh_logstore *s);
/* Add key=value to the pending row; lh_logstore_commit_row appends it (if non-empty). */
int lh_logstore_row_add(lh_logstore *s, const char *key, double value);
int lh_logstore_commit_row(lh_logstore *s, int64_t epoch, int64_t step);
/* Drop all values (not rows), e.g. before validation-only runs. */
void lh_logstore_clear_values(lh_logstore *s);

/* metrics.csv by Lightning's CSVLogger rules: the header is every key and "epoch", "step",
 * sorted; a row leaves the keys it lacks empty; keys are quoted as Python's csv module quotes
 * them; values are written as Python's repr writes a float. Written whole, atomically, so a new
 * key rewrites the header. lh_logstore_read_csv loads an existing file's rows (for resume),
 * finding epoch and step by name. */
int lh_logstore_write_csv(const lh_logstore *s, const char *path, lh_error *err);
int lh_logstore_read_csv(lh_logstore *s, const char *path, lh_error *err);
/* v as Python's repr writes a float: the shortest text that reads back the same ("1.0",
 * "0.30000000000000004", "nan", "inf"). */
void lh_logstore_format_value(double v, char *buf, size_t cap);
/* The version Lightning's loggers take in `base` (lightning_logs): one more than the largest N
 * of the version_N folders there, 0 if none (so version_0 and version_7 give 8). */
int lh_logstore_next_version(const char *base);

/* Checkpoint section: every value with its epoch accumulator and flags, as the JSON array
 * [{"key", "value", "sum", "weight" (numbers as %.17g text, exact), "flags"}] in the "logged"
 * metadata entry. Loading replaces all values (rows are reloaded from metrics.csv). */
int lh_logstore_ckpt_save(const lh_logstore *s, lh_safetensors_writer *w, lh_error *err);
int lh_logstore_ckpt_load(lh_logstore *s, const lh_safetensors_file *f, lh_error *err);

#endif

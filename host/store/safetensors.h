/* host/store/safetensors.h — read and write safetensors files (the checkpoint container).
 *
 * Format (https://github.com/huggingface/safetensors): an 8-byte little-endian header length N,
 * N bytes of UTF-8 JSON
 *   {"__metadata__": {"key": "value", ...},
 *    "name": {"dtype": "F32", "shape": [d0, d1, ...], "data_offsets": [begin, end]}, ...}
 * padded with spaces, then the data area: raw little-endian tensors, row-major, where every
 * tensor's [begin, end) is relative to the start of the data area. The tensors cover the data
 * area exactly: no gaps, no overlap, nothing after the last one.
 *
 * What lhost writes: "__metadata__" first, then the tensors in the order they were added; the
 * header is padded to a multiple of 8 bytes and the data area is laid out by element size
 * (8-byte dtypes first, then 4, 2, 1; insertion order within each group), so every tensor starts
 * at a file offset that is a multiple of its element size, as safetensors' own writer does.
 *
 * Errors name the file: "checkpoint PATH: tensor \"fc.bias\": ... (expected ...)".
 * Host is little-endian (x86-64, aarch64); data is read and written as is. */
#ifndef LH_SAFETENSORS_H
#define LH_SAFETENSORS_H

#include <stdint.h>

#include "error.h"

struct cJSON;

/* Largest header accepted on read (as safetensors does): 100 MB. */
#define LH_ST_MAX_HEADER 100000000ull

/* Bytes per element of a safetensors dtype ("F32", "F64", "F16", "BF16", "I64", "I32", "I16",
 * "I8", "U64", "U32", "U16", "U8", "BOOL", "F8_E4M3", "F8_E5M2"), 0 for an unknown one. */
int32_t lh_safetensors_dtype_size(const char *dtype);

/* ---- writing ------------------------------------------------------------------------------ */

typedef struct lh_safetensors_writer lh_safetensors_writer;

lh_safetensors_writer *lh_safetensors_writer_new(void); /* NULL only when out of memory */
void lh_safetensors_writer_free(lh_safetensors_writer *w);

/* Add one tensor. The data is COPIED (the caller may free or change `data` right after).
 * `shape` has `ndim` entries (ndim 0 = a scalar with one element); `nbytes` must equal
 * product(shape) * dtype size; `data` may be NULL only when nbytes is 0. The name must be
 * non-empty, not "__metadata__" and not already added. On error nothing is added. */
int lh_safetensors_add(lh_safetensors_writer *w, const char *name, const char *dtype, int32_t ndim,
              const int64_t *shape, const void *data, uint64_t nbytes, lh_error *err);

/* Add one "__metadata__" entry (both strings copied). A key may be set once. */
int lh_safetensors_meta(lh_safetensors_writer *w, const char *key, const char *value,
                        lh_error *err);
/* The same with `value` a cJSON tree, stored as compact JSON text; the tree is deleted either
 * way. A tree that cannot be printed fails as "<what>: out of memory". */
int lh_safetensors_meta_json(lh_safetensors_writer *w, const char *key, struct cJSON *value,
                             const char *what, lh_error *err);

/* Write everything to `path` through host/atomic.h (temp file, fsync, rename, fsync dir). On
 * failure an existing file at `path` is untouched and no temporary file is left. The writer is
 * unchanged and may be written again. */
int lh_safetensors_write_atomic(const lh_safetensors_writer *w, const char *path, lh_error *err);

/* The complete file as one malloc'd buffer (*out, *out_len); for tests and in-memory use. */
int lh_safetensors_serialize(const lh_safetensors_writer *w, uint8_t **out, uint64_t *out_len,
                             lh_error *err);

/* ---- reading ------------------------------------------------------------------------------ */

typedef struct lh_safetensors_file lh_safetensors_file;

/* Read and validate a whole file. Every check (sizes, JSON, dtypes, shapes, offsets, metadata)
 * runs before success is returned, so accessors never see a malformed file. */
int lh_safetensors_read(const char *path, lh_safetensors_file **out, lh_error *err);

/* The same on bytes in memory (copied); `label` names them in errors ("checkpoint LABEL: ..."). */
int lh_safetensors_parse(const char *label, const void *bytes, uint64_t len,
                         lh_safetensors_file **out, lh_error *err);

void lh_safetensors_close(lh_safetensors_file *f);

uint64_t lh_safetensors_file_size(const lh_safetensors_file *f);   /* total bytes */
uint64_t lh_safetensors_header_size(
    const lh_safetensors_file *f); /* N, the JSON header's length (with padding) */

/* Tensors, in header order; i in [0, count). Pointers live until lh_safetensors_close. Data
 * pointers are aligned to the element size (a tensor a foreign writer left misaligned is copied).
 */
int32_t lh_safetensors_count(const lh_safetensors_file *f);
const char *lh_safetensors_name(const lh_safetensors_file *f, int32_t i);
const char *lh_safetensors_dtype(const lh_safetensors_file *f, int32_t i);
int32_t lh_safetensors_ndim(const lh_safetensors_file *f, int32_t i);
const int64_t *lh_safetensors_shape(const lh_safetensors_file *f, int32_t i); /* ndim entries */
int64_t lh_safetensors_elems(const lh_safetensors_file *f, int32_t i);        /* product of shape */
uint64_t lh_safetensors_nbytes(const lh_safetensors_file *f, int32_t i);
uint64_t lh_safetensors_offset(const lh_safetensors_file *f, int32_t i); /* data_offsets begin */
const void *lh_safetensors_data(const lh_safetensors_file *f,
                                int32_t i); /* non-NULL even when nbytes is 0 */
int32_t lh_safetensors_index(const lh_safetensors_file *f, const char *name); /* -1 when absent */

/* The data of tensor `name`, checking that it exists, has `dtype` and, unless expected_elems is
 * negative, has that many elements. NULL with an error naming the file and tensor otherwise. */
const void *lh_safetensors_find(const lh_safetensors_file *f, const char *name, const char *dtype,
                       int64_t expected_elems, lh_error *err);

/* The same for a vector: `name` must have exactly the shape [n] (a [128, 2] tensor of 256
 * elements is not a [256] one: a crafted file may not pass one for the other). */
const void *lh_safetensors_find_1d(const lh_safetensors_file *f, const char *name,
                                   const char *dtype, int64_t n, lh_error *err);

/* "__metadata__", in header order. lh_safetensors_meta_get returns NULL for an absent key. */
int32_t lh_safetensors_meta_count(const lh_safetensors_file *f);
const char *lh_safetensors_meta_key(const lh_safetensors_file *f, int32_t i);
const char *lh_safetensors_meta_value(const lh_safetensors_file *f, int32_t i);
const char *lh_safetensors_meta_get(const lh_safetensors_file *f, const char *key);

#endif

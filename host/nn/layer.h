/* host/nn/layer.h — the table of layer kinds: everything a kind of layer does, from its
 * `model.layers` entry to its backward pass, behind one descriptor per kind, so that model.c
 * and model_spec.c never switch on a kind.
 *
 * Each kind listed in layer_kinds.h lives in layer_<name>.c, which exports its descriptor
 * `const lh_layer_kind lh_layer_<name>` (conv2d and maxpool2d also their backend shapes, for
 * the fusion); layer.c gathers them into the table that lh_layer_kind_of indexes. A kind's
 * functions see the model (model.h) and use the helpers below for its parameters and its
 * input's shape; every tensor op goes through m->be.
 *
 * Adding a kind: its X entry in LH_LAYER_MAP (and config struct), layer_<name>.c with the
 * descriptor, and a small net using it in test_model.c's gradient check (which fails until
 * there is one). Config keys, checkpoint JSON, error lists and the summary follow.
 *
 * Fusions are the second table here (LH_LAYER_FUSION_MAP, implemented in layer_fusion.c): a
 * run of kinds (conv2d, relu, maxpool2d) the backend may run as one op. lh_model_alloc marks
 * each run it finds (lh_layer_plan.fused); forward runs the whole group at its first layer and
 * backward at its last, and only the group's output is materialised. Internal to host/nn. */
#ifndef LH_LAYER_H
#define LH_LAYER_H

#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "error.h"
#include "model.h"

struct cJSON;

#define LH_LAYER_MAX_KEYS 14

/* One integer key of a kind's config. A kind whose keys are integers lists them in a table
 * (.ints), and the same table reads them from the config, writes them into the checkpoint's
 * JSON and reads them back (lh_layer_from_cfg, lh_layer_to_json, lh_layer_from_json), so the
 * three cannot disagree on a key, its range or its order. */
typedef struct lh_layer_int_key {
    const char *key;           /* "kernel_size"; NULL ends the table */
    size_t offset;             /* of its int32_t in lh_layer_spec: offsetof(.., conv2d.kernel) */
    int32_t lo, hi;            /* the range the config and the checkpoint must keep to */
    int32_t def;               /* the value when the config leaves the key out */
    int32_t flags;             /* LH_LAYER_KEY_* */
} lh_layer_int_key;

/* The config must give the key ("conv2d needs out_channels"); .def is never used then. */
#define LH_LAYER_KEY_NEEDED 1
/* The default is the value of the key before it (MaxPool2d's stride is its kernel size). */
#define LH_LAYER_KEY_DEF_PREV 2
/* Left out (0), the key is inferred from the input's shape (in_channels, in_features). Only
 * `--help` reads this flag: the kind's plan infers it. */
#define LH_LAYER_KEY_INFERRED 4

/* The shape flowing between layers while planning, per sample. `flat` is set once a layer
 * (flatten, linear) has made it a vector of c features; spatial layers refuse it then. */
typedef struct lh_layer_shape {
    int32_t c, h, w;
    int32_t flat;
} lh_layer_shape;

/* One layer's part of a forward or backward pass over n samples. */
typedef struct lh_layer_step {
    lh_model *m;
    int32_t i;                 /* the layer's index */
    int32_t n;                 /* samples in the batch */
    const lh_layer_spec *l;
    const lh_layer_plan *p;
    const lh_dmem *x;          /* (n, in_numel) the input: m->act[i - 1] or m->input */
    lh_dmem *y;                /* (n, out_numel) m->act[i]; the same memory as x for an
                                * in_place kind after layer 0 */
    lh_dmem *aux;              /* (n, out_numel) 4-byte words for kinds with .aux, else NULL */
    int32_t training;          /* forward: 1 while training (dropout on) */
    uint64_t seed;             /* forward: the step's dropout seed */
} lh_layer_step;

typedef struct lh_layer_kind {
    /* The PyTorch class ("Conv2d"): the summary's Type column and backend error messages. */
    const char *torch_name;
    /* Config keys besides `type`, `name` and those in .ints, NULL-terminated (NULL: none; at
     * most LH_LAYER_MAX_KEYS with .ints); others are errors. */
    const char *const *keys;
    /* The kind's integer keys, in the order the checkpoint's JSON has them; NULL: none. Read
     * before from_cfg and written before to_json (lh_layer_from_cfg and the others below). */
    const lh_layer_int_key *ints;
    /* 1: has a key without a default, so it cannot be written as its bare name ("- relu"). */
    int32_t needs_keys;
    /* 1: the output shares its input's memory after layer 0 (forward may work in place; the
     * layer before never needs its own output again). */
    int32_t in_place;
    /* 1: keeps one 4-byte word per output element from forward for backward (step.aux). */
    int32_t aux;
    /* 1: the summary shows the output as [C, H, W] even when H = W = 1. */
    int32_t summary_chw;
    /* 1: keeps nn.BatchNorm's num_batches_tracked (m->batches_tracked[i], checkpointed as
     * "<name>.num_batches_tracked"). */
    int32_t counts_batches;
    /* `--help`'s text for the keys in .keys (not .ints, which describe themselves), with their
     * defaults: "p=0.5, the probability of zeroing an element". NULL: no such keys. */
    const char *keys_help;

    /* Read the kind's keys from its config map into l (the kind's union member); the keys were
     * checked against .keys already. map NULL (a bare name): fill in the defaults, never fail.
     * NULL: no keys besides .ints. Errors name the file, line and key (lh_config_get_*). */
    int (*from_cfg)(const lh_config_node *map, lh_layer_spec *l, lh_error *err);
    /* The kind's config as members of the checkpoint's JSON object o (after type and name), and
     * back from it; layer `index` is for messages. NULL: no config besides .ints. */
    void (*to_json)(const lh_layer_spec *l, struct cJSON *o);
    int (*from_json)(const struct cJSON *o, int32_t index, lh_layer_spec *l, lh_error *err);

    /* Layer i of m: check the input shape s, fill in inferred config (m->spec.layers[i]),
     * declare the parameter tensors in state_dict order (lh_layer_add_param) and leave the
     * output shape in s. Errors name the layer ("model.layers.3 (conv2d conv2.0): ..."). */
    int (*plan)(lh_model *m, int32_t i, lh_layer_shape *s, lh_error *err);
    /* s->x -> s->y. Returns the backend's status. */
    int (*forward)(const lh_layer_step *s);
    /* dy: the gradient of the output (n, out_numel), which the kind may overwrite. *dx: where
     * the input gradient goes, NULL for layer 0 (then only parameter gradients are wanted);
     * a kind that leaves it in dy instead sets *dx = dy. Parameter gradients are overwritten.
     * Returns the backend's status. */
    int (*backward)(const lh_layer_step *s, lh_dmem *dy, lh_dmem **dx);
} lh_layer_kind;

#define LH_LAYER_DECLARE_(ID, name, cfg) extern const lh_layer_kind lh_layer_##name;
LH_LAYER_MAP(LH_LAYER_DECLARE_)
#undef LH_LAYER_DECLARE_

/* The descriptor of kind `type` (LH_LAYER_*); NULL for a number that is no kind. */
const lh_layer_kind *lh_layer_kind_of(int32_t type);
/* The YAML name of kind `type` ("conv2d"), "?" for none. */
const char *lh_layer_name(int32_t type);
/* The kind called `name`, or LH_LAYER_NONE. */
int32_t lh_layer_find(const char *name);
/* Every kind's name in order, NULL-terminated (index + 1 = LH_LAYER_*). */
const char *const *lh_layer_names(void);
/* The same joined for messages: "conv2d, relu, ...". */
const char *lh_layer_name_list(void);
/* For `--help`: one call per kind, in table order, with its name, its PyTorch class and its
 * keys with their defaults as one line ("out_channels (needed), kernel_size=3, ...", "" for
 * none). */
typedef void (*lh_layer_kind_row)(void *user, const char *name, const char *torch_name,
                                  const char *keys);
void lh_layer_describe(lh_layer_kind_row row, void *user);

/* Layer l's config (l->type set) from its config map (NULL: the defaults), into the checkpoint's
 * JSON object o and back from it: the kind's .ints, then its own from_cfg, to_json or
 * from_json. Errors as those of from_cfg and lh_layer_json_int. */
int lh_layer_from_cfg(const lh_config_node *map, lh_layer_spec *l, lh_error *err);
void lh_layer_to_json(const lh_layer_spec *l, struct cJSON *o);
int lh_layer_from_json(const struct cJSON *o, int32_t index, lh_layer_spec *l, lh_error *err);

/* Append parameter `what` ("weight") of layer i to m->params as "<layer name>.<what>", shape
 * (ndim dims), initialised from U(-1/sqrt(fan_in), 1/sqrt(fan_in)). Fails past LH_MAX_PARAMS. */
int lh_layer_add_param(lh_model *m, int32_t i, const char *what, int32_t ndim,
                       const int64_t *shape, int64_t fan_in, lh_error *err);
/* Append buffer `what` ("running_mean") of layer i, a vector of numel floats set to init by
 * lh_model_init; persistent ones go into checkpoints as "<layer name>.<what>". */
int lh_layer_add_buffer(lh_model *m, int32_t i, const char *what, int64_t numel, float init,
                        int32_t persistent, lh_error *err);
/* The k-th buffer of layer i (in lh_layer_add_buffer order). */
lh_dmem *lh_layer_buffer(const lh_model *m, int32_t i, int32_t k);
/* The input of layer i: m->act[i - 1], or m->input for layer 0. */
lh_dmem *lh_layer_input(const lh_model *m, int32_t i);
/* Layer i's "weight" of shape ws (ndim dims) and its "bias" of shape (ws[0]), both initialised
 * from fan_in, as nn.Conv2d and nn.Linear do. */
int lh_layer_add_weight_bias(lh_model *m, int32_t i, int32_t ndim, const int64_t *ws,
                             int64_t fan_in, lh_error *err);
/* While planning layer i: the input's C * H * W as *out, refused (naming the layer) past
 * INT32_MAX, the most a flat shape's c holds. */
int lh_layer_flat_features(const lh_model *m, int32_t i, const lh_layer_shape *s,
                           int32_t *out, lh_error *err);
/* While planning layer i: its `key` (in_channels) *cfg left 0 is filled in from the input's
 * `actual` count of `unit` (channels); one that was given must be that count. */
int lh_layer_infer(const lh_model *m, int32_t i, const char *key, const char *unit,
                   int32_t *cfg, int32_t actual, lh_error *err);
/* The k-th parameter tensor of layer i (in lh_layer_add_param order) and its gradient. */
lh_dmem *lh_layer_param(const lh_model *m, int32_t i, int32_t k);
lh_dmem *lh_layer_grad(const lh_model *m, int32_t i, int32_t k);
/* The shape of layer i's input (spatial: flat 0). */
void lh_layer_in_shape(const lh_model *m, int32_t i, lh_layer_shape *s);
/* Height and width of layer i's input. */
void lh_layer_in_hw(const lh_model *m, int32_t i, int32_t *h, int32_t *w);

/* The backend's shapes of conv2d layer i and maxpool2d layer i over n samples (the fusion of
 * both uses them too). */
void lh_layer_conv2d_shape(const lh_model *m, int32_t i, int32_t n, lh_conv_shape *s);
void lh_layer_maxpool2d_shape(const lh_model *m, int32_t i, int32_t n, lh_pool_shape *s);

/* The element-wise activation kinds share one forward and backward (layer_activation.c):
 * act is LH_ACT_* (kernels/backend.h), slope leaky_relu's negative_slope. */
int lh_layer_act_forward(const lh_layer_step *s, int32_t act, float slope);
int lh_layer_act_backward(const lh_layer_step *s, int32_t act, float slope, lh_dmem *dy,
                          lh_dmem **dx);
/* A float key of a kind's config: `key` of map (def when absent) in [lo, hi] into *out, and
 * back from the checkpoint's JSON. */
int lh_layer_cfg_float(const lh_config_node *map, const char *key, double def, double lo,
                       double hi, float *out, lh_error *err);
int lh_layer_json_float(const struct cJSON *o, const char *key, double lo, double hi,
                        float *out, lh_error *err);

/* Average pooling of layer i (layer_avgpool2d.c): size > 0 fixed windows at stride, size 0
 * adaptive ones onto the layer's output map. */
void lh_layer_avgpool_shape(const lh_model *m, int32_t i, int32_t n, int32_t size,
                            int32_t stride, lh_pool_shape *s);
int lh_layer_avgpool_forward(const lh_layer_step *s, int32_t size, int32_t stride);
int lh_layer_avgpool_backward(const lh_layer_step *s, int32_t size, int32_t stride,
                              lh_dmem *dy, lh_dmem **dx);

/* `key` of JSON object o as an integer in [lo, hi] into *out; fails naming the key. */
int lh_layer_json_int(const struct cJSON *o, const char *key, int32_t lo, int32_t hi,
                      int32_t *out, lh_error *err);

/* A run of layer kinds the backend can run as one op. */
typedef struct lh_layer_fusion {
    const char *what;          /* "fused conv+relu+maxpool", in error messages */
    int32_t n;                 /* layers in the group */
    int32_t kinds[4];          /* their LH_LAYER_* in order */
    /* 1 when the backend has the op. */
    int (*available)(const lh_backend *be);
    /* Layers first .. first + n - 1 over `samples` samples: from the first's input to the
     * last's output (and its aux). */
    int (*forward)(lh_model *m, int32_t first, int32_t samples);
    /* From the gradient of the last's output (dy) to the first's input gradient (dx, NULL for
     * layer 0) and the group's parameter gradients. */
    int (*backward)(lh_model *m, int32_t first, int32_t samples, const lh_dmem *dy,
                    lh_dmem *dx);
} lh_layer_fusion;

#define LH_LAYER_FUSION_MAP(X) X(conv2d_relu_maxpool2d)

#define LH_LAYER_DECLARE_(name) extern const lh_layer_fusion lh_layer_fusion_##name;
LH_LAYER_FUSION_MAP(LH_LAYER_DECLARE_)
#undef LH_LAYER_DECLARE_

/* The fusions in the order lh_model_alloc tries them, NULL-terminated. */
const lh_layer_fusion *const *lh_layer_fusions(void);

#endif

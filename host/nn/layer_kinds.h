/* host/nn/layer_kinds.h — the list of layer kinds, one X-macro entry each (libuv's UV_ERRNO_MAP
 * style), and the config each kind reads from its `model.layers` entry.
 *
 * X(ID, name, cfg): LH_LAYER_<ID> is the kind's number, `name` is its YAML `type:` and names
 * its implementation, host/nn/layer_<name>.c, which defines `lh_layer_<name>` (an lh_layer_kind,
 * layer.h), and `cfg` is the struct its config lives in (lh_layer_spec.<name>). From this list
 * come the enum, the layer spec's config union, the table of kinds (layer.c) and the list of
 * names that config errors offer. Adding a kind: an entry here (and its config struct below,
 * if it has keys) and its file; nothing else switches on kinds. (batchnorm1d and batchnorm2d
 * share layer_batchnorm.c; the element-wise activations share layer_activation.c's op.)
 *
 * The order is the numbering (1, 2, ...); checkpoints store kinds by name, never by number. */
#ifndef LH_LAYER_KINDS_H
#define LH_LAYER_KINDS_H

#include <stdint.h>

#define LH_LAYER_MAP(X)                       \
    X(CONV2D, conv2d, lh_layer_conv2d_cfg)    \
    X(RELU, relu, lh_layer_no_cfg)            \
    X(MAXPOOL2D, maxpool2d, lh_layer_pool_cfg) \
    X(FLATTEN, flatten, lh_layer_no_cfg)      \
    X(LINEAR, linear, lh_layer_linear_cfg)    \
    X(DROPOUT, dropout, lh_layer_dropout_cfg) \
    X(BATCHNORM1D, batchnorm1d, lh_layer_bn_cfg) \
    X(BATCHNORM2D, batchnorm2d, lh_layer_bn_cfg) \
    X(AVGPOOL2D, avgpool2d, lh_layer_pool_cfg) \
    X(ADAPTIVE_AVGPOOL2D, adaptive_avgpool2d, lh_layer_adaptive_cfg) \
    X(GLOBAL_AVGPOOL2D, global_avgpool2d, lh_layer_no_cfg) \
    X(TANH, tanh, lh_layer_no_cfg)            \
    X(SIGMOID, sigmoid, lh_layer_no_cfg)      \
    X(GELU, gelu, lh_layer_no_cfg)            \
    X(SILU, silu, lh_layer_no_cfg)            \
    X(LEAKY_RELU, leaky_relu, lh_layer_leaky_cfg) \
    X(RESIDUAL, residual, lh_layer_residual_cfg)

typedef struct lh_layer_no_cfg {
    int32_t unused;   /* C has no empty structs */
} lh_layer_no_cfg;

typedef struct lh_layer_conv2d_cfg {
    int32_t in_ch;    /* 0 = the input's channels (filled in by lh_model_plan) */
    int32_t out_ch, kernel, stride, padding;
} lh_layer_conv2d_cfg;

typedef struct lh_layer_pool_cfg {
    int32_t kernel, stride;
} lh_layer_pool_cfg;

typedef struct lh_layer_linear_cfg {
    int32_t in_features;  /* 0 = the input's features (filled in by lh_model_plan) */
    int32_t out_features;
} lh_layer_linear_cfg;

typedef struct lh_layer_dropout_cfg {
    float p;          /* probability of zeroing an element while training */
} lh_layer_dropout_cfg;

typedef struct lh_layer_bn_cfg {
    int32_t num_features; /* 0 = the input's channels or features (filled in by lh_model_plan) */
    float momentum, eps;  /* PyTorch's 0.1 and 1e-5 */
} lh_layer_bn_cfg;

typedef struct lh_layer_adaptive_cfg {
    int32_t out_h, out_w; /* output_size: [H, W] (out_w 0: square) */
} lh_layer_adaptive_cfg;

typedef struct lh_layer_leaky_cfg {
    float negative_slope; /* PyTorch's 0.01 */
} lh_layer_leaky_cfg;

/* The end of a residual block: y = body(x) + x, or + proj(x), a 1x1 convolution, when the
 * body changes the shape. The body is the `span` layers before this one (the YAML's
 * `residual:` list); x is the input of the first of them. */
typedef struct lh_layer_residual_cfg {
    int32_t span;
    int32_t proj_stride;  /* 0: identity; else the projection's stride (set by lh_model_plan) */
} lh_layer_residual_cfg;

enum {
    LH_LAYER_NONE = 0,
#define LH_LAYER_ENUM_(ID, name, cfg) LH_LAYER_##ID,
    LH_LAYER_MAP(LH_LAYER_ENUM_)
#undef LH_LAYER_ENUM_
    LH_LAYER_COUNT    /* one past the last kind */
};

#endif

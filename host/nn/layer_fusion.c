/* host/nn/layer_fusion.c — conv2d -> relu -> maxpool2d as the backend's one fused op, which
 * never stores the conv output. Same results as the three single ops (kernels/backend.h). */
#include "layer.h"

static int available(const lh_backend *be)
{
    return be->conv2d_relu_maxpool_forward && be->conv2d_relu_maxpool_backward;
}

static int forward(lh_model *m, int32_t first, int32_t n)
{
    lh_conv_shape s;
    lh_pool_shape ps;
    lh_layer_conv2d_shape(m, first, n, &s);
    lh_layer_maxpool2d_shape(m, first + 2, n, &ps);
    return m->be->conv2d_relu_maxpool_forward(m->bctx, &s, &ps,
                                              first ? m->act[first - 1] : m->input,
                                              lh_layer_param(m, first, 0),
                                              lh_layer_param(m, first, 1), m->act[first + 2],
                                              m->aux[first + 2]);
}

static int backward(lh_model *m, int32_t first, int32_t n, const lh_dmem *dy, lh_dmem *dx)
{
    lh_conv_shape s;
    lh_pool_shape ps;
    lh_layer_conv2d_shape(m, first, n, &s);
    lh_layer_maxpool2d_shape(m, first + 2, n, &ps);
    return m->be->conv2d_relu_maxpool_backward(
        m->bctx, &s, &ps, first ? m->act[first - 1] : m->input, lh_layer_param(m, first, 0),
        m->act[first + 2], m->aux[first + 2], dy, dx, lh_layer_grad(m, first, 0),
        lh_layer_grad(m, first, 1));
}

const lh_layer_fusion lh_layer_fusion_conv2d_relu_maxpool2d = {
    .what = "fused conv+relu+maxpool",
    .n = 3,
    .kinds = {LH_LAYER_CONV2D, LH_LAYER_RELU, LH_LAYER_MAXPOOL2D},
    .available = available,
    .forward = forward,
    .backward = backward,
};

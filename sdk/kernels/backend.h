/* Convolution kernel backends: the seam between the conv ops and the code
 * that does the arithmetic.
 *
 * ops/conv.c and ops/conv_transpose.c describe a convolution once, as an
 * lt_conv_geom in the *forward* direction of conv2d, and call the three
 * passes of a backend through lt__conv_backend_for():
 *
 *   forward          y  = conv(x, w) (+ bias)            conv2d forward,
 *                                                         conv_transpose2d input grad
 *   backward_data    dx = conv_transpose(dy, w)          conv2d input grad,
 *                                                         conv_transpose2d forward
 *   backward_weight  dw += correlate(x, dy), db += sum(dy) weight and bias grads of both
 *
 * A backend is a table of these function pointers. The portable default
 * ("im2col": im2col/col2im + OpenBLAS sgemm, kernels/conv_im2col.c) handles
 * every geometry. Another backend (oneDNN, hand-written AVX-512) is added by
 * writing its table, listing it in conv_backends[] (conv_im2col.c), and
 * answering `supports` for the geometries it handles; the others fall back to
 * the default, so callers never change. The preferred backend is chosen once
 * per process (first available in the list, or LTRAIN_CONV_BACKEND=<name>).
 *
 * Contract for every pass: all tensors are contiguous NCHW / OIHW float32;
 * results are deterministic (same bits for the same inputs and thread
 * count); scratch memory comes from the current context's arena; the call
 * may use every thread (OpenMP / OpenBLAS) and may also be made from inside
 * an OpenMP parallel region, where it runs on the calling thread. Passes
 * return 0, or -1 with an error naming `op` (only when scratch memory runs
 * out). */
#ifndef LTRAIN_KERNELS_BACKEND_H
#define LTRAIN_KERNELS_BACKEND_H

#include "../internal.h"

/* One 2-D convolution, in conv2d's forward direction:
 *   x [batch, c_in, h_in, w_in] * w [c_out, c_in/groups, k_h, k_w]
 *     -> y [batch, c_out, h_out, w_out].
 * h_out/w_out are given, not derived: conv_transpose2d's output_padding makes
 * its equivalent conv compute fewer rows than the usual formula allows, and
 * kernels must only visit 0 <= ho < h_out. */
typedef struct lt_conv_geom {
    int64_t batch;
    int64_t c_in, h_in, w_in;
    int64_t c_out, h_out, w_out;
    int64_t k_h, k_w;
    int64_t stride_h, stride_w;
    int64_t pad_h, pad_w;
    int64_t dil_h, dil_w;
    int64_t groups;
} lt_conv_geom;

typedef struct lt_conv_backend {
    const char *name;
    /* True when the backend works on this machine (checked once). */
    bool (*available)(void);
    /* True when it handles this geometry; NULL means all of them. */
    bool (*supports)(const lt_conv_geom *g);
    /* y = conv(x, w) + bias (bias may be NULL); accumulate: y += instead. */
    int (*forward)(const char *op, const lt_conv_geom *g, const float *x, const float *w, const float *bias,
                   float *y, bool accumulate);
    /* dx = conv_transpose(dy, w), the gradient of forward w.r.t. x;
     * accumulate: dx += instead. */
    int (*backward_data)(const char *op, const lt_conv_geom *g, const float *dy, const float *w, float *dx,
                         bool accumulate);
    /* dw += dL/dw for upstream gradient dy and input x; db += per-channel
     * sums of dy. Either of dw / db may be NULL (not wanted). */
    int (*backward_weight)(const char *op, const lt_conv_geom *g, const float *x, const float *dy, float *dw,
                           float *db);
} lt_conv_backend;

/* The portable default. */
extern const lt_conv_backend lt__conv_backend_im2col;
#ifdef LTRAIN_HAVE_ONEDNN
/* oneDNN direct convolutions (kernels/conv_onednn.c; meson option onednn). */
extern const lt_conv_backend lt__conv_backend_onednn;
#endif

/* The backend to run geometry g: the preferred one if it supports g, else
 * the portable default. */
const lt_conv_backend *lt__conv_backend_for(const lt_conv_geom *g);

/* Name of the preferred backend (for logs and benchmarks). */
const char *lt__conv_backend_name(void);

/* Helpers shared by the ops and the backends (backend independent). */

/* out[n, c, :] (+)= bias[c] over an [n, channels, plane] tensor. */
void lt__conv_add_bias(float *out, const float *bias, int64_t n, int64_t channels, int64_t plane);
/* db[c] += sum over n and the plane of g[n, c, :], in a fixed order. */
void lt__conv_bias_grad(const float *g, int64_t n, int64_t channels, int64_t plane, float *db);

#endif

/* conv2d and conv_transpose2d: PyTorch fixtures, finite differences, and a
 * double-precision direct reference on shapes big enough to take every path
 * of the im2col backend (per-thread chunks, batched small planes, pointwise,
 * grouped, depthwise) and the oneDNN one (blocked channels), plus
 * determinism. Runs on the preferred backend; meson runs it again with
 * LTRAIN_CONV_BACKEND=im2col when oneDNN is built. */
#include "fixture.h"

#include <check.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* ---------------- fixtures ---------------- */

static void read_pair(fx_case *c, const char *key, int *out, int def)
{
    int64_t v[2] = {def, def};
    fx_param_ints(c, key, v, 2);
    out[0] = (int)v[0];
    out[1] = (int)v[1];
}

static lt_tensor *run_conv2d(fx_case *c)
{
    lt_conv2d_params p;
    read_pair(c, "stride", p.stride, 1);
    read_pair(c, "padding", p.padding, 0);
    read_pair(c, "dilation", p.dilation, 1);
    p.groups = (int)fx_param_i(c, "groups", 1);
    return lt_conv2d(fx_in(c, "x"), fx_in(c, "w"), fx_has(c, "b") ? fx_in(c, "b") : NULL, &p);
}

static lt_tensor *run_conv_transpose2d(fx_case *c)
{
    lt_conv_transpose2d_params p;
    read_pair(c, "stride", p.stride, 1);
    read_pair(c, "padding", p.padding, 0);
    read_pair(c, "output_padding", p.output_padding, 0);
    read_pair(c, "dilation", p.dilation, 1);
    p.groups = (int)fx_param_i(c, "groups", 1);
    return lt_conv_transpose2d(fx_in(c, "x"), fx_in(c, "w"), fx_has(c, "b") ? fx_in(c, "b") : NULL, &p);
}

static const fx_op conv_ops[] = {
    {"conv2d", run_conv2d},
    {"conv_transpose2d", run_conv_transpose2d},
};

START_TEST(test_fixtures)
{
    int n = fx_run_group("conv", conv_ops, (int)(sizeof conv_ops / sizeof conv_ops[0]));
    ck_assert_int_gt(n, 0);
}
END_TEST

/* ---------------- geometry used by the checks below ---------------- */

typedef struct geom {
    const char *name;
    bool transposed;
    int n, c_in, h, w;     /* input */
    int c_out, kh, kw;     /* conv: weight [c_out, c_in/g, kh, kw]; transposed: [c_in, c_out/g, kh, kw] */
    int sh, sw, ph, pw, dh, dw, oph, opw, groups;
    bool bias;
} geom;

static int out_size(const geom *g, int dim)
{
    const int in = dim ? g->w : g->h, k = dim ? g->kw : g->kh, s = dim ? g->sw : g->sh, p = dim ? g->pw : g->ph;
    const int d = dim ? g->dw : g->dh, op = dim ? g->opw : g->oph;
    if (g->transposed) return (in - 1) * s - 2 * p + d * (k - 1) + op + 1;
    return (in + 2 * p - d * (k - 1) - 1) / s + 1;
}

static void weight_shape(const geom *g, int64_t *ws)
{
    ws[0] = g->transposed ? g->c_in : g->c_out;
    ws[1] = g->transposed ? g->c_out / g->groups : g->c_in / g->groups;
    ws[2] = g->kh;
    ws[3] = g->kw;
}

static lt_tensor *apply(const geom *g, lt_tensor *x, lt_tensor *w, lt_tensor *b)
{
    if (g->transposed) {
        lt_conv_transpose2d_params p = {{g->sh, g->sw}, {g->ph, g->pw}, {g->oph, g->opw}, {g->dh, g->dw}, g->groups};
        return lt_conv_transpose2d(x, w, b, &p);
    }
    lt_conv2d_params p = {{g->sh, g->sw}, {g->ph, g->pw}, {g->dh, g->dw}, g->groups};
    return lt_conv2d(x, w, b, &p);
}

/* ---------------- finite differences ---------------- */

static lt_tensor *call_geom(lt_tensor **in, void *user)
{
    const geom *g = user;
    return apply(g, in[0], in[1], g->bias ? in[2] : NULL);
}

START_TEST(test_finite_differences)
{
    static const geom cases[] = {
        /* name               T   n cin  h  w cout kh kw sh sw ph pw dh dw oph opw groups bias */
        {"stride2_pad1", false, 2, 3, 7, 9, 5, 3, 3, 2, 2, 1, 1, 1, 1, 0, 0, 1, true},
        {"dilated_grouped", false, 3, 4, 9, 7, 6, 3, 2, 1, 2, 2, 1, 2, 1, 0, 0, 2, true},
        {"depthwise_mult", false, 2, 3, 9, 8, 6, 3, 3, 2, 1, 1, 1, 1, 2, 0, 0, 3, false},
        {"pointwise", false, 3, 5, 5, 3, 7, 1, 1, 1, 1, 0, 0, 1, 1, 0, 0, 1, true},
        {"small_planes", false, 5, 6, 3, 2, 4, 3, 3, 1, 1, 1, 1, 1, 1, 0, 0, 1, true},
        {"odd_kernel_stride3", false, 2, 3, 11, 10, 3, 5, 3, 3, 2, 2, 0, 1, 1, 0, 0, 1, true},
        {"t_stride2_outpad", true, 2, 4, 3, 5, 6, 3, 3, 2, 2, 1, 1, 1, 1, 1, 1, 2, true},
        {"t_dilation_outpad", true, 2, 3, 4, 3, 5, 2, 3, 1, 1, 0, 1, 2, 2, 1, 1, 1, true},
        {"t_depthwise", true, 3, 4, 3, 4, 4, 3, 3, 2, 3, 1, 0, 1, 1, 0, 2, 4, false},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const geom *g = &cases[i];
        int64_t xs[4] = {g->n, g->c_in, g->h, g->w}, ws[4], bs[1] = {g->c_out};
        weight_shape(g, ws);
        lt_tensor *in[3] = {lt_tensor_new(LT_F32, 4, xs), lt_tensor_new(LT_F32, 4, ws), lt_tensor_new(LT_F32, 1, bs)};
        fx_fill_uniform(in[0], 10 + i, -1, 1);
        fx_fill_uniform(in[1], 20 + i, -1, 1);
        fx_fill_uniform(in[2], 30 + i, -1, 1);
        /* conv is linear in each input: central differences are exact up to rounding */
        fx_gradcheck(g->name, call_geom, (void *)g, in, g->bias ? 3 : 2, 5e-2f, 1e-2f, 40);
        for (int k = 0; k < 3; k++) lt_tensor_free(in[k]);
    }
}
END_TEST

/* ---------------- direct reference in double precision ---------------- */

typedef struct ref_result {
    double *y, *y_abs, *dx, *dx_abs, *dw, *dw_abs, *db, *db_abs;
} ref_result;

/* Visits every (output element, weight element, input element) product of
 * the convolution (conv2d direction: x -> y) and accumulates forward, both
 * gradients and the sums of |terms| that bound float32 rounding. For a
 * transposed conv the roles of x and y swap (y = the larger tensor). */
static void reference(const geom *g, const float *x, const float *w, const float *b, const float *gy, ref_result *r,
                      int ho_n, int wo_n)
{
    const int cin_g = g->c_in / g->groups, cout_g = g->c_out / g->groups;
    for (int n = 0; n < g->n; n++)
        for (int grp = 0; grp < g->groups; grp++)
            for (int ci = 0; ci < cin_g; ci++)
                for (int co = 0; co < cout_g; co++)
                    for (int ki = 0; ki < g->kh; ki++)
                        for (int kj = 0; kj < g->kw; kj++) {
                            const int cx = grp * cin_g + ci, cy = grp * cout_g + co;
                            const size_t wi = g->transposed
                                                  ? (((size_t)cx * cout_g + co) * g->kh + ki) * g->kw + kj
                                                  : (((size_t)cy * cin_g + ci) * g->kh + ki) * g->kw + kj;
                            /* positions: conv: y at (a, bb), x at (a*s - p + k*d); transposed: x at (a, bb), y at
                             * (a*s - p + k*d) */
                            const int na = g->transposed ? g->h : ho_n, nbb = g->transposed ? g->w : wo_n;
                            for (int a = 0; a < na; a++)
                                for (int bb = 0; bb < nbb; bb++) {
                                    const int ih = a * g->sh - g->ph + ki * g->dh, iw = bb * g->sw - g->pw + kj * g->dw;
                                    size_t xi, yi;
                                    if (g->transposed) {
                                        if (ih < 0 || ih >= ho_n || iw < 0 || iw >= wo_n) continue;
                                        xi = (((size_t)n * g->c_in + cx) * g->h + a) * g->w + bb;
                                        yi = (((size_t)n * g->c_out + cy) * ho_n + ih) * wo_n + iw;
                                    } else {
                                        if (ih < 0 || ih >= g->h || iw < 0 || iw >= g->w) continue;
                                        xi = (((size_t)n * g->c_in + cx) * g->h + ih) * g->w + iw;
                                        yi = (((size_t)n * g->c_out + cy) * ho_n + a) * wo_n + bb;
                                    }
                                    const double t = (double)w[wi] * x[xi];
                                    r->y[yi] += t;
                                    r->y_abs[yi] += fabs(t);
                                    r->dx[xi] += (double)w[wi] * gy[yi];
                                    r->dx_abs[xi] += fabs((double)w[wi] * gy[yi]);
                                    r->dw[wi] += (double)x[xi] * gy[yi];
                                    r->dw_abs[wi] += fabs((double)x[xi] * gy[yi]);
                                }
                        }
    const size_t plane = (size_t)ho_n * wo_n;
    for (int n = 0; n < g->n; n++)
        for (int c = 0; c < g->c_out; c++)
            for (size_t p = 0; p < plane; p++) {
                const size_t yi = ((size_t)n * g->c_out + c) * plane + p;
                if (b) {
                    r->y[yi] += b[c];
                    r->y_abs[yi] += fabs(b[c]);
                }
                r->db[c] += gy[yi];
                r->db_abs[c] += fabs(gy[yi]);
            }
}

/* |got - want| <= 1e-5 * sum|terms| + 1e-6: float32 rounding of the sum. */
static void expect_close(const char *name, const char *what, const float *got, const double *want,
                         const double *abs_sum, int64_t n)
{
    for (int64_t i = 0; i < n; i++) {
        const double tol = 1e-5 * abs_sum[i] + 1e-6;
        ck_assert_msg(fabs(got[i] - want[i]) <= tol, "%s: %s[%lld] = %.8g, reference %.8g (tolerance %.3g)", name,
                      what, (long long)i, got[i], want[i], tol);
    }
}

static double *dzeros(int64_t n) { return calloc((size_t)(n ? n : 1), sizeof(double)); }

static void check_against_reference(const geom *g)
{
    lt_ctx *ctx = lt_ctx_new();
    lt_ctx_use(ctx);
    const int ho = out_size(g, 0), wo = out_size(g, 1);
    int64_t xs[4] = {g->n, g->c_in, g->h, g->w}, ws[4], bs[1] = {g->c_out}, ys[4] = {g->n, g->c_out, ho, wo};
    weight_shape(g, ws);
    lt_tensor *x = lt_tensor_new(LT_F32, 4, xs), *w = lt_tensor_new(LT_F32, 4, ws);
    lt_tensor *b = g->bias ? lt_tensor_new(LT_F32, 1, bs) : NULL, *gy = lt_tensor_new(LT_F32, 4, ys);
    fx_fill_uniform(x, 1, -1, 1);
    fx_fill_uniform(w, 2, -1, 1);
    fx_fill_uniform(gy, 4, -1, 1);
    lt_tensor_set_requires_grad(x, true);
    lt_tensor_set_requires_grad(w, true);
    if (b) {
        fx_fill_uniform(b, 3, -1, 1);
        lt_tensor_set_requires_grad(b, true);
    }
    lt_tensor *y = apply(g, x, w, b);
    ck_assert_msg(y != NULL, "%s: %s", g->name, lt_last_error());
    ck_assert_int_eq(y->numel, gy->numel);
    ck_assert_msg(lt_backward_with_grad(y, gy) == 0, "%s: %s", g->name, lt_last_error());

    ref_result r = {dzeros(y->numel), dzeros(y->numel), dzeros(x->numel), dzeros(x->numel),
                    dzeros(w->numel), dzeros(w->numel), dzeros(g->c_out), dzeros(g->c_out)};
    reference(g, lt_f32(x), lt_f32(w), b ? lt_f32(b) : NULL, lt_f32(gy), &r, ho, wo);
    expect_close(g->name, "y", lt_f32(y), r.y, r.y_abs, y->numel);
    expect_close(g->name, "dx", x->grad, r.dx, r.dx_abs, x->numel);
    expect_close(g->name, "dw", w->grad, r.dw, r.dw_abs, w->numel);
    if (b) expect_close(g->name, "db", b->grad, r.db, r.db_abs, g->c_out);

    /* Same inputs, same thread count: same bits, and gradients accumulate. */
    float *y0 = malloc(sizeof(float) * (size_t)y->numel), *dw0 = malloc(sizeof(float) * (size_t)w->numel);
    memcpy(y0, lt_f32(y), sizeof(float) * (size_t)y->numel);
    memcpy(dw0, w->grad, sizeof(float) * (size_t)w->numel);
    lt_ctx_reset(ctx);
    lt_tensor_zero_grad(w);
    lt_tensor *y2 = apply(g, x, w, b);
    ck_assert_msg(memcmp(y0, lt_f32(y2), sizeof(float) * (size_t)y->numel) == 0, "%s: forward not deterministic",
                  g->name);
    ck_assert_int_eq(lt_backward_with_grad(y2, gy), 0);
    ck_assert_msg(memcmp(dw0, w->grad, sizeof(float) * (size_t)w->numel) == 0,
                  "%s: weight gradient not deterministic", g->name);
    free(y0);
    free(dw0);
    free(r.y), free(r.y_abs), free(r.dx), free(r.dx_abs), free(r.dw), free(r.dw_abs), free(r.db), free(r.db_abs);
    lt_tensor_free(x);
    lt_tensor_free(w);
    lt_tensor_free(b);
    lt_tensor_free(gy);
    lt_ctx_use(NULL);
    lt_ctx_free(ctx);
}

START_TEST(test_backend_paths)
{
    static const geom cases[] = {
        /* name                  T  n  cin  h   w cout kh kw sh sw ph pw dh dw oph opw groups bias */
        {"per_thread_chunks", false, 8, 32, 16, 16, 32, 3, 3, 1, 1, 1, 1, 1, 1, 0, 0, 1, true},
        {"per_thread_partial_dw", false, 6, 8, 32, 32, 8, 3, 3, 1, 1, 1, 1, 1, 1, 0, 0, 1, true},
        {"split_small_planes", false, 16, 64, 4, 4, 64, 3, 3, 1, 1, 1, 1, 1, 1, 0, 0, 1, true},
        {"stem_7x7_s2", false, 4, 3, 40, 40, 16, 7, 7, 2, 2, 3, 3, 1, 1, 0, 0, 1, false},
        {"small_planes_batched", false, 8, 16, 2, 2, 24, 3, 3, 1, 1, 1, 1, 1, 1, 0, 0, 1, true},
        {"one_pixel_planes", false, 9, 32, 3, 3, 20, 3, 3, 1, 1, 0, 0, 1, 1, 0, 0, 1, true},
        {"strided_small_planes", false, 7, 24, 5, 5, 16, 3, 3, 2, 2, 1, 1, 1, 1, 0, 0, 1, false},
        {"batch_inner_tiles", false, 20, 16, 4, 4, 24, 3, 3, 1, 1, 1, 1, 1, 1, 0, 0, 1, true},
        {"batch_inner_s2", false, 17, 32, 8, 8, 16, 3, 3, 2, 2, 1, 1, 1, 1, 0, 0, 1, false},
        {"batch_inner_1x1_s2", false, 12, 16, 8, 8, 24, 1, 1, 2, 2, 0, 0, 1, 1, 0, 0, 1, true},
        {"batch_inner_grouped", false, 16, 8, 6, 6, 12, 3, 3, 2, 2, 1, 1, 1, 1, 0, 0, 2, true},
        {"pointwise_gathered", false, 6, 24, 9, 9, 16, 1, 1, 1, 1, 0, 0, 1, 1, 0, 0, 1, true},
        {"pointwise_in_place", false, 4, 8, 20, 20, 8, 1, 1, 1, 1, 0, 0, 1, 1, 0, 0, 1, true},
        {"pointwise_big", false, 6, 64, 16, 16, 48, 1, 1, 1, 1, 0, 0, 1, 1, 0, 0, 1, false},
        {"pointwise_stride2", false, 6, 32, 12, 12, 40, 1, 1, 2, 2, 0, 0, 1, 1, 0, 0, 1, true},
        {"grouped_dilated", false, 5, 12, 15, 13, 18, 3, 5, 2, 1, 1, 2, 2, 1, 0, 0, 3, true},
        {"groups_per_thread", false, 8, 32, 16, 16, 32, 3, 3, 1, 1, 1, 1, 1, 1, 0, 0, 4, true},
        {"depthwise_s2", false, 3, 8, 33, 31, 8, 3, 3, 2, 2, 1, 1, 1, 1, 0, 0, 8, true},
        {"depthwise_mult2", false, 2, 6, 17, 19, 12, 5, 3, 1, 2, 2, 1, 1, 2, 0, 0, 6, false},
        {"wide_rows", false, 2, 4, 7, 300, 6, 3, 3, 1, 3, 1, 1, 1, 1, 0, 0, 1, true},
        {"phased_odd_planes", false, 3, 5, 33, 35, 6, 3, 3, 2, 2, 1, 1, 1, 1, 0, 0, 1, true},
        {"phased_dilated_s3", false, 2, 4, 40, 50, 5, 3, 3, 3, 3, 2, 2, 2, 2, 0, 0, 1, false},
        {"phased_grouped", false, 2, 6, 36, 36, 4, 5, 5, 2, 2, 2, 2, 1, 1, 0, 0, 2, true},
        {"phased_rows", false, 2, 3, 21, 40, 4, 3, 3, 2, 2, 0, 0, 1, 1, 0, 0, 1, true},
        {"t_upsample_4x4_s2", true, 4, 16, 8, 8, 8, 4, 4, 2, 2, 1, 1, 1, 1, 0, 0, 1, true},
        {"t_small_planes", true, 8, 32, 2, 2, 16, 3, 3, 2, 2, 1, 1, 1, 1, 1, 1, 1, true},
        {"t_grouped_outpad", true, 3, 12, 7, 6, 9, 3, 3, 2, 2, 1, 1, 2, 2, 1, 1, 3, false},
        {"t_pointwise", true, 5, 16, 9, 9, 12, 1, 1, 1, 1, 0, 0, 1, 1, 0, 0, 1, true},
        {"t_phased", true, 2, 6, 20, 18, 4, 4, 4, 2, 2, 1, 1, 1, 1, 0, 0, 1, true},
        {"t_batch_inner", true, 18, 16, 4, 4, 8, 3, 3, 2, 2, 1, 1, 1, 1, 1, 1, 1, true},
        {"t_phased_outpad", true, 2, 4, 17, 19, 6, 3, 3, 2, 2, 1, 1, 1, 1, 1, 1, 2, false},
        /* ResNet-like channel counts: the oneDNN backend's blocked JIT kernels
         * (several threads reducing one weight gradient) */
        {"blocked_64ch", false, 8, 64, 16, 16, 64, 3, 3, 1, 1, 1, 1, 1, 1, 0, 0, 1, true},
        {"blocked_s2_odd_ch", false, 4, 48, 21, 21, 40, 3, 3, 2, 2, 1, 1, 1, 1, 0, 0, 1, true},
        {"t_blocked_up", true, 4, 64, 12, 12, 32, 2, 2, 2, 2, 0, 0, 1, 1, 0, 0, 1, true},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) check_against_reference(&cases[i]);
}
END_TEST

/* Thread counts 1 and 2 must agree to rounding (the split differs). */
START_TEST(test_thread_counts)
{
    static const geom g = {"threads", false, 8, 16, 12, 12, 24, 3, 3, 1, 1, 1, 1, 1, 1, 0, 0, 1, true};
    const int saved = lt_get_num_threads();
    lt_set_num_threads(1);
    check_against_reference(&g);
    lt_set_num_threads(2);
    check_against_reference(&g);
    lt_set_num_threads(saved);
}
END_TEST

/* NULL inputs keep the first error; step memory of a conv does not grow
 * with repeated calls (scratch is handed back). */
START_TEST(test_null_and_memory)
{
    lt_ctx *ctx = lt_ctx_new();
    lt_ctx_use(ctx);
    lt_set_error("first");
    ck_assert_ptr_null(lt_conv2d(NULL, NULL, NULL, NULL));
    ck_assert_ptr_null(lt_conv_transpose2d(NULL, NULL, NULL, NULL));
    ck_assert_str_eq(lt_last_error(), "first");

    int64_t xs[4] = {4, 16, 12, 12}, ws[4] = {16, 16, 3, 3};
    lt_tensor *x = lt_zeros(LT_F32, 4, xs), *w = lt_zeros(LT_F32, 4, ws);
    lt_conv2d_params p = {{1, 1}, {1, 1}, {1, 1}, 1};
    ck_assert_ptr_nonnull(lt_conv2d(x, w, NULL, &p));
    const size_t after_one = lt_ctx_arena_stats(ctx).used;
    for (int i = 0; i < 5; i++) ck_assert_ptr_nonnull(lt_conv2d(x, w, NULL, &p));
    const size_t out_bytes = (size_t)4 * 16 * 12 * 12 * sizeof(float);
    /* each further call keeps only its result (and its header) */
    ck_assert_uint_le(lt_ctx_arena_stats(ctx).used - after_one, 5 * (out_bytes + 1024));
    lt_ctx_use(NULL);
    lt_ctx_free(ctx);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("conv");
    TCase *tc = tcase_create("ops");
    tcase_set_timeout(tc, 600);
    tcase_add_test(tc, test_fixtures);
    tcase_add_test(tc, test_finite_differences);
    tcase_add_test(tc, test_backend_paths);
    tcase_add_test(tc, test_thread_counts);
    tcase_add_test(tc, test_null_and_memory);
    suite_add_tcase(s, tc);
    return fx_run_suite(s);
}

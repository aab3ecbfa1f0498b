/* Shape ops: reshape, flatten, squeeze, unsqueeze, permute, transpose, slice,
 * concat, split. PyTorch fixtures, storage sharing of views, finite
 * differences, and large tensors (threaded, tiled paths) against naive loops
 * for every dtype. */
#include "fixture.h"

#include <check.h>
#include <stdio.h>
#include <string.h>

/* ---------------- fixture runners ---------------- */

static lt_tensor *run_reshape(fx_case *c)
{
    int64_t shape[LT_MAX_DIMS];
    int n = fx_param_ints(c, "shape", shape, LT_MAX_DIMS);
    return lt_reshape(fx_in(c, "x"), n, shape);
}
static lt_tensor *run_flatten(fx_case *c)
{
    return lt_flatten(fx_in(c, "x"), (int)fx_param_i(c, "start", 0), (int)fx_param_i(c, "end", -1));
}
static lt_tensor *run_squeeze(fx_case *c) { return lt_squeeze(fx_in(c, "x"), (int)fx_param_i(c, "dim", 0)); }
static lt_tensor *run_unsqueeze(fx_case *c) { return lt_unsqueeze(fx_in(c, "x"), (int)fx_param_i(c, "dim", 0)); }
static lt_tensor *run_permute(fx_case *c)
{
    int64_t d64[LT_MAX_DIMS];
    int dims[LT_MAX_DIMS];
    int n = fx_param_ints(c, "dims", d64, LT_MAX_DIMS);
    for (int i = 0; i < n; i++) dims[i] = (int)d64[i];
    return lt_permute(fx_in(c, "x"), dims);
}
static lt_tensor *run_transpose(fx_case *c)
{
    return lt_transpose(fx_in(c, "x"), (int)fx_param_i(c, "dim0", 0), (int)fx_param_i(c, "dim1", 1));
}
static lt_tensor *run_slice(fx_case *c)
{
    return lt_slice(fx_in(c, "x"), (int)fx_param_i(c, "dim", 0), fx_param_i(c, "start", 0),
                    fx_param_i(c, "end", INT64_MAX), fx_param_i(c, "step", 1));
}
static lt_tensor *run_concat(fx_case *c)
{
    static const char *const names[] = {"x0", "x1", "x2", "x3", "x4", "x5"};
    lt_tensor *xs[6];
    int n = 0;
    while (n < 6 && fx_has(c, names[n])) {
        xs[n] = fx_in(c, names[n]);
        n++;
    }
    return lt_concat(xs, n, (int)fx_param_i(c, "dim", 0));
}
static lt_tensor *run_split(fx_case *c)
{
    static const char *const names[] = {"out", "out1", "out2", "out3", "out4", "out5", "out6", "out7"};
    int64_t sizes[8];
    int n = fx_param_ints(c, "sizes", sizes, 8);
    lt_tensor *pieces[8];
    if (lt_split(fx_in(c, "x"), sizes, n, (int)fx_param_i(c, "dim", 0), pieces) != 0) return NULL;
    for (int i = 1; i < n; i++) fx_out(c, names[i], pieces[i]);
    return pieces[0];
}

static const fx_op shape_ops[] = {
    {"reshape", run_reshape}, {"flatten", run_flatten},     {"squeeze", run_squeeze}, {"unsqueeze", run_unsqueeze},
    {"permute", run_permute}, {"transpose", run_transpose}, {"slice", run_slice},     {"concat", run_concat},
    {"split", run_split},
};

START_TEST(test_fixtures)
{
    int n = fx_run_group("shape", shape_ops, (int)(sizeof shape_ops / sizeof shape_ops[0]));
    ck_assert_int_gt(n, 0);
}
END_TEST

/* ---------------- views share storage ---------------- */

static lt_tensor *iota(lt_dtype dtype, int ndim, const int64_t *shape)
{
    lt_tensor *t = lt_empty(dtype, ndim, shape);
    for (int64_t i = 0; i < t->numel; i++) {
        switch (dtype) {
        case LT_F32: lt_f32(t)[i] = (float)i; break;
        case LT_I32: lt_i32(t)[i] = (int32_t)(i * 7 - 3); break;
        case LT_U8: lt_u8(t)[i] = (uint8_t)(i * 13); break;
        default: ((int64_t *)t->data)[i] = i * 1000003LL - (1LL << 40); break;
        }
    }
    return t;
}

START_TEST(test_views_share_storage)
{
    lt_ctx *ctx = lt_ctx_new();
    lt_ctx_use(ctx);
    const int64_t shape[4] = {2, 3, 1, 4};
    lt_tensor *x = iota(LT_F32, 4, shape);
    lt_tensor_set_requires_grad(x, true);
    const int64_t flat[2] = {6, -1};
    lt_tensor *views[] = {lt_reshape(x, 2, flat), lt_flatten(x, 1, 2), lt_squeeze(x, 2), lt_squeeze(x, 0),
                          lt_unsqueeze(x, -1), lt_detach(x)};
    for (size_t i = 0; i < sizeof views / sizeof views[0]; i++) {
        ck_assert_ptr_nonnull(views[i]);
        ck_assert_ptr_eq(views[i]->data, x->data);
        ck_assert(views[i]->flags & LT_VIEW);
        ck_assert_int_eq(views[i]->numel, x->numel);
    }
    ck_assert_int_eq(views[0]->shape[1], 4);
    ck_assert_int_eq(views[2]->ndim, 3);
    ck_assert_int_eq(views[3]->ndim, 4); /* dim 0 has size 2: no-op */
    /* views record a node when the input requires grad (detach never does) */
    ck_assert_uint_eq(lt_tape_size(), 5);
    ck_assert_ptr_nonnull(views[0]->grad_fn);
    ck_assert(lt_requires_grad(views[4]));
    ck_assert_ptr_null(views[5]->grad_fn);
    bool was = lt_set_grad_enabled(false);
    size_t tape = lt_tape_size();
    lt_tensor *nograd = lt_reshape(x, 2, flat);
    ck_assert_ptr_null(nograd->grad_fn);
    ck_assert(!lt_requires_grad(nograd));
    ck_assert_uint_eq(lt_tape_size(), tape);
    lt_set_grad_enabled(was);

    /* slices of one contiguous block are views at an offset */
    lt_tensor *s0 = lt_slice(x, 0, 1, 2, 1);
    ck_assert_ptr_eq(s0->data, lt_f32(x) + 12);
    ck_assert_ptr_nonnull(s0->grad_fn);
    const int64_t lead_shape[3] = {1, 5, 3};
    lt_tensor *lead = iota(LT_I32, 3, lead_shape);
    lt_tensor *s1 = lt_slice(lead, 1, -3, 100, 1);
    ck_assert_ptr_eq(s1->data, lt_i32(lead) + 6);
    ck_assert_int_eq(s1->shape[1], 3);
    ck_assert_int_eq(lt_i32(s1)[0], lt_i32(lead)[6]);
    ck_assert_ptr_eq(lt_slice(x, 1, 0, 3, 1)->data, x->data); /* whole dim: identity */
    /* anything else is a copy */
    lt_tensor *copy = lt_slice(x, 1, 1, 3, 1);
    ck_assert_ptr_ne(copy->data, x->data);
    ck_assert(!(copy->flags & LT_VIEW));
    lt_tensor *stepped = lt_slice(x, 0, 0, 2, 2); /* step 2 over 2 rows: one row, still a view */
    ck_assert_ptr_eq(stepped->data, x->data);
    ck_assert_int_eq(stepped->shape[0], 1);
    /* split along the outermost dim: every piece is a view */
    lt_tensor *pieces[2];
    const int64_t sizes[2] = {1, 1};
    ck_assert_int_eq(lt_split(x, sizes, 2, 0, pieces), 0);
    ck_assert_ptr_eq(pieces[0]->data, x->data);
    ck_assert_ptr_eq(pieces[1]->data, lt_f32(x) + 12);
    /* permute and transpose always copy */
    const int perm[4] = {0, 1, 2, 3};
    ck_assert_ptr_ne(lt_permute(x, perm)->data, x->data);
    ck_assert_ptr_ne(lt_transpose(x, 1, 1)->data, x->data);

    lt_ctx_use(NULL);
    lt_ctx_free(ctx);
}
END_TEST

START_TEST(test_slice_view_of_step_2)
{
    /* A one-element strided slice is a single block too. */
    lt_ctx *ctx = lt_ctx_new();
    lt_ctx_use(ctx);
    const int64_t shape[2] = {4, 3};
    lt_tensor *x = iota(LT_F32, 2, shape);
    lt_tensor *s = lt_slice(x, 0, 3, 4, 5);
    ck_assert_ptr_eq(s->data, lt_f32(x) + 9);
    ck_assert_int_eq(s->numel, 3);
    lt_ctx_use(NULL);
    lt_ctx_free(ctx);
}
END_TEST

/* Views of views: gradients flow back through the whole chain. */
START_TEST(test_view_chain_backward)
{
    lt_ctx *ctx = lt_ctx_new();
    lt_ctx_use(ctx);
    const int64_t shape[3] = {2, 3, 4};
    lt_tensor *x = lt_tensor_new(LT_F32, 3, shape);
    fx_fill_uniform(x, 5, -1, 1);
    lt_tensor_set_requires_grad(x, true);
    const int64_t s2[2] = {-1, 4};
    lt_tensor *y = lt_unsqueeze(lt_squeeze(lt_flatten(lt_reshape(x, 2, s2), 0, 1), 0), 0);
    ck_assert_ptr_nonnull(y);
    ck_assert_int_eq(y->ndim, 2);
    ck_assert_ptr_eq(y->data, x->data);
    lt_tensor *g = lt_full(y->ndim, y->shape, 0.5f);
    ck_assert_int_eq(lt_backward_with_grad(y, g), 0);
    for (int64_t i = 0; i < x->numel; i++) ck_assert_float_eq(x->grad[i], 0.5f);
    lt_ctx_use(NULL);
    lt_ctx_free(ctx);
    lt_tensor_free(x);
}
END_TEST

START_TEST(test_null_inputs_keep_first_error)
{
    lt_ctx *ctx = lt_ctx_new();
    lt_ctx_use(ctx);
    lt_set_error("first");
    const int64_t s[1] = {3};
    const int perm[1] = {0};
    ck_assert_ptr_null(lt_reshape(NULL, 1, s));
    ck_assert_ptr_null(lt_flatten(NULL, 0, -1));
    ck_assert_ptr_null(lt_squeeze(NULL, 0));
    ck_assert_ptr_null(lt_unsqueeze(NULL, 0));
    ck_assert_ptr_null(lt_permute(NULL, perm));
    ck_assert_ptr_null(lt_transpose(NULL, 0, 1));
    ck_assert_ptr_null(lt_slice(NULL, 0, 0, 1, 1));
    lt_tensor *xs[2] = {lt_zeros(LT_F32, 1, s), NULL};
    ck_assert_ptr_null(lt_concat(xs, 2, 0));
    lt_tensor *out[1];
    ck_assert_int_eq(lt_split(NULL, s, 1, 0, out), -1);
    ck_assert_str_eq(lt_last_error(), "first");
    ck_assert_ptr_null(lt_concat(xs, 0, 0));
    ck_assert_ptr_nonnull(strstr(lt_last_error(), "concat: needs at least one tensor"));
    lt_tensor *big = lt_zeros(LT_F32, 8, (const int64_t[8]){1, 1, 1, 1, 1, 1, 1, 1});
    ck_assert_ptr_null(lt_unsqueeze(big, 0));
    ck_assert_ptr_nonnull(strstr(lt_last_error(), "unsqueeze: input [1,1,1,1,1,1,1,1] already has"));
    lt_ctx_use(NULL);
    lt_ctx_free(ctx);
}
END_TEST

/* ---------------- finite differences ---------------- */

typedef struct shape_call {
    int kind;
    int a, b, c;
} shape_call;

enum { K_RESHAPE, K_FLATTEN, K_SQUEEZE, K_UNSQUEEZE, K_PERMUTE, K_TRANSPOSE, K_SLICE, K_CONCAT, K_SPLIT };

static lt_tensor *call_shape(lt_tensor **in, void *user)
{
    const shape_call *s = user;
    lt_tensor *x = in[0];
    switch (s->kind) {
    case K_RESHAPE: {
        const int64_t shape[3] = {x->shape[1], -1, x->shape[0]};
        return lt_reshape(x, 3, shape);
    }
    case K_FLATTEN: return lt_flatten(x, s->a, s->b);
    case K_SQUEEZE: return lt_squeeze(lt_unsqueeze(x, s->a), s->a);
    case K_UNSQUEEZE: return lt_unsqueeze(x, s->a);
    case K_PERMUTE: {
        const int perm[4] = {s->a, s->b, s->c, 6 - s->a - s->b - s->c};
        return lt_permute(x, perm);
    }
    case K_TRANSPOSE: return lt_transpose(x, s->a, s->b);
    case K_SLICE: return lt_slice(x, s->a, s->b, INT64_MAX, s->c);
    case K_CONCAT: return lt_concat(in, 3, s->a);
    case K_SPLIT: {
        const int64_t sizes[3] = {2, 1, lt_dim(x, s->a) - 3};
        lt_tensor *p[3];
        if (lt_split(x, sizes, 3, s->a, p) != 0) return NULL;
        lt_tensor *reordered[3] = {p[2], p[0], p[1]};
        return lt_concat(reordered, 3, s->a);
    }
    default: return NULL;
    }
}

START_TEST(test_finite_differences)
{
    static const struct {
        const char *name;
        shape_call call;
        int n_inputs;
    } fns[] = {
        {"reshape", {K_RESHAPE, 0, 0, 0}, 1},
        {"flatten", {K_FLATTEN, 1, -1, 0}, 1},
        {"squeeze", {K_SQUEEZE, 2, 0, 0}, 1},
        {"unsqueeze", {K_UNSQUEEZE, -2, 0, 0}, 1},
        {"permute_0231", {K_PERMUTE, 0, 2, 3}, 1},
        {"permute_3120", {K_PERMUTE, 3, 1, 2}, 1},
        {"permute_1032", {K_PERMUTE, 1, 0, 3}, 1},
        {"transpose_02", {K_TRANSPOSE, 0, 2, 0}, 1},
        {"transpose_-1-2", {K_TRANSPOSE, -1, -2, 0}, 1},
        {"slice_dim0", {K_SLICE, 0, 1, 1}, 1},
        {"slice_step2", {K_SLICE, 1, -4, 2}, 1},
        {"slice_last_step3", {K_SLICE, 3, 1, 3}, 1},
        {"concat_dim1", {K_CONCAT, 1, 0, 0}, 3},
        {"split_dim2", {K_SPLIT, 2, 0, 0}, 1},
        {"split_dim-1", {K_SPLIT, -1, 0, 0}, 1},
    };
    for (size_t i = 0; i < sizeof fns / sizeof fns[0]; i++) {
        lt_tensor *in[3];
        for (int k = 0; k < fns[i].n_inputs; k++) {
            const int64_t shape[4] = {3, 5 + 2 * k, 7, 5};
            in[k] = lt_tensor_new(LT_F32, 4, shape);
            fx_fill_uniform(in[k], 200 + 10 * i + (size_t)k, -2, 2);
        }
        fx_gradcheck(fns[i].name, call_shape, (void *)&fns[i].call, in, fns[i].n_inputs, 1e-2f, 1e-3f, 60);
        for (int k = 0; k < fns[i].n_inputs; k++) lt_tensor_free(in[k]);
    }
}
END_TEST

/* ---------------- large tensors against naive loops ---------------- */

static void fill_random(lt_tensor *t, uint64_t seed)
{
    lt_rng rng;
    lt_rng_seed(&rng, seed);
    for (int64_t i = 0; i < t->numel; i++) {
        const uint64_t r = lt_rng_next(&rng);
        switch (t->dtype) {
        case LT_F32: lt_f32(t)[i] = lt_rng_uniform(&rng) * 2.0f - 1.0f; break;
        case LT_I32: lt_i32(t)[i] = (int32_t)r; break;
        case LT_U8: lt_u8(t)[i] = (uint8_t)r; break;
        default: ((int64_t *)t->data)[i] = (int64_t)r; break;
        }
    }
}

static void strides_of(int ndim, const int64_t *shape, int64_t *strides)
{
    int64_t s = 1;
    for (int d = ndim - 1; d >= 0; d--) {
        strides[d] = s;
        s *= shape[d];
    }
}

/* Index into x of output element i of permute(x, perm). */
static int64_t permuted_source(const lt_tensor *x, const int *perm, int64_t i)
{
    int64_t in_strides[LT_MAX_DIMS], src = 0;
    strides_of(x->ndim, x->shape, in_strides);
    for (int d = x->ndim - 1; d >= 0; d--) {
        const int64_t n = x->shape[perm[d]];
        src += (i % n) * in_strides[perm[d]];
        i /= n;
    }
    return src;
}

static bool same_element(const lt_tensor *a, int64_t i, const lt_tensor *b, int64_t j)
{
    const size_t es = lt_dtype_size(a->dtype);
    return memcmp((const char *)a->data + (size_t)i * es, (const char *)b->data + (size_t)j * es, es) == 0;
}

static bool next_permutation(int *p, int n)
{
    int i = n - 2;
    while (i >= 0 && p[i] >= p[i + 1]) i--;
    if (i < 0) return false;
    int j = n - 1;
    while (p[j] <= p[i]) j--;
    int t = p[i];
    p[i] = p[j];
    p[j] = t;
    for (int a = i + 1, b = n - 1; a < b; a++, b--) t = p[a], p[a] = p[b], p[b] = t;
    return true;
}

START_TEST(test_permute_large_all_orders)
{
    lt_ctx *ctx = lt_ctx_new();
    lt_ctx_use(ctx);
    const int64_t shape[4] = {3, 37, 41, 9}; /* 40959 elements: threaded, odd tiles */
    int perm[4] = {0, 1, 2, 3};
    do {
        lt_tensor *x = lt_empty(LT_F32, 4, shape);
        fill_random(x, 7);
        lt_tensor_set_requires_grad(x, true);
        lt_tensor *y = lt_permute(x, perm);
        ck_assert_ptr_nonnull(y);
        for (int d = 0; d < 4; d++) ck_assert_int_eq(y->shape[d], shape[perm[d]]);
        for (int64_t i = 0; i < y->numel; i++)
            ck_assert_msg(lt_f32(y)[i] == lt_f32(x)[permuted_source(x, perm, i)], "perm %d%d%d%d element %lld",
                          perm[0], perm[1], perm[2], perm[3], (long long)i);
        lt_tensor *g = lt_empty(LT_F32, 4, y->shape);
        fill_random(g, 8);
        ck_assert_int_eq(lt_backward_with_grad(y, g), 0);
        for (int64_t i = 0; i < y->numel; i++)
            ck_assert(x->grad[permuted_source(x, perm, i)] == lt_f32(g)[i]);
        lt_ctx_reset(ctx);
    } while (next_permutation(perm, 4));
    lt_ctx_use(NULL);
    lt_ctx_free(ctx);
}
END_TEST

START_TEST(test_permute_dtypes)
{
    lt_ctx *ctx = lt_ctx_new();
    lt_ctx_use(ctx);
    static const struct {
        int ndim;
        int64_t shape[5];
        int perm[5];
    } cases[] = {
        {2, {301, 257}, {1, 0}},
        {4, {2, 3, 97, 131}, {0, 2, 3, 1}},   /* NCHW -> NHWC */
        {4, {2, 97, 131, 3}, {0, 3, 1, 2}},   /* NHWC -> NCHW */
        {5, {3, 1, 17, 29, 33}, {4, 2, 1, 0, 3}},
        {3, {65, 1, 700}, {2, 1, 0}},
    };
    const lt_dtype dtypes[4] = {LT_F32, LT_I32, LT_U8, LT_I64};
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++)
        for (int k = 0; k < 4; k++) {
            lt_tensor *x = lt_empty(dtypes[k], cases[c].ndim, cases[c].shape);
            fill_random(x, 11 + c);
            lt_tensor *y = lt_permute(x, cases[c].perm);
            ck_assert_ptr_nonnull(y);
            ck_assert_int_eq(y->dtype, dtypes[k]);
            ck_assert_ptr_null(y->grad_fn);
            for (int64_t i = 0; i < y->numel; i++)
                ck_assert_msg(same_element(y, i, x, permuted_source(x, cases[c].perm, i)),
                              "case %zu dtype %s element %lld", c, lt_dtype_name(dtypes[k]), (long long)i);
            lt_ctx_reset(ctx);
        }
    lt_ctx_use(NULL);
    lt_ctx_free(ctx);
}
END_TEST

START_TEST(test_concat_slice_split_large)
{
    lt_ctx *ctx = lt_ctx_new();
    lt_ctx_use(ctx);
    const lt_dtype dtypes[4] = {LT_F32, LT_I32, LT_U8, LT_I64};
    for (int k = 0; k < 4; k++) {
        /* channel concat of NCHW with batch 1 (rows split into chunks) and 3 */
        for (int64_t n = 1; n <= 3; n += 2) {
            const int64_t channels[3] = {5, 16, 3};
            lt_tensor *xs[3];
            for (int i = 0; i < 3; i++) {
                const int64_t shape[4] = {n, channels[i], 45, 67};
                xs[i] = lt_empty(dtypes[k], 4, shape);
                fill_random(xs[i], 30 + (uint64_t)i);
            }
            lt_tensor *y = lt_concat(xs, 3, 1);
            ck_assert_ptr_nonnull(y);
            ck_assert_int_eq(y->shape[1], 24);
            const int64_t hw = 45 * 67;
            for (int64_t b = 0; b < n; b++)
                for (int64_t c = 0, src = 0, off = 0; c < 24; c++, off++) {
                    if (off == channels[src]) src++, off = 0;
                    for (int64_t j = 0; j < hw; j++)
                        ck_assert(same_element(y, (b * 24 + c) * hw + j, xs[src], (b * channels[src] + off) * hw + j));
                }
            /* split it back along the channels: pieces equal the inputs */
            lt_tensor *pieces[3];
            ck_assert_int_eq(lt_split(y, channels, 3, 1, pieces), 0);
            for (int i = 0; i < 3; i++) {
                ck_assert(lt_same_shape(pieces[i], xs[i]));
                ck_assert(memcmp(pieces[i]->data, xs[i]->data, (size_t)xs[i]->numel * lt_dtype_size(dtypes[k])) == 0);
            }
            /* strided slices of the big tensor along every dim */
            for (int d = 0; d < 4; d++) {
                const int64_t start = d == 0 ? 0 : 1, step = d == 0 ? 1 : 2 + d;
                lt_tensor *s = lt_slice(y, d, start, INT64_MAX, step);
                ck_assert_ptr_nonnull(s);
                int64_t st[4], ss[4];
                strides_of(4, y->shape, st);
                strides_of(4, s->shape, ss);
                for (int64_t i = 0; i < s->numel; i++) {
                    int64_t src = 0;
                    for (int e = 0; e < 4; e++) {
                        int64_t idx = (i / ss[e]) % s->shape[e];
                        if (e == d) idx = start + idx * step;
                        src += idx * st[e];
                    }
                    ck_assert(same_element(s, i, y, src));
                }
            }
            lt_ctx_reset(ctx);
        }
    }
    lt_ctx_use(NULL);
    lt_ctx_free(ctx);
}
END_TEST

/* concat([x, x]) and slices that overlap must add, not overwrite, into x's gradient. */
START_TEST(test_repeated_inputs_accumulate)
{
    lt_ctx *ctx = lt_ctx_new();
    lt_ctx_use(ctx);
    const int64_t shape[2] = {181, 190}; /* 34390 elements: the threaded path */
    lt_tensor *x = lt_empty(LT_F32, 2, shape);
    fill_random(x, 3);
    lt_tensor_set_requires_grad(x, true);
    lt_tensor *twice[3] = {x, lt_slice(x, 1, 0, INT64_MAX, 2), x};
    lt_tensor *y = lt_concat(twice, 3, 1);
    ck_assert_ptr_nonnull(y);
    lt_tensor *g = lt_full(y->ndim, y->shape, 1.0f);
    ck_assert_int_eq(lt_backward_with_grad(y, g), 0);
    for (int64_t r = 0; r < shape[0]; r++)
        for (int64_t c = 0; c < shape[1]; c++)
            ck_assert_float_eq(x->grad[r * shape[1] + c], c % 2 == 0 ? 3.0f : 2.0f);
    lt_ctx_use(NULL);
    lt_ctx_free(ctx);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("shape");
    TCase *tc = tcase_create("ops");
    tcase_set_timeout(tc, 600);
    tcase_add_test(tc, test_fixtures);
    tcase_add_test(tc, test_views_share_storage);
    tcase_add_test(tc, test_slice_view_of_step_2);
    tcase_add_test(tc, test_view_chain_backward);
    tcase_add_test(tc, test_null_inputs_keep_first_error);
    tcase_add_test(tc, test_finite_differences);
    tcase_add_test(tc, test_permute_large_all_orders);
    tcase_add_test(tc, test_permute_dtypes);
    tcase_add_test(tc, test_concat_slice_split_large);
    tcase_add_test(tc, test_repeated_inputs_accumulate);
    suite_add_tcase(s, tc);
    return fx_run_suite(s);
}

/* Tensors, contexts and the step arena: lifetimes, errors, constant memory. */
#include "fixture.h"

#include <check.h>
#include <math.h>
#include <stdint.h>
#include <string.h>

START_TEST(test_owned_tensor)
{
    int64_t shape[4] = {2, 3, 4, 5};
    lt_tensor *t = lt_tensor_new(LT_F32, 4, shape);
    ck_assert_ptr_nonnull(t);
    ck_assert_int_eq(t->numel, 120);
    ck_assert_int_eq(t->ndim, 4);
    ck_assert(t->flags & LT_OWNED);
    for (int64_t i = 0; i < t->numel; i++) ck_assert(lt_f32(t)[i] == 0.0f);
    ck_assert_int_eq(lt_dim(t, -1), 5);
    ck_assert_int_eq(lt_dim(t, 1), 3);
    char buf[64];
    ck_assert_str_eq(lt_shape_str(t, buf, sizeof buf), "[2,3,4,5]");
    ck_assert_int_eq(lt_tensor_set_requires_grad(t, true), 0);
    ck_assert_ptr_nonnull(t->grad);
    lt_tensor *c = lt_tensor_clone_owned(t);
    ck_assert(lt_same_shape(c, t));
    ck_assert_ptr_null(c->grad);
    lt_tensor_free(c);
    lt_tensor_free(t);
    lt_tensor_free(NULL);
    ck_assert_uint_eq(lt_dtype_size(LT_U8), 1);
    ck_assert_str_eq(lt_dtype_name(LT_I32), "int32");
}
END_TEST

START_TEST(test_bad_shapes)
{
    int64_t neg[2] = {3, -1};
    ck_assert_ptr_null(lt_tensor_new(LT_F32, 2, neg));
    ck_assert_ptr_nonnull(strstr(lt_last_error(), "negative dimension"));
    int64_t big[9] = {1, 1, 1, 1, 1, 1, 1, 1, 1};
    ck_assert_ptr_null(lt_tensor_new(LT_F32, 9, big));
    ck_assert_ptr_nonnull(strstr(lt_last_error(), "ndim 9"));

    int64_t s[1] = {3};
    lt_tensor *i = lt_tensor_new(LT_I32, 1, s);
    ck_assert_int_eq(lt_tensor_set_requires_grad(i, true), -1);
    ck_assert_ptr_nonnull(strstr(lt_last_error(), "int32"));
    lt_tensor_free(i);
}
END_TEST

START_TEST(test_no_context)
{
    lt_ctx_use(NULL);
    int64_t s[1] = {3};
    ck_assert_ptr_null(lt_zeros(LT_F32, 1, s));
    ck_assert_ptr_nonnull(strstr(lt_last_error(), "no ltrain context"));
    /* an op given an owned tensor but no context fails the same way */
    lt_tensor *x = lt_tensor_new(LT_F32, 1, s);
    ck_assert_ptr_null(lt_relu(x));
    ck_assert_ptr_nonnull(strstr(lt_last_error(), "relu: no ltrain context"));
    lt_tensor_free(x);
}
END_TEST

START_TEST(test_null_propagates_first_error)
{
    lt_ctx *ctx = lt_ctx_new();
    lt_ctx_use(ctx);
    int64_t s[1] = {4};
    lt_tensor *i = lt_zeros(LT_I32, 1, s);
    lt_tensor *y = lt_exp(lt_relu(lt_sigmoid(i))); /* fails in sigmoid */
    ck_assert_ptr_null(y);
    ck_assert_msg(strstr(lt_last_error(), "sigmoid: input [4] must be float32, got int32"), "%s", lt_last_error());
    /* freeing a step tensor is refused, not a crash */
    lt_tensor_free(i);
    ck_assert_ptr_nonnull(strstr(lt_last_error(), "step tensor"));
    lt_ctx_use(NULL);
    lt_ctx_free(ctx);
}
END_TEST

START_TEST(test_step_tensors)
{
    lt_ctx *ctx = lt_ctx_new();
    ck_assert_ptr_null(lt_ctx_use(ctx));
    ck_assert_ptr_eq(lt_ctx_current(), ctx);
    int64_t s[2] = {3, 5};
    lt_tensor *f = lt_full(2, s, 2.5f);
    ck_assert_ptr_nonnull(f);
    ck_assert(!(f->flags & LT_OWNED));
    ck_assert(lt_f32(f)[14] == 2.5f);
    ck_assert(((uintptr_t)f->data % 64) == 0);
    float vals[3] = {1, 2, 3};
    int64_t s3[1] = {3};
    lt_tensor *d = lt_from_data(LT_F32, 1, s3, vals);
    ck_assert(lt_f32(d)[2] == 3.0f);
    ck_assert(lt_item(lt_scalar(7.0f)) == 7.0f);
    lt_tensor *cp = lt_copy(d);
    ck_assert(cp->data != d->data && lt_f32(cp)[1] == 2.0f);
    ck_assert_ptr_nonnull(lt_step_alloc(100));
    lt_ctx_use(NULL);
    lt_ctx_free(ctx);
}
END_TEST

START_TEST(test_modes)
{
    lt_ctx *ctx = lt_ctx_new();
    lt_ctx_use(ctx);
    ck_assert(lt_is_grad_enabled() && lt_is_training());
    ck_assert(lt_set_grad_enabled(false) == true);
    ck_assert(!lt_is_grad_enabled());
    int64_t s[1] = {3};
    lt_tensor *x = lt_tensor_new(LT_F32, 1, s);
    lt_tensor_set_requires_grad(x, true);
    lt_tensor *y = lt_relu(x);
    ck_assert(!lt_requires_grad(y) && y->grad_fn == NULL);
    ck_assert_uint_eq(lt_tape_size(), 0);
    lt_set_grad_enabled(true);
    y = lt_relu(x);
    ck_assert(lt_requires_grad(y) && y->grad_fn != NULL);
    ck_assert_uint_eq(lt_tape_size(), 1);
    ck_assert(lt_set_training(false) == true && !lt_is_training());
    lt_tensor_free(x);
    lt_ctx_use(NULL);
    lt_ctx_free(ctx);
}
END_TEST

/* The arena grows during warm-up, is re-laid as one block, then a loop of
 * identical steps reserves nothing more. */
START_TEST(test_arena_constant_memory)
{
    lt_ctx *ctx = lt_ctx_new();
    lt_ctx_use(ctx);
    int64_t s[1] = {1 << 20}; /* 4 MiB per tensor: forces several blocks */
    for (int step = 0; step < 50; step++) {
        for (int k = 0; k < 6; k++) ck_assert_ptr_nonnull(lt_zeros(LT_F32, 1, s));
        lt_arena_stats st = lt_ctx_arena_stats(ctx);
        ck_assert_uint_ge(st.high_water, 6u * 4u << 20);
        lt_ctx_reset(ctx);
        st = lt_ctx_arena_stats(ctx);
        ck_assert_uint_eq(st.n_blocks, 1);
        ck_assert_uint_eq(st.used, 0);
    }
    lt_arena_stats a = lt_ctx_arena_stats(ctx);
    for (int k = 0; k < 6; k++) lt_zeros(LT_F32, 1, s);
    lt_ctx_reset(ctx);
    lt_arena_stats b = lt_ctx_arena_stats(ctx);
    ck_assert_uint_eq(a.n_grows, b.n_grows);
    ck_assert_uint_eq(a.capacity, b.capacity);
    lt_ctx_use(NULL);
    lt_ctx_free(ctx);
}
END_TEST

START_TEST(test_threads)
{
    lt_set_num_threads(1);
    ck_assert_int_eq(lt_get_num_threads(), 1);
    lt_set_num_threads(0);
    ck_assert_int_ge(lt_get_num_threads(), 1);
}
END_TEST

START_TEST(test_rng)
{
    lt_rng a, b;
    lt_rng_seed(&a, 42);
    lt_rng_seed(&b, 42);
    for (int i = 0; i < 100; i++) ck_assert_uint_eq(lt_rng_next(&a), lt_rng_next(&b));
    double sum = 0, sq = 0;
    for (int i = 0; i < 20000; i++) {
        float u = lt_rng_uniform(&a);
        ck_assert(u >= 0.0f && u < 1.0f);
        float n = lt_rng_normal(&b);
        sum += n;
        sq += (double)n * n;
    }
    ck_assert(fabs(sum / 20000) < 0.05 && fabs(sq / 20000 - 1.0) < 0.05);
    for (int i = 0; i < 1000; i++) ck_assert_uint_lt(lt_rng_below(&a, 7), 7);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("tensor");
    TCase *tc = tcase_create("tensor");
    tcase_add_test(tc, test_owned_tensor);
    tcase_add_test(tc, test_bad_shapes);
    tcase_add_test(tc, test_no_context);
    tcase_add_test(tc, test_null_propagates_first_error);
    tcase_add_test(tc, test_step_tensors);
    tcase_add_test(tc, test_modes);
    tcase_add_test(tc, test_arena_constant_memory);
    tcase_add_test(tc, test_threads);
    tcase_add_test(tc, test_rng);
    suite_add_tcase(s, tc);
    return fx_run_suite(s);
}

/* Autograd: chain rule through shared subgraphs, accumulation, detach,
 * views, grad mode, and the errors of misuse. */
#include "fixture.h"

#include <check.h>
#include <math.h>
#include <string.h>

static lt_ctx *ctx;

static void setup(void)
{
    ctx = lt_ctx_new();
    lt_ctx_use(ctx);
}

static void teardown(void)
{
    lt_ctx_use(NULL);
    lt_ctx_free(ctx);
}

static lt_tensor *leaf(int n, const float *v)
{
    int64_t s[1] = {n};
    lt_tensor *t = lt_tensor_new(LT_F32, 1, s);
    memcpy(t->data, v, sizeof(float) * (size_t)n);
    lt_tensor_set_requires_grad(t, true);
    return t;
}

/* c = a + a*a with a = exp(x): x's gradient sums both paths. */
START_TEST(test_diamond)
{
    const float v[3] = {-1.0f, 0.25f, 1.5f};
    lt_tensor *x = leaf(3, v);
    lt_tensor *a = lt_exp(x);
    lt_tensor *c = lt_add(a, lt_mul(a, a));
    lt_tensor *loss = lt_sum(c, NULL, 0, false);
    ck_assert_int_eq(lt_backward(loss), 0);
    for (int i = 0; i < 3; i++) {
        double e = exp(v[i]), want = e + 2 * e * e;
        ck_assert_msg(fabs(x->grad[i] - want) < 1e-5 * want, "%g vs %g", x->grad[i], want);
    }
    lt_tensor_free(x);
}
END_TEST

/* Leaf gradients accumulate across steps until zeroed. */
/* Backward stores into a fresh gradient buffer and passes buffers on (add,
 * views); later contributions must still add: a + a, a's view through a
 * relu, and a concat of a with itself all reach a. */
START_TEST(test_fresh_gradient_buffers)
{
    const float v[6] = {-1.0f, 0.5f, 2.0f, -0.25f, 3.0f, -4.0f};
    lt_tensor *x = leaf(6, v);
    lt_tensor *a = lt_mul_scalar(x, 1.0f);
    lt_tensor *twice = lt_sum(lt_add(a, a), NULL, 0, false);
    lt_tensor *rect = lt_sum(lt_relu(lt_reshape(a, 2, (int64_t[]){2, 3})), NULL, 0, false);
    lt_tensor *cat = lt_sum(lt_concat((lt_tensor *[]){a, a}, 2, 0), NULL, 0, false);
    lt_tensor *loss = lt_add(lt_add(twice, rect), cat);
    ck_assert_int_eq(lt_backward(loss), 0);
    for (int i = 0; i < 6; i++) ck_assert_float_eq(x->grad[i], 4.0f + (v[i] > 0.0f ? 1.0f : 0.0f));
    lt_tensor_free(x);
}
END_TEST

START_TEST(test_accumulate_and_zero)
{
    const float v[2] = {2.0f, -3.0f};
    lt_tensor *x = leaf(2, v);
    for (int step = 1; step <= 3; step++) {
        ck_assert_int_eq(lt_backward(lt_sum(lt_mul_scalar(x, 2.0f), NULL, 0, false)), 0);
        ck_assert(x->grad[0] == 2.0f * step && x->grad[1] == 2.0f * step);
        lt_ctx_reset(ctx);
    }
    lt_tensor_zero_grad(x);
    ck_assert(x->grad[0] == 0.0f);
    lt_tensor_free(x);
}
END_TEST

START_TEST(test_detach_and_no_grad)
{
    const float v[2] = {1.0f, 2.0f};
    lt_tensor *x = leaf(2, v);
    lt_tensor *d = lt_detach(x);
    ck_assert(!lt_requires_grad(d) && d->data == x->data);
    /* y = x * detach(x): gradient is detach(x) only */
    ck_assert_int_eq(lt_backward(lt_sum(lt_mul(x, d), NULL, 0, false)), 0);
    ck_assert(x->grad[0] == 1.0f && x->grad[1] == 2.0f);
    lt_ctx_reset(ctx);
    lt_set_grad_enabled(false);
    lt_tensor *y = lt_sum(lt_mul(x, x), NULL, 0, false);
    ck_assert(!lt_requires_grad(y));
    ck_assert_int_eq(lt_backward(y), -1);
    ck_assert_ptr_nonnull(strstr(lt_last_error(), "does not require grad"));
    lt_set_grad_enabled(true);
    lt_tensor_free(x);
}
END_TEST

/* Gradients flow through views back to the viewed tensor. */
START_TEST(test_view_gradient)
{
    const float v[6] = {1, 2, 3, 4, 5, 6};
    lt_tensor *x = leaf(6, v);
    int64_t s[2] = {2, 3};
    lt_tensor *m = lt_reshape(x, 2, s);
    ck_assert(m->data == x->data);
    lt_tensor *y = lt_sum(lt_mul(m, m), NULL, 0, false);
    ck_assert_int_eq(lt_backward(y), 0);
    for (int i = 0; i < 6; i++) ck_assert(x->grad[i] == 2.0f * v[i]);
    lt_tensor_free(x);
}
END_TEST

START_TEST(test_misuse_errors)
{
    const float v[3] = {1, 2, 3};
    lt_tensor *x = leaf(3, v);
    lt_tensor *y = lt_exp(x);
    ck_assert_int_eq(lt_backward(y), -1);
    ck_assert_msg(strstr(lt_last_error(), "single-element"), "%s", lt_last_error());
    lt_tensor *loss = lt_sum(y, NULL, 0, false);
    ck_assert_int_eq(lt_backward(loss), 0);
    ck_assert_int_eq(lt_backward(loss), -1);
    ck_assert_msg(strstr(lt_last_error(), "second time"), "%s", lt_last_error());
    ck_assert_int_eq(lt_backward(NULL), -1);
    int64_t s[1] = {2};
    lt_tensor *z = lt_exp(x);
    ck_assert_int_eq(lt_backward_with_grad(z, lt_zeros(LT_F32, 1, s)), -1);
    ck_assert_msg(strstr(lt_last_error(), "does not match"), "%s", lt_last_error());
    lt_tensor_free(x);
}
END_TEST

/* Two independent graphs in one step can each be backpropagated once; a
 * branch that does not reach the loss gets no gradient. */
START_TEST(test_independent_graphs)
{
    const float v[2] = {0.5f, 1.0f};
    lt_tensor *x = leaf(2, v), *w = leaf(2, v);
    lt_tensor *unused = lt_exp(w);
    (void)unused;
    ck_assert_int_eq(lt_backward(lt_sum(lt_mul_scalar(x, 3.0f), NULL, 0, false)), 0);
    ck_assert_int_eq(lt_backward(lt_sum(lt_mul_scalar(x, 4.0f), NULL, 0, false)), 0);
    ck_assert(x->grad[0] == 7.0f && x->grad[1] == 7.0f);
    ck_assert(w->grad[0] == 0.0f && w->grad[1] == 0.0f);
    lt_tensor_free(x);
    lt_tensor_free(w);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("autograd");
    TCase *tc = tcase_create("autograd");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_diamond);
    tcase_add_test(tc, test_fresh_gradient_buffers);
    tcase_add_test(tc, test_accumulate_and_zero);
    tcase_add_test(tc, test_detach_and_no_grad);
    tcase_add_test(tc, test_view_gradient);
    tcase_add_test(tc, test_misuse_errors);
    tcase_add_test(tc, test_independent_graphs);
    suite_add_tcase(s, tc);
    return fx_run_suite(s);
}

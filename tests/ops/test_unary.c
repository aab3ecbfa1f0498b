/* Unary ops: activations, unary math, tensor-scalar arithmetic. */
#include "fixture.h"

#include <check.h>
#include <math.h>

static lt_tensor *run_relu(fx_case *c) { return lt_relu(fx_in(c, "x")); }
static lt_tensor *run_relu6(fx_case *c) { return lt_relu6(fx_in(c, "x")); }
static lt_tensor *run_leaky_relu(fx_case *c)
{
    return lt_leaky_relu(fx_in(c, "x"), (float)fx_param_f(c, "negative_slope", 0.01));
}
static lt_tensor *run_sigmoid(fx_case *c) { return lt_sigmoid(fx_in(c, "x")); }
static lt_tensor *run_tanh(fx_case *c) { return lt_tanh(fx_in(c, "x")); }
static lt_tensor *run_silu(fx_case *c) { return lt_silu(fx_in(c, "x")); }
static lt_tensor *run_hardswish(fx_case *c) { return lt_hardswish(fx_in(c, "x")); }
static lt_tensor *run_hardsigmoid(fx_case *c) { return lt_hardsigmoid(fx_in(c, "x")); }
static lt_tensor *run_gelu(fx_case *c) { return lt_gelu(fx_in(c, "x"), fx_param_b(c, "approximate", false)); }
static lt_tensor *run_softplus(fx_case *c)
{
    return lt_softplus(fx_in(c, "x"), (float)fx_param_f(c, "beta", 1), (float)fx_param_f(c, "threshold", 20));
}
static lt_tensor *run_exp(fx_case *c) { return lt_exp(fx_in(c, "x")); }
static lt_tensor *run_log(fx_case *c) { return lt_log(fx_in(c, "x")); }
static lt_tensor *run_sqrt(fx_case *c) { return lt_sqrt(fx_in(c, "x")); }
static lt_tensor *run_abs(fx_case *c) { return lt_abs(fx_in(c, "x")); }
static lt_tensor *run_clamp(fx_case *c)
{
    return lt_clamp(fx_in(c, "x"), (float)fx_param_f(c, "min", -INFINITY), (float)fx_param_f(c, "max", INFINITY));
}
static lt_tensor *run_neg(fx_case *c) { return lt_neg(fx_in(c, "x")); }
static lt_tensor *run_add_scalar(fx_case *c) { return lt_add_scalar(fx_in(c, "x"), (float)fx_param_f(c, "s", 0)); }
static lt_tensor *run_mul_scalar(fx_case *c) { return lt_mul_scalar(fx_in(c, "x"), (float)fx_param_f(c, "s", 1)); }
static lt_tensor *run_rsub_scalar(fx_case *c) { return lt_rsub_scalar(fx_in(c, "x"), (float)fx_param_f(c, "s", 0)); }
static lt_tensor *run_div_scalar(fx_case *c) { return lt_div_scalar(fx_in(c, "x"), (float)fx_param_f(c, "s", 1)); }
static lt_tensor *run_pow_scalar(fx_case *c) { return lt_pow_scalar(fx_in(c, "x"), (float)fx_param_f(c, "e", 1)); }

static const fx_op unary_ops[] = {
    {"relu", run_relu}, {"relu6", run_relu6}, {"leaky_relu", run_leaky_relu}, {"sigmoid", run_sigmoid},
    {"tanh", run_tanh}, {"silu", run_silu}, {"hardswish", run_hardswish}, {"hardsigmoid", run_hardsigmoid},
    {"gelu", run_gelu}, {"softplus", run_softplus}, {"exp", run_exp}, {"log", run_log}, {"sqrt", run_sqrt},
    {"abs", run_abs}, {"clamp", run_clamp}, {"neg", run_neg}, {"add_scalar", run_add_scalar},
    {"mul_scalar", run_mul_scalar}, {"rsub_scalar", run_rsub_scalar}, {"div_scalar", run_div_scalar},
    {"pow_scalar", run_pow_scalar},
};

START_TEST(test_fixtures)
{
    int n = fx_run_group("unary", unary_ops, (int)(sizeof unary_ops / sizeof unary_ops[0]));
    ck_assert_int_gt(n, 0);
}
END_TEST

/* Finite differences over every unary op on a random odd-sized shape. */
typedef lt_tensor *(*unary_fn)(lt_tensor *);
static lt_tensor *gelu_exact(lt_tensor *x) { return lt_gelu(x, false); }
static lt_tensor *gelu_approx(lt_tensor *x) { return lt_gelu(x, true); }
static lt_tensor *softplus2(lt_tensor *x) { return lt_softplus(x, 2.0f, 3.0f); }
static lt_tensor *leaky(lt_tensor *x) { return lt_leaky_relu(x, 0.1f); }
static lt_tensor *clamp_fn(lt_tensor *x) { return lt_clamp(x, -0.5f, 0.5f); }
static lt_tensor *powc(lt_tensor *x) { return lt_pow_scalar(x, 3.0f); }

static lt_tensor *call_unary(lt_tensor **in, void *user) { return ((unary_fn)user)(in[0]); }

START_TEST(test_finite_differences)
{
    static const struct {
        const char *name;
        unary_fn fn;
        float lo, hi;
    } fns[] = {
        {"relu", lt_relu, 0.05f, 2.f},        {"sigmoid", lt_sigmoid, -3, 3},   {"tanh", lt_tanh, -2, 2},
        {"silu", lt_silu, -3, 3},             {"gelu", gelu_exact, -3, 3},      {"gelu_tanh", gelu_approx, -3, 3},
        {"softplus", softplus2, -2, 1.4f},    {"exp", lt_exp, -2, 2},           {"log", lt_log, 0.5f, 3},
        {"sqrt", lt_sqrt, 0.5f, 3},           {"leaky_relu", leaky, -2, -0.05f}, {"clamp", clamp_fn, -0.4f, 0.4f},
        {"pow3", powc, -2, 2},                {"hardswish", lt_hardswish, -2.9f, 2.9f},
    };
    int64_t shape[3] = {3, 5, 7};
    for (size_t i = 0; i < sizeof fns / sizeof fns[0]; i++) {
        lt_tensor *x = lt_tensor_new(LT_F32, 3, shape);
        fx_fill_uniform(x, 100 + i, fns[i].lo, fns[i].hi);
        fx_gradcheck(fns[i].name, call_unary, (void *)fns[i].fn, &x, 1, 1e-2f, 1e-2f, 40);
        lt_tensor_free(x);
    }
}
END_TEST

int main(void)
{
    Suite *s = suite_create("unary");
    TCase *tc = tcase_create("ops");
    tcase_set_timeout(tc, 600);
    tcase_add_test(tc, test_fixtures);
    tcase_add_test(tc, test_finite_differences);
    suite_add_tcase(s, tc);
    return fx_run_suite(s);
}

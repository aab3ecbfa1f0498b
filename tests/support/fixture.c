/* Fixture runner and finite-difference gradient checks (see fixture.h). */
#include "fixture.h"

#include <check.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifndef LT_FIXTURES_DIR
#error "LT_FIXTURES_DIR must be defined by the build"
#endif

#define FX_MAX_TENSORS 32

struct fx_case {
    json_t *json;
    const char *name;
    struct {
        const char *name;
        lt_tensor *t;
    } ins[FX_MAX_TENSORS], outs[FX_MAX_TENSORS];
    int n_ins, n_outs;
};

static lt_dtype dtype_of(const char *s)
{
    if (!strcmp(s, "i32")) return LT_I32;
    if (!strcmp(s, "u8")) return LT_U8;
    if (!strcmp(s, "i64")) return LT_I64;
    return LT_F32;
}

/* A step tensor from {"shape":..., "dtype":..., "data":...}. */
static lt_tensor *tensor_from_json(const char *case_name, const char *what, json_t *j)
{
    json_t *shape = json_object_get(j, "shape"), *data = json_object_get(j, "data");
    ck_assert_msg(json_is_array(shape) && json_is_array(data), "case %s: %s lacks shape/data", case_name, what);
    int64_t dims[LT_MAX_DIMS];
    int nd = (int)json_array_size(shape);
    for (int i = 0; i < nd; i++) dims[i] = json_integer_value(json_array_get(shape, (size_t)i));
    json_t *dt = json_object_get(j, "dtype");
    lt_tensor *t = lt_empty(dtype_of(dt ? json_string_value(dt) : "f32"), nd, dims);
    ck_assert_msg(t != NULL, "case %s: %s: %s", case_name, what, lt_last_error());
    ck_assert_msg((int64_t)json_array_size(data) == t->numel, "case %s: %s: %zu values for shape of %lld",
                  case_name, what, json_array_size(data), (long long)t->numel);
    for (int64_t i = 0; i < t->numel; i++) {
        json_t *v = json_array_get(data, (size_t)i);
        double d = json_is_string(v) ? strtod(json_string_value(v), NULL) : json_number_value(v);
        switch (t->dtype) {
        case LT_F32: lt_f32(t)[i] = (float)d; break;
        case LT_I32: lt_i32(t)[i] = (int32_t)d; break;
        case LT_U8: lt_u8(t)[i] = (uint8_t)d; break;
        case LT_I64: ((int64_t *)t->data)[i] = (int64_t)d; break;
        default: break;
        }
    }
    return t;
}

lt_tensor *fx_in(fx_case *c, const char *name)
{
    for (int i = 0; i < c->n_ins; i++)
        if (!strcmp(c->ins[i].name, name)) return c->ins[i].t;
    json_t *j = json_object_get(json_object_get(c->json, "inputs"), name);
    ck_assert_msg(j != NULL, "case %s: no input named '%s'", c->name, name);
    lt_tensor *t = tensor_from_json(c->name, name, j);
    if (json_is_true(json_object_get(j, "requires_grad"))) lt_tensor_set_requires_grad(t, true);
    ck_assert(c->n_ins < FX_MAX_TENSORS);
    c->ins[c->n_ins].name = name;
    c->ins[c->n_ins++].t = t;
    return t;
}

bool fx_has(fx_case *c, const char *name) { return json_object_get(json_object_get(c->json, "inputs"), name); }

static json_t *param(fx_case *c, const char *key) { return json_object_get(json_object_get(c->json, "params"), key); }

double fx_param_f(fx_case *c, const char *key, double def)
{
    json_t *v = param(c, key);
    if (json_is_string(v)) return strtod(json_string_value(v), NULL); /* "inf", "-inf", "nan" */
    return v && json_is_number(v) ? json_number_value(v) : def;
}

int64_t fx_param_i(fx_case *c, const char *key, int64_t def)
{
    json_t *v = param(c, key);
    return json_is_integer(v) ? json_integer_value(v) : def;
}

bool fx_param_b(fx_case *c, const char *key, bool def)
{
    json_t *v = param(c, key);
    return json_is_boolean(v) ? json_is_true(v) : def;
}

int fx_param_ints(fx_case *c, const char *key, int64_t *out, int max)
{
    json_t *v = param(c, key);
    if (json_is_integer(v)) {
        for (int i = 0; i < max; i++) out[i] = json_integer_value(v);
        return max;
    }
    if (!json_is_array(v)) return 0;
    int n = (int)json_array_size(v);
    ck_assert_msg(n <= max, "case %s: param %s has %d entries, at most %d", c->name, key, n, max);
    for (int i = 0; i < n; i++) out[i] = json_integer_value(json_array_get(v, (size_t)i));
    return n;
}

const char *fx_param_s(fx_case *c, const char *key, const char *def)
{
    json_t *v = param(c, key);
    return json_is_string(v) ? json_string_value(v) : def;
}

void fx_out(fx_case *c, const char *name, lt_tensor *t)
{
    ck_assert(c->n_outs < FX_MAX_TENSORS);
    c->outs[c->n_outs].name = name;
    c->outs[c->n_outs++].t = t;
}

static lt_tensor *find_out(fx_case *c, const char *name)
{
    for (int i = 0; i < c->n_outs; i++)
        if (!strcmp(c->outs[i].name, name)) return c->outs[i].t;
    return NULL;
}

static double value_at(const lt_tensor *t, int64_t i)
{
    switch (t->dtype) {
    case LT_F32: return lt_f32(t)[i];
    case LT_I32: return lt_i32(t)[i];
    case LT_U8: return lt_u8(t)[i];
    case LT_I64: return (double)((int64_t *)t->data)[i];
    default: return NAN;
    }
}

/* got (values, shape of `want`) against want within atol + rtol*|want|. */
static void compare(fx_case *c, const char *what, const lt_tensor *shape_of, const float *got_f32,
                    const lt_tensor *got, const lt_tensor *want, double rtol, double atol)
{
    char s1[128], s2[128];
    ck_assert_msg(shape_of->numel == want->numel && shape_of->ndim == want->ndim && lt_same_shape(shape_of, want),
                  "case %s: %s has shape %s, expected %s", c->name, what, lt_shape_str(shape_of, s1, sizeof s1),
                  lt_shape_str(want, s2, sizeof s2));
    int64_t bad = 0, first = -1;
    double worst = 0;
    for (int64_t i = 0; i < want->numel; i++) {
        double g = got_f32 ? (got_f32 ? got_f32[i] : 0.0) : value_at(got, i);
        double w = value_at(want, i);
        bool ok = (isnan(w) && isnan(g)) || (isinf(w) && g == w) || fabs(g - w) <= atol + rtol * fabs(w);
        if (!ok) {
            if (first < 0) first = i;
            bad++;
            double e = fabs(g - w) / (atol + rtol * fabs(w));
            if (e > worst) worst = e;
        }
    }
    if (bad) {
        double g = got_f32 ? got_f32[first] : value_at(got, first);
        ck_abort_msg("case %s: %s: %lld of %lld values differ (first at %lld: got %.9g, want %.9g; worst %.3gx "
                     "tolerance; rtol %g atol %g)",
                     c->name, what, (long long)bad, (long long)want->numel, (long long)first, g,
                     value_at(want, first), worst, rtol, atol);
    }
}

static void run_case(json_t *jc, const fx_op *ops, int n_ops, bool *used)
{
    fx_case c = {.json = jc, .name = json_string_value(json_object_get(jc, "name"))};
    const char *op = json_string_value(json_object_get(jc, "op"));
    ck_assert_msg(c.name && op, "fixture case without name/op");
    int k = 0;
    while (k < n_ops && strcmp(ops[k].op, op)) k++;
    ck_assert_msg(k < n_ops, "case %s: no runner for op '%s'", c.name, op);
    used[k] = true;

    lt_clear_error();
    bool grad_was = lt_set_grad_enabled(true);
    lt_set_training(!json_is_false(json_object_get(json_object_get(jc, "params"), "training")));
    lt_tensor *out = ops[k].run(&c);
    json_t *expect_error = json_object_get(jc, "expect_error");
    if (expect_error) {
        const char *want = json_string_value(expect_error);
        ck_assert_msg(out == NULL, "case %s: expected an error containing \"%s\", got a result", c.name, want);
        ck_assert_msg(strstr(lt_last_error(), want) != NULL, "case %s: error \"%s\" does not contain \"%s\"",
                      c.name, lt_last_error(), want);
        lt_set_grad_enabled(grad_was);
        return;
    }
    ck_assert_msg(out != NULL, "case %s: op failed: %s", c.name, lt_last_error());
    if (!find_out(&c, "out")) fx_out(&c, "out", out);

    json_t *rt = json_object_get(jc, "rtol"), *at = json_object_get(jc, "atol");
    double rtol = rt ? json_number_value(rt) : 1e-5, atol = at ? json_number_value(at) : 1e-6;
    json_t *grtol = json_object_get(jc, "grad_rtol"), *gatol = json_object_get(jc, "grad_atol");
    double grad_rtol = grtol ? json_number_value(grtol) : rtol, grad_atol = gatol ? json_number_value(gatol) : atol;

    const char *key;
    json_t *val;
    json_object_foreach(json_object_get(jc, "outputs"), key, val)
    {
        lt_tensor *got = find_out(&c, key);
        ck_assert_msg(got != NULL, "case %s: runner produced no output '%s'", c.name, key);
        lt_tensor *want = tensor_from_json(c.name, key, val);
        ck_assert_msg(got->dtype == want->dtype, "case %s: output %s is %s, expected %s", c.name, key,
                      lt_dtype_name(got->dtype), lt_dtype_name(want->dtype));
        char what[96];
        snprintf(what, sizeof what, "output %s", key);
        compare(&c, what, got, NULL, got, want, rtol, atol);
    }

    json_t *grads = json_object_get(jc, "grads");
    if (grads && json_object_size(grads)) {
        json_object_foreach(json_object_get(jc, "grad_outputs"), key, val)
        {
            lt_tensor *t = find_out(&c, key);
            ck_assert_msg(t != NULL, "case %s: grad_output for unknown output '%s'", c.name, key);
            lt_tensor *g = tensor_from_json(c.name, key, val);
            ck_assert_msg(lt_backward_with_grad(t, g) == 0, "case %s: backward: %s", c.name, lt_last_error());
        }
        json_object_foreach(grads, key, val)
        {
            lt_tensor *in = fx_in(&c, key);
            lt_tensor *want = tensor_from_json(c.name, key, val);
            char what[96];
            snprintf(what, sizeof what, "gradient of %s", key);
            if (in->grad)
                compare(&c, what, in, in->grad, in, want, grad_rtol, grad_atol);
            else /* never reached by backward: must be all zero */
                for (int64_t i = 0; i < want->numel; i++)
                    ck_assert_msg(value_at(want, i) == 0.0, "case %s: no gradient for %s, expected nonzero",
                                  c.name, key);
        }
    }
    lt_set_grad_enabled(grad_was);
}

int fx_run_group(const char *group, const fx_op *ops, int n_ops)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s.json", LT_FIXTURES_DIR, group);
    json_error_t err;
    json_t *root = json_load_file(path, 0, &err);
    ck_assert_msg(root != NULL, "cannot read fixture %s: %s (line %d)", path, err.text, err.line);
    json_t *cases = json_object_get(root, "cases");
    ck_assert_msg(json_is_array(cases) && json_array_size(cases) > 0, "fixture %s has no cases", path);

    lt_ctx *ctx = lt_ctx_new();
    lt_ctx_use(ctx);
    bool *used = calloc((size_t)n_ops, sizeof *used);
    size_t i;
    json_t *jc;
    json_array_foreach(cases, i, jc)
    {
        run_case(jc, ops, n_ops, used);
        lt_ctx_reset(ctx);
    }
    for (int k = 0; k < n_ops; k++) ck_assert_msg(used[k], "%s: op '%s' has no fixture case", group, ops[k].op);
    free(used);
    lt_ctx_use(NULL);
    lt_ctx_free(ctx);
    int n = (int)json_array_size(cases);
    json_decref(root);
    return n;
}

/* ---------------- finite differences ---------------- */

void fx_fill_uniform(lt_tensor *t, uint64_t seed, float lo, float hi)
{
    lt_rng rng;
    lt_rng_seed(&rng, seed);
    for (int64_t i = 0; i < t->numel; i++) lt_f32(t)[i] = lo + (hi - lo) * lt_rng_uniform(&rng);
}

static double project(const lt_tensor *out, const float *r)
{
    double s = 0;
    for (int64_t i = 0; i < out->numel; i++) s += (double)lt_f32(out)[i] * r[i];
    return s;
}

void fx_gradcheck(const char *what, fx_fn fn, void *user, lt_tensor **inputs, int n, float eps, float tol,
                  int samples)
{
    lt_ctx *ctx = lt_ctx_new();
    lt_ctx *prev = lt_ctx_use(ctx);
    for (int i = 0; i < n; i++)
        if (inputs[i]->dtype == LT_F32) {
            lt_tensor_set_requires_grad(inputs[i], true);
            lt_tensor_zero_grad(inputs[i]);
        }
    lt_tensor *out = fn(inputs, user);
    ck_assert_msg(out != NULL, "%s: forward failed: %s", what, lt_last_error());
    int64_t n_out = out->numel;
    float *r = malloc(sizeof(float) * (size_t)n_out);
    lt_rng rng;
    lt_rng_seed(&rng, 1234);
    for (int64_t i = 0; i < n_out; i++) r[i] = lt_rng_uniform(&rng) * 2.0f - 1.0f;
    lt_tensor *g = lt_from_data(LT_F32, out->ndim, out->shape, r);
    ck_assert_msg(lt_backward_with_grad(out, g) == 0, "%s: backward failed: %s", what, lt_last_error());
    lt_ctx_reset(ctx);

    bool grad_was = lt_set_grad_enabled(false);
    for (int i = 0; i < n; i++) {
        lt_tensor *x = inputs[i];
        if (x->dtype != LT_F32) continue;
        int64_t step = x->numel / samples + 1;
        for (int64_t j = (int64_t)lt_rng_below(&rng, (uint64_t)step); j < x->numel; j += step) {
            float orig = lt_f32(x)[j];
            lt_f32(x)[j] = orig + eps;
            double fp = project(fn(inputs, user), r);
            lt_ctx_reset(ctx);
            lt_f32(x)[j] = orig - eps;
            double fm = project(fn(inputs, user), r);
            lt_ctx_reset(ctx);
            lt_f32(x)[j] = orig;
            double num = (fp - fm) / (2.0 * eps), ana = x->grad[j];
            ck_assert_msg(fabs(num - ana) <= tol * (1.0 + fabs(num)),
                          "%s: input %d element %lld: backward %.7g vs finite difference %.7g", what, i,
                          (long long)j, ana, num);
        }
    }
    lt_set_grad_enabled(grad_was);
    free(r);
    lt_ctx_use(prev);
    lt_ctx_free(ctx);
}

/* ---- formula weights ---- */

static double wave(int p, int64_t j) { return sin(1.0 + 0.618 * (double)j + 1.3 * p); }

static float formula_value(const lt_tensor *t, int p, int64_t j)
{
    const double w = wave(p, j);
    const char *name = t->name;
    const size_t len = strlen(name);
#define ENDS_WITH(S) (len >= strlen(S) && !strcmp(name + len - strlen(S), S))
    if (ENDS_WITH("running_var")) return (float)(1.0 + 0.25 * (w + 1.0));
    if (ENDS_WITH("running_mean") || ENDS_WITH("bias")) return (float)(0.1 * w);
#undef ENDS_WITH
    if (t->ndim == 1) return (float)(1.0 + 0.1 * w);
    const int64_t fan_in = t->numel / t->shape[0];
    return (float)(w * 2.0 / sqrt((double)fan_in));
}

void fx_formula_weights(lt_params *params)
{
    int p = 0;
    for (size_t i = 0; i < lt_params_count(params); i++) {
        lt_tensor *t = lt_params_at(params, i);
        if (t->dtype != LT_F32) continue; /* num_batches_tracked */
        for (int64_t j = 0; j < t->numel; j++) lt_f32(t)[j] = formula_value(t, p, j);
        p++;
    }
}

void fx_formula_input(lt_tensor *x)
{
    for (int64_t i = 0; i < x->numel; i++) lt_f32(x)[i] = (float)(sin(0.37 * (double)i) + 0.5 * cos(0.11 * (double)i));
}

int fx_run_suite(Suite *s)
{
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}

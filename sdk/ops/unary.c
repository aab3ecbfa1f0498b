/* Elementwise unary ops: activations, unary math and tensor-scalar arithmetic.
 * Each op is one case of a forward switch and one of a backward switch; the
 * formulas (including behaviour at kinks) follow PyTorch 1.13's kernels. */
#include "../internal.h"

#include <math.h>

typedef struct unary_saved {
    float a, b; /* op parameters: slope, beta/threshold, min/max, scalar */
} unary_saved;

/* Runs `expr` (using x = in[i]) into out[i] over n elements, threaded when large. */
#define UNARY_LOOP(out, in, n, expr)                                                                       \
    do {                                                                                                   \
        _Pragma("omp parallel for schedule(static) if((n) > LT_PAR_MIN)") for (int64_t i = 0; i < (n); i++) \
        {                                                                                                  \
            const float x = (in)[i];                                                                       \
            (void)x;                                                                                       \
            (out)[i] = (expr);                                                                             \
        }                                                                                                  \
    } while (0)

/* gi[i] ASSIGN g[i] * (dexpr) (ASSIGN is = or +=), with x = input, y = output available. */
#define GRAD_LOOP_OP(gi, g, xin, yout, n, dexpr, ASSIGN)                                                   \
    do {                                                                                                   \
        _Pragma("omp parallel for schedule(static) if((n) > LT_PAR_MIN)") for (int64_t i = 0; i < (n); i++) \
        {                                                                                                  \
            const float x = (xin)[i], y = (yout)[i];                                                       \
            (void)x;                                                                                       \
            (void)y;                                                                                       \
            (gi)[i] ASSIGN(g)[i] * (dexpr);                                                                \
        }                                                                                                  \
    } while (0)

/* A fresh gradient buffer is stored into, an existing one accumulated into
 * (`fresh` is in scope in unary_backward). */
#define GRAD_LOOP(gi, g, xin, yout, n, dexpr)                                                              \
    do {                                                                                                   \
        if (fresh)                                                                                         \
            GRAD_LOOP_OP(gi, g, xin, yout, n, dexpr, =);                                                   \
        else                                                                                               \
            GRAD_LOOP_OP(gi, g, xin, yout, n, dexpr, +=);                                                  \
    } while (0)

static const float GELU_KAPPA = 0.7978845608028654f; /* sqrt(2/pi) */

static inline float gelu_tanh(float x)
{
    float inner = GELU_KAPPA * (x + 0.044715f * x * x * x);
    return 0.5f * x * (1.0f + tanhf(inner));
}

static inline float gelu_tanh_grad(float x)
{
    float x2 = x * x;
    float inner = GELU_KAPPA * (x + 0.044715f * x2 * x);
    float t = tanhf(inner);
    float left = 0.5f * x, right = 1.0f + t;
    float left_d = 0.5f * right;
    float tanh_d = 1.0f - t * t;
    float inner_d = GELU_KAPPA * (1.0f + 3.0f * 0.044715f * x2);
    return left_d + left * tanh_d * inner_d;
}

static inline float gelu_erf_grad(float x)
{
    float cdf = 0.5f * (1.0f + erff(x * (float)M_SQRT1_2));
    float pdf = expf(-0.5f * x * x) * 0.3989422804014327f; /* 1/sqrt(2 pi) */
    return cdf + x * pdf;
}

static inline float sigmoidf(float x) { return 1.0f / (1.0f + expf(-x)); }

static inline float pow_scalar_grad(float x, float e)
{
    if (e == 0.0f) return 0.0f;
    return e * powf(x, e - 1.0f);
}

static void unary_backward(lt_node *node)
{
    lt_tensor *in = node->inputs[0], *out = node->out;
    bool fresh;
    float *gi = lt__grad_begin(in, &fresh);
    if (!gi) return;
    const float *g = out->grad, *xs = lt_f32(in), *ys = lt_f32(out);
    const unary_saved *s = node->saved;
    const float a = s->a, b = s->b;
    const int64_t n = out->numel;
    switch (node->op) {
    case LT_OP_RELU: GRAD_LOOP(gi, g, xs, ys, n, y > 0.0f ? 1.0f : 0.0f); break;
    case LT_OP_RELU6: GRAD_LOOP(gi, g, xs, ys, n, (x > 0.0f && x < 6.0f) ? 1.0f : 0.0f); break;
    case LT_OP_LEAKY_RELU: GRAD_LOOP(gi, g, xs, ys, n, x > 0.0f ? 1.0f : a); break;
    case LT_OP_SIGMOID: GRAD_LOOP(gi, g, xs, ys, n, (1.0f - y) * y); break;
    case LT_OP_TANH: GRAD_LOOP(gi, g, xs, ys, n, 1.0f - y * y); break;
    case LT_OP_SILU: {
        GRAD_LOOP(gi, g, xs, ys, n, sigmoidf(x) * (1.0f + x * (1.0f - sigmoidf(x))));
        break;
    }
    case LT_OP_HARDSWISH:
        GRAD_LOOP(gi, g, xs, ys, n, x < -3.0f ? 0.0f : (x <= 3.0f ? x / 3.0f + 0.5f : 1.0f));
        break;
    case LT_OP_HARDSIGMOID: GRAD_LOOP(gi, g, xs, ys, n, (x > -3.0f && x < 3.0f) ? 1.0f / 6.0f : 0.0f); break;
    case LT_OP_GELU:
        if (a != 0.0f)
            GRAD_LOOP(gi, g, xs, ys, n, gelu_tanh_grad(x));
        else
            GRAD_LOOP(gi, g, xs, ys, n, gelu_erf_grad(x));
        break;
    case LT_OP_SOFTPLUS: {
        /* PyTorch: z = exp(x*beta); grad * (x*beta > threshold ? 1 : z/(z+1)) */
        GRAD_LOOP(gi, g, xs, ys, n, x * a > b ? 1.0f : expf(x * a) / (expf(x * a) + 1.0f));
        break;
    }
    case LT_OP_EXP: GRAD_LOOP(gi, g, xs, ys, n, y); break;
    case LT_OP_LOG: GRAD_LOOP(gi, g, xs, ys, n, 1.0f / x); break;
    case LT_OP_SQRT: GRAD_LOOP(gi, g, xs, ys, n, 0.5f / y); break;
    case LT_OP_ABS: GRAD_LOOP(gi, g, xs, ys, n, x > 0.0f ? 1.0f : (x < 0.0f ? -1.0f : 0.0f)); break;
    case LT_OP_CLAMP: GRAD_LOOP(gi, g, xs, ys, n, (x >= a && x <= b) ? 1.0f : 0.0f); break;
    case LT_OP_ADD_SCALAR: GRAD_LOOP(gi, g, xs, ys, n, 1.0f); break;
    case LT_OP_MUL_SCALAR: GRAD_LOOP(gi, g, xs, ys, n, a); break;
    case LT_OP_RSUB_SCALAR: GRAD_LOOP(gi, g, xs, ys, n, -1.0f); break;
    case LT_OP_NEG: GRAD_LOOP(gi, g, xs, ys, n, -1.0f); break;
    case LT_OP_DIV_SCALAR: GRAD_LOOP(gi, g, xs, ys, n, 1.0f / a); break;
    case LT_OP_POW_SCALAR: GRAD_LOOP(gi, g, xs, ys, n, pow_scalar_grad(x, a)); break;
    default: assert(!"unary_backward: op without a gradient formula");
    }
}

static lt_tensor *unary(lt_op op, lt_tensor *in, float a, float b)
{
    LT__PROFILE_OP(op);
    const char *name = lt_op_name(op);
    if (!in) return NULL;
    if (!lt__check_dtype(name, "input", in, LT_F32)) return NULL;
    lt_tensor *out = lt__result(name, LT_F32, in->ndim, in->shape);
    if (!out) return NULL;
    const float *xs = lt_f32(in);
    float *ys = lt_f32(out);
    const int64_t n = in->numel;
    switch (op) {
    case LT_OP_RELU: UNARY_LOOP(ys, xs, n, x > 0.0f ? x : (isnan(x) ? x : 0.0f)); break;
    case LT_OP_RELU6: UNARY_LOOP(ys, xs, n, isnan(x) ? x : fminf(fmaxf(x, 0.0f), 6.0f)); break;
    case LT_OP_LEAKY_RELU: UNARY_LOOP(ys, xs, n, x > 0.0f ? x : x * a); break;
    case LT_OP_SIGMOID: UNARY_LOOP(ys, xs, n, sigmoidf(x)); break;
    case LT_OP_TANH: UNARY_LOOP(ys, xs, n, tanhf(x)); break;
    case LT_OP_SILU: UNARY_LOOP(ys, xs, n, x / (1.0f + expf(-x))); break;
    case LT_OP_HARDSWISH: UNARY_LOOP(ys, xs, n, x * fminf(fmaxf(x + 3.0f, 0.0f), 6.0f) / 6.0f); break;
    case LT_OP_HARDSIGMOID: UNARY_LOOP(ys, xs, n, fminf(fmaxf(x + 3.0f, 0.0f), 6.0f) / 6.0f); break;
    case LT_OP_GELU:
        if (a != 0.0f)
            UNARY_LOOP(ys, xs, n, gelu_tanh(x));
        else
            UNARY_LOOP(ys, xs, n, 0.5f * x * (1.0f + erff(x * (float)M_SQRT1_2)));
        break;
    case LT_OP_SOFTPLUS: UNARY_LOOP(ys, xs, n, x * a > b ? x : log1pf(expf(x * a)) / a); break;
    case LT_OP_EXP: UNARY_LOOP(ys, xs, n, expf(x)); break;
    case LT_OP_LOG: UNARY_LOOP(ys, xs, n, logf(x)); break;
    case LT_OP_SQRT: UNARY_LOOP(ys, xs, n, sqrtf(x)); break;
    case LT_OP_ABS: UNARY_LOOP(ys, xs, n, fabsf(x)); break;
    case LT_OP_CLAMP: UNARY_LOOP(ys, xs, n, isnan(x) ? x : fminf(fmaxf(x, a), b)); break;
    case LT_OP_ADD_SCALAR: UNARY_LOOP(ys, xs, n, x + a); break;
    case LT_OP_MUL_SCALAR: UNARY_LOOP(ys, xs, n, x * a); break;
    case LT_OP_RSUB_SCALAR: UNARY_LOOP(ys, xs, n, a - x); break;
    case LT_OP_NEG: UNARY_LOOP(ys, xs, n, -x); break;
    case LT_OP_DIV_SCALAR: UNARY_LOOP(ys, xs, n, x / a); break;
    case LT_OP_POW_SCALAR: UNARY_LOOP(ys, xs, n, powf(x, a)); break;
    default: lt__fail(name, "not a unary op"); return NULL;
    }
    if (lt__wants_grad(1, &in)) {
        lt_node *node = lt__record(out, op, unary_backward, 1, &in, sizeof(unary_saved));
        if (!node) return NULL;
        unary_saved *s = node->saved;
        s->a = a;
        s->b = b;
    }
    return out;
}

lt_tensor *lt_relu(lt_tensor *x) { return unary(LT_OP_RELU, x, 0, 0); }
lt_tensor *lt_relu6(lt_tensor *x) { return unary(LT_OP_RELU6, x, 0, 0); }
lt_tensor *lt_leaky_relu(lt_tensor *x, float negative_slope) { return unary(LT_OP_LEAKY_RELU, x, negative_slope, 0); }
lt_tensor *lt_sigmoid(lt_tensor *x) { return unary(LT_OP_SIGMOID, x, 0, 0); }
lt_tensor *lt_tanh(lt_tensor *x) { return unary(LT_OP_TANH, x, 0, 0); }
lt_tensor *lt_silu(lt_tensor *x) { return unary(LT_OP_SILU, x, 0, 0); }
lt_tensor *lt_hardswish(lt_tensor *x) { return unary(LT_OP_HARDSWISH, x, 0, 0); }
lt_tensor *lt_hardsigmoid(lt_tensor *x) { return unary(LT_OP_HARDSIGMOID, x, 0, 0); }
lt_tensor *lt_gelu(lt_tensor *x, bool approximate_tanh) { return unary(LT_OP_GELU, x, approximate_tanh ? 1.0f : 0.0f, 0); }
lt_tensor *lt_softplus(lt_tensor *x, float beta, float threshold) { return unary(LT_OP_SOFTPLUS, x, beta, threshold); }
lt_tensor *lt_exp(lt_tensor *x) { return unary(LT_OP_EXP, x, 0, 0); }
lt_tensor *lt_log(lt_tensor *x) { return unary(LT_OP_LOG, x, 0, 0); }
lt_tensor *lt_sqrt(lt_tensor *x) { return unary(LT_OP_SQRT, x, 0, 0); }
lt_tensor *lt_abs(lt_tensor *x) { return unary(LT_OP_ABS, x, 0, 0); }
lt_tensor *lt_add_scalar(lt_tensor *x, float s) { return unary(LT_OP_ADD_SCALAR, x, s, 0); }
lt_tensor *lt_mul_scalar(lt_tensor *x, float s) { return unary(LT_OP_MUL_SCALAR, x, s, 0); }
lt_tensor *lt_rsub_scalar(lt_tensor *x, float s) { return unary(LT_OP_RSUB_SCALAR, x, s, 0); }
lt_tensor *lt_div_scalar(lt_tensor *x, float s) { return unary(LT_OP_DIV_SCALAR, x, s, 0); }
lt_tensor *lt_pow_scalar(lt_tensor *x, float e) { return unary(LT_OP_POW_SCALAR, x, e, 0); }
lt_tensor *lt_neg(lt_tensor *x) { return unary(LT_OP_NEG, x, 0, 0); }

/* As in PyTorch, min > max is allowed and yields max everywhere. */
lt_tensor *lt_clamp(lt_tensor *x, float min, float max) { return unary(LT_OP_CLAMP, x, min, max); }

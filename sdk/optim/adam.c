/* torch.optim.Adam and AdamW (PyTorch 1.13, single-tensor path), per element
 * of a float32 parameter, every operation rounded to float as torch's
 * tensor ops round it (scalars are Python floats cast to float; torch's
 * AVX2 kernels fuse add(alpha) and addcmul's final add into an FMA, see
 * LT__MADD):
 *     g = maximize ? -grad : grad
 *     Adam:  g = g + weight_decay * param           (L2, fused add)
 *     AdamW: param = param * (1 - lr * weight_decay) (decoupled)
 *     m = m * beta1 + (1 - beta1) * g               (mul_, fused add_)
 *     v = fma((1 - beta2) * g, g, v * beta2)        (mul_, addcmul_)
 *     vmax = max(vmax, v)                           (amsgrad)
 *     denom = sqrt(amsgrad ? vmax : v) / sqrt(1 - beta2^t) + eps
 *     param = param + (-lr / (1 - beta1^t) * m) / denom   (addcdiv_)
 * with t the parameter's step count after the increment; the bias
 * corrections are computed in double like Python's `beta ** step`. */
#include "optim_private.h"

void lt__adam_scalars_of(const lt_optimizer *o, double lr, int64_t step, lt__adam_scalars *s)
{
    const double beta1 = o->momentum, beta2 = o->beta2;
    const double bias_correction1 = 1.0 - pow(beta1, (double)step);
    const double bias_correction2 = 1.0 - pow(beta2, (double)step);
    *s = (lt__adam_scalars){
        .beta1 = (float)beta1,
        .one_minus_beta1 = (float)(1.0 - beta1),
        .beta2 = (float)beta2,
        .one_minus_beta2 = (float)(1.0 - beta2),
        .weight_decay = (float)o->weight_decay,
        .decay = o->kind == LT__ADAMW ? (float)(1.0 - lr * o->weight_decay) : 1.0f,
        .bias_correction2_sqrt = (float)sqrt(bias_correction2),
        .eps = (float)o->eps,
        .neg_step_size = (float)-(lr / bias_correction1),
        .decoupled = o->kind == LT__ADAMW,
        .amsgrad = o->amsgrad,
        .maximize = o->maximize,
    };
}

/* One element; returns the new parameter. `l2` and `amsgrad` are literal
 * constants at every call, so each loop below is compiled without them;
 * maximize is a sign (exact), AdamW's decay is 1 for Adam (exact). */
static inline float adam_element(const lt__adam_scalars *s, float sign, float p, float g, float *m, float *v, float *vmax,
                                 const bool l2, const bool amsgrad)
{
    g = g * sign;
    p = p * s->decay;
    if (l2) g = LT__MADD(p, s->weight_decay, g);
    const float mi = LT__MADD(g, s->one_minus_beta1, *m * s->beta1);
    const float vi = LT__MADD(s->one_minus_beta2 * g, g, *v * s->beta2);
    *m = mi;
    *v = vi;
    float second = vi;
    if (amsgrad) {
        second = *vmax > vi || isnan(*vmax) ? *vmax : vi; /* torch.maximum propagates NaN */
        *vmax = second;
    }
    const float denom = sqrtf(second) / s->bias_correction2_sqrt + s->eps;
    return p + s->neg_step_size * mi / denom;
}

#define ADAM_LOOP(l2, amsgrad)                                                                                     \
    _Pragma("omp parallel for schedule(static) if (n > LT_PAR_MIN)")                                             \
    for (int64_t i = 0; i < n; i++)                                                                                \
        param[i] = adam_element(s, sign, param[i], grad[i], &exp_avg[i], &exp_avg_sq[i],                          \
                                amsgrad ? &max_exp_avg_sq[i] : NULL, l2, amsgrad)

void lt__adam_update(const lt__adam_scalars *s, float *param, const float *grad, float *exp_avg, float *exp_avg_sq,
                     float *max_exp_avg_sq, int64_t n)
{
    const float sign = s->maximize ? -1.0f : 1.0f;
    const bool l2 = !s->decoupled && s->weight_decay != 0.0f;
    if (l2 && s->amsgrad) ADAM_LOOP(true, true);
    else if (l2) ADAM_LOOP(true, false);
    else if (s->amsgrad) ADAM_LOOP(false, true);
    else ADAM_LOOP(false, false);
}

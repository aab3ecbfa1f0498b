/* torch.optim.RMSprop (PyTorch 1.13, single-tensor path), per element of a
 * float32 parameter, each operation rounded to float as torch rounds it
 * (add with alpha and addcmul fused into an FMA as in torch's AVX2 kernels):
 *     g = maximize ? -grad : grad
 *     g = g + weight_decay * param                   (fused add)
 *     sq = fma((1 - alpha) * g, g, sq * alpha)       (mul_, addcmul_)
 *     centered: ga = ga * alpha + (1 - alpha) * g    (mul_, fused add_)
 *               avg = sqrt(fma(-ga, ga, sq))        (addcmul, value -1)
 *     else      avg = sqrt(sq)
 *     avg = avg + eps
 *     momentum > 0: buf = buf * momentum + g / avg   (mul_, addcdiv_)
 *                   param = param - lr * buf         (fused add_)
 *     else          param = param + (-lr * g) / avg  (addcdiv_) */
#include "optim_private.h"

typedef struct rms_scalars {
    float alpha, one_minus_alpha, weight_decay, eps, momentum, neg_lr, sign;
} rms_scalars;

/* One element; l2, centered and with_momentum are literal constants at
 * every call, so each loop is compiled without them; maximize is a sign
 * (exact). */
static inline float rms_element(const rms_scalars *s, float p, float g, float *sq, float *buf, float *ga, const bool l2,
                                const bool centered, const bool with_momentum)
{
    g = g * s->sign;
    if (l2) g = LT__MADD(p, s->weight_decay, g);
    const float sqi = LT__MADD(s->one_minus_alpha * g, g, *sq * s->alpha);
    *sq = sqi;
    float avg;
    if (centered) {
        const float gai = LT__MADD(g, s->one_minus_alpha, *ga * s->alpha);
        *ga = gai;
        avg = sqrtf(LT__MADD(-1.0f * gai, gai, sqi));
    } else {
        avg = sqrtf(sqi);
    }
    avg = avg + s->eps;
    if (with_momentum) {
        const float b = *buf * s->momentum + 1.0f * g / avg;
        *buf = b;
        return LT__MADD(b, s->neg_lr, p);
    }
    return p + s->neg_lr * g / avg;
}

#define RMS_LOOP(l2, centered, with_momentum)                                                                      \
    _Pragma("omp parallel for schedule(static) if (n > LT_PAR_MIN)")                                             \
    for (int64_t i = 0; i < n; i++)                                                                                \
        param[i] = rms_element(&s, param[i], grad[i], &square_avg[i], with_momentum ? &buf[i] : NULL,             \
                               centered ? &grad_avg[i] : NULL, l2, centered, with_momentum)

#define RMS_LOOPS(l2)                                                                                              \
    do {                                                                                                           \
        if (centered && with_momentum) RMS_LOOP(l2, true, true);                                                   \
        else if (centered) RMS_LOOP(l2, true, false);                                                              \
        else if (with_momentum) RMS_LOOP(l2, false, true);                                                         \
        else RMS_LOOP(l2, false, false);                                                                           \
    } while (0)

void lt__rmsprop_update(const lt_optimizer *o, double lr, float *param, const float *grad, float *square_avg, float *buf,
                        float *grad_avg, int64_t n)
{
    const rms_scalars s = {
        .alpha = (float)o->alpha,
        .one_minus_alpha = (float)(1.0 - o->alpha),
        .weight_decay = (float)o->weight_decay,
        .eps = (float)o->eps,
        .momentum = (float)o->momentum,
        .neg_lr = (float)-lr,
        .sign = o->maximize ? -1.0f : 1.0f,
    };
    const bool centered = o->centered, with_momentum = o->momentum > 0.0;
    assert((!centered || grad_avg) && (!with_momentum || buf));
    if (o->weight_decay != 0.0) RMS_LOOPS(true);
    else RMS_LOOPS(false);
}

/* torch.optim.SGD (PyTorch 1.13, single-tensor path), per element:
 *     d = grad + weight_decay * param
 *     buf = d                                    (first step)
 *     buf = momentum * buf + (1 - dampening) * d (later steps)
 *     d = nesterov ? d + momentum * buf : buf    (when momentum != 0)
 *     param -= lr * d
 * The momentum buffer uses the store's flat parameter layout, allocated
 * once. When the store is packed and nothing is frozen, a step is one
 * threaded loop over the flat blocks; otherwise it walks the parameters
 * that require grad (frozen ones are skipped, as PyTorch skips parameters
 * without a gradient). */
#include "../internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* a * b + c. PyTorch's vectorised CPU kernels compute add(x, y, alpha) as one
 * fused multiply-add; doing the same keeps trajectories bit-close to it. */
#if defined(__FMA__)
#define MADD(a, b, c) fmaf((a), (b), (c))
#else
#define MADD(a, b, c) ((a) * (b) + (c))
#endif


struct lt_sgd {
    lt_params *params;
    lt_sgd_options o;
    size_t n_tensors;  /* store size at creation: the set of parameters */
    int64_t flat_size;
    float *buf;        /* momentum buffers in the flat layout, or NULL */
    bool *started;     /* per tensor: buffer initialised (PyTorch's "buf is not None") */
};

static const char *const SGD = "sgd";

lt_sgd *lt_sgd_new(lt_params *p, const lt_sgd_options *o)
{
    if (!p || !o) {
        lt__fail(SGD, "parameter store and options are required");
        return NULL;
    }
    if (!(o->lr >= 0.0f)) return lt__fail(SGD, "invalid learning rate: %g", (double)o->lr), NULL;
    if (!(o->momentum >= 0.0f)) return lt__fail(SGD, "invalid momentum value: %g", (double)o->momentum), NULL;
    if (!(o->weight_decay >= 0.0f))
        return lt__fail(SGD, "invalid weight_decay value: %g", (double)o->weight_decay), NULL;
    if (o->nesterov && (o->momentum <= 0.0f || o->dampening != 0.0f))
        return lt__fail(SGD, "nesterov momentum requires a momentum and zero dampening (momentum %g, dampening %g)",
                        (double)o->momentum, (double)o->dampening),
               NULL;
    lt_sgd *s = calloc(1, sizeof *s);
    if (!s) return lt__fail(SGD, "out of memory"), NULL;
    s->params = p;
    s->o = *o;
    s->n_tensors = lt_params_count(p);
    s->flat_size = lt__params_flat_size(p);
    s->started = calloc(s->n_tensors + 1, sizeof *s->started);
    if (o->momentum != 0.0f) {
        size_t bytes = ((size_t)s->flat_size * sizeof(float) + 63) / 64 * 64;
        s->buf = aligned_alloc(64, bytes ? bytes : 64);
        if (s->buf) memset(s->buf, 0, bytes);
    }
    if (!s->started || (o->momentum != 0.0f && !s->buf)) {
        lt_sgd_free(s);
        return lt__fail(SGD, "out of memory for the state of %lld parameter floats", (long long)s->flat_size), NULL;
    }
    return s;
}

void lt_sgd_free(lt_sgd *opt)
{
    if (!opt) return;
    free(opt->buf);
    free(opt->started);
    free(opt);
}

void lt_sgd_set_lr(lt_sgd *opt, float lr)
{
    if (opt) opt->o.lr = lr;
}

/* The update of n elements; buf is NULL without momentum. `first`: the
 * buffer is created from this step's d. */
static void sgd_update(const lt_sgd_options *o, bool first, float *param, const float *grad, float *buf, int64_t n)
{
    const float neg_lr = -o->lr, wd = o->weight_decay, mom = o->momentum, damp = (float)(1.0 - (double)o->dampening);
    const bool nesterov = o->nesterov;
    if (!buf) {
#pragma omp parallel for schedule(static) if (n > LT_PAR_MIN)
        for (int64_t i = 0; i < n; i++) {
            const float d = wd != 0.0f ? MADD(param[i], wd, grad[i]) : grad[i];
            param[i] = MADD(d, neg_lr, param[i]);
        }
        return;
    }
#pragma omp parallel for schedule(static) if (n > LT_PAR_MIN)
    for (int64_t i = 0; i < n; i++) {
        const float d = wd != 0.0f ? MADD(param[i], wd, grad[i]) : grad[i];
        const float b = first ? d : MADD(d, damp, buf[i] * mom);
        buf[i] = b;
        param[i] = MADD(nesterov ? MADD(b, mom, d) : b, neg_lr, param[i]);
    }
}

/* One flat update over the packed block is exact when every parameter
 * takes part (none frozen) and all momentum buffers are in the same state
 * (all new or all started). *first receives that state. */
static bool flat_update_ok(const lt_sgd *opt, bool *first)
{
    int state = -1;
    for (size_t i = 0; i < opt->n_tensors; i++) {
        const lt_tensor *t = lt_params_at(opt->params, i);
        if (!(t->flags & LT_PARAMETER)) continue;
        if (!lt_requires_grad(t) || (state >= 0 && state != (int)opt->started[i])) return false;
        state = opt->started[i];
    }
    *first = state != 1;
    return true;
}

int lt_sgd_step(lt_sgd *opt)
{
    if (!opt) return lt__fail(SGD, "optimizer is NULL");
    lt_params *p = opt->params;
    if (lt_params_count(p) != opt->n_tensors)
        return lt__fail(SGD, "the parameter store changed after the optimizer was created (%zu tensors then, %zu now)",
                        opt->n_tensors, lt_params_count(p));
    float *data, *grad;
    bool first;
    if (lt__params_blocks(p, &data, &grad) && flat_update_ok(opt, &first)) {
        /* Gaps of the flat layout are zero in data and grad and stay zero. */
        sgd_update(&opt->o, first, data, grad, opt->buf, opt->flat_size);
        for (size_t i = 0; i < opt->n_tensors; i++) {
            lt_tensor *t = lt_params_at(p, i);
            if (!(t->flags & LT_PARAMETER)) continue;
            t->version++;
            opt->started[i] = true;
        }
        return 0;
    }
    for (size_t i = 0; i < opt->n_tensors; i++) {
        lt_tensor *t = lt_params_at(p, i);
        if (!(t->flags & LT_PARAMETER) || !lt_requires_grad(t) || !t->grad) continue;
        float *buf = opt->buf ? opt->buf + lt__params_offset(p, i) : NULL;
        sgd_update(&opt->o, !opt->started[i], lt_f32(t), t->grad, buf, t->numel);
        opt->started[i] = true;
        t->version++;
    }
    return 0;
}

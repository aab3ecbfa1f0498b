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
#include "optim_private.h"

#include <stdlib.h>
#include <string.h>

#define MADD LT__MADD


struct lt_sgd {
    lt_params *params;
    lt_sgd_options o;
    size_t n_tensors;  /* store size at creation: the set of parameters */
    int64_t flat_size;
    float one_minus_dampening; /* torch casts the double 1 - dampening to float */
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
    s->one_minus_dampening = (float)(1.0 - (double)o->dampening);
    s->n_tensors = lt_params_count(p);
    s->flat_size = lt__params_flat_size(p);
    s->started = calloc(s->n_tensors + 1, sizeof *s->started);
    if (o->momentum != 0.0f) s->buf = lt__optim_flat_alloc(s->flat_size);
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

lt_sgd_options *lt__sgd_options(lt_sgd *s) { return &s->o; }
void lt__sgd_set_dampening(lt_sgd *s, double dampening) { s->one_minus_dampening = (float)(1.0 - dampening); }
bool *lt__sgd_started(lt_sgd *s) { return s->started; }

/* A buffer created after steps were taken starts as torch's "buf is None":
 * the next step of every parameter initialises it from d. */
float *lt__sgd_buffer(lt_sgd *s, bool alloc)
{
    if (!s->buf && alloc) {
        s->buf = lt__optim_flat_alloc(s->flat_size);
        if (s->buf) memset(s->started, 0, (s->n_tensors + 1) * sizeof *s->started);
    }
    return s->buf;
}

/* The update of n elements; buf is NULL without momentum. `first`: the
 * buffer is created from this step's d. */
static void sgd_update(const lt_sgd_options *o, float damp, bool first, float *param, const float *grad, float *buf,
                       int64_t n)
{
    const float neg_lr = -o->lr, wd = o->weight_decay, mom = o->momentum;
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

/* A step; tensor_lr (one lr per tensor) or NULL for the options' lr. */
static int sgd_step(lt_sgd *opt, const float *tensor_lr)
{
    if (!opt) return lt__fail(SGD, "optimizer is NULL");
    lt_params *p = opt->params;
    if (lt_params_count(p) != opt->n_tensors)
        return lt__fail(SGD, "the parameter store changed after the optimizer was created (%zu tensors then, %zu now)",
                        opt->n_tensors, lt_params_count(p));
    /* A momentum of 0 leaves the buffer alone, as torch does. */
    const bool with_momentum = opt->o.momentum != 0.0f;
    if (with_momentum && !lt__sgd_buffer(opt, true))
        return lt__fail(SGD, "out of memory for the momentum of %lld parameter floats", (long long)opt->flat_size);
    float *data, *grad;
    bool first;
    if (!tensor_lr && lt__params_blocks(p, &data, &grad) && flat_update_ok(opt, &first)) {
        /* Gaps of the flat layout are zero in data and grad and stay zero. */
        sgd_update(&opt->o, opt->one_minus_dampening, first, data, grad, with_momentum ? opt->buf : NULL, opt->flat_size);
        for (size_t i = 0; i < opt->n_tensors; i++) {
            lt_tensor *t = lt_params_at(p, i);
            if (!(t->flags & LT_PARAMETER)) continue;
            t->version++;
            opt->started[i] |= with_momentum;
        }
        return 0;
    }
    lt_sgd_options o = opt->o;
    for (size_t i = 0; i < opt->n_tensors; i++) {
        lt_tensor *t = lt_params_at(p, i);
        if (!(t->flags & LT_PARAMETER) || !lt_requires_grad(t) || !t->grad) continue;
        float *buf = with_momentum ? opt->buf + lt__params_offset(p, i) : NULL;
        if (tensor_lr) o.lr = tensor_lr[i];
        sgd_update(&o, opt->one_minus_dampening, !opt->started[i], lt_f32(t), t->grad, buf, t->numel);
        opt->started[i] |= with_momentum;
        t->version++;
    }
    return 0;
}

int lt_sgd_step(lt_sgd *opt) { return sgd_step(opt, NULL); }

int lt__sgd_step_lrs(lt_sgd *s, const float *tensor_lr) { return sgd_step(s, tensor_lr); }

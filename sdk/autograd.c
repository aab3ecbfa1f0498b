/* Tape recording and reverse-mode traversal (see autograd.h). */
#include "internal.h"

#include <string.h>

bool lt__wants_grad(int n, lt_tensor *const *inputs)
{
    lt_ctx *ctx = lt_ctx_current();
    if (!ctx || !ctx->grad_enabled) return false;
    for (int i = 0; i < n; i++)
        if (inputs[i] && lt_requires_grad(inputs[i])) return true;
    return false;
}

lt_node *lt__record(lt_tensor *out, lt_op op, lt_backward_fn backward, int n, lt_tensor *const *inputs,
                    size_t saved_size)
{
    const char *name = lt_op_name(op);
    lt_ctx *ctx = lt__ctx(name);
    if (!ctx) return NULL;
    lt_node *node = lt__calloc(name, sizeof *node);
    lt_tensor **ins = lt__alloc(name, sizeof *ins * (size_t)(n > 0 ? n : 1));
    void *saved = saved_size ? lt__calloc(name, saved_size) : NULL;
    if (!node || !ins || (saved_size && !saved)) return NULL;
    memcpy(ins, inputs, sizeof *ins * (size_t)n);
    node->op = op;
    node->out = out;
    node->n_inputs = n;
    node->inputs = ins;
    node->backward = backward;
    node->saved = saved;
    node->prev = ctx->tape;
    ctx->tape = node;
    ctx->tape_len++;
    out->grad_fn = node;
    out->flags |= LT_REQUIRES_GRAD;
    return node;
}

float *lt__grad(lt_tensor *t)
{
    if (!t || !lt_requires_grad(t)) return NULL;
    if (!t->grad) t->grad = lt__calloc("backward", (size_t)t->numel * sizeof(float));
    return t->grad;
}

float *lt__grad_begin(lt_tensor *t, bool *fresh)
{
    *fresh = false;
    if (!t || !lt_requires_grad(t)) return NULL;
    if (!t->grad) {
        t->grad = lt__alloc("backward", (size_t)t->numel * sizeof(float));
        *fresh = t->grad != NULL;
    }
    return t->grad;
}

bool lt__grad_share(lt_tensor *t, float *g)
{
    if (!t || !lt_requires_grad(t) || t->grad || (t->flags & LT_OWNED)) return false;
    t->grad = g;
    return true;
}

static int run_backward(const char *what, lt_tensor *out, const float *seed, float seed_scalar)
{
    lt_ctx *ctx = lt__ctx(what);
    if (!ctx) return -1;
    if (!out) return lt__fail(what, "tensor is NULL (an earlier op failed: see its message)");
    if (!lt_requires_grad(out))
        return lt__fail(what, "tensor %s does not require grad and has no grad_fn", lt__shp(out));
    lt_node *start = out->grad_fn;
    if (start && start->done)
        return lt__fail(what, "trying to backward through the graph a second time (it was released by the "
                              "first backward; build the graph again)");
    if (!out->grad && seed) { /* fresh gradient: copy the seed instead of zeroing then adding */
        out->grad = lt__alloc(what, (size_t)out->numel * sizeof(float));
        if (!out->grad) return -1;
        memcpy(out->grad, seed, (size_t)out->numel * sizeof(float));
    } else {
        float *g = lt__grad(out);
        if (!g) return -1;
        if (seed)
            for (int64_t i = 0; i < out->numel; i++) g[i] += seed[i];
        else
            g[0] += seed_scalar;
    }
    if (!start) return 0; /* a leaf: its gradient is all there is */

    const uint32_t pass = ++ctx->backward_passes;
    start->needed_by = pass;
    for (lt_node *n = start; n; n = n->prev) {
        if (n->needed_by != pass) continue;
        if (n->done)
            return lt__fail(what, "node %s was already used by an earlier backward", lt_op_name(n->op));
        if (n->out->grad) {
            LT__PROFILE_OP(n->op);
            n->backward(n);
        }
        n->done = true;
        for (int i = 0; i < n->n_inputs; i++)
            if (n->inputs[i] && n->inputs[i]->grad_fn) n->inputs[i]->grad_fn->needed_by = pass;
    }
    return 0;
}

int lt_backward(lt_tensor *loss)
{
    if (loss && loss->numel != 1)
        return lt__fail("backward", "needs a single-element tensor, got %s (use lt_backward_with_grad)",
                        lt__shp(loss));
    return run_backward("backward", loss, NULL, 1.0f);
}

int lt_backward_with_grad(lt_tensor *out, const lt_tensor *grad_out)
{
    if (!out || !grad_out) return lt__fail("backward", "tensor or gradient is NULL");
    if (grad_out->dtype != LT_F32 || grad_out->numel != out->numel)
        return lt__fail("backward", "gradient %s (%s) does not match tensor %s", lt__shp(grad_out),
                        lt_dtype_name(grad_out->dtype), lt__shp(out));
    return run_backward("backward", out, lt_f32(grad_out), 0.0f);
}

lt_tensor *lt_detach(lt_tensor *t)
{
    if (!t) return NULL;
    lt_tensor *v = lt__view("detach", t, t->ndim, t->shape);
    return v;
}

size_t lt_tape_size(void)
{
    lt_ctx *ctx = lt_ctx_current();
    return ctx ? ctx->tape_len : 0;
}

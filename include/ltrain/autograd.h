/* ltrain SDK — reverse-mode automatic differentiation.
 *
 * While grad mode is on, every op whose inputs require a gradient records a
 * node on the current context's tape (in creation order, which is a
 * topological order). lt_backward() walks the tape backwards from its tensor
 * and accumulates (+=) gradients into every tensor that requires one:
 * intermediate gradients live in the arena, leaf gradients (parameters,
 * owned tensors) persist and accumulate across steps until zeroed.
 *
 * The graph is released by lt_ctx_reset(); backward may be run once per
 * graph (a second call fails with an error, as in PyTorch without
 * retain_graph).
 */
#ifndef LTRAIN_AUTOGRAD_H
#define LTRAIN_AUTOGRAD_H

#include "context.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Backward from a one-element tensor (gradient 1). 0 on success, -1 if `loss`
 * is NULL, not a single element, does not require grad, or the graph was
 * already used. */
LT_API int lt_backward(lt_tensor *loss);

/* Backward from any tensor with an explicit output gradient of its shape
 * (PyTorch's `out.backward(gradient)`). */
LT_API int lt_backward_with_grad(lt_tensor *out, const lt_tensor *grad_out);

/* A step tensor sharing `t`'s data that requires no gradient and has no
 * history (PyTorch's detach). */
LT_API lt_tensor *lt_detach(lt_tensor *t);

/* Number of nodes recorded on the current context's tape (for tests and
 * `inspect`). */
LT_API size_t lt_tape_size(void);

#ifdef __cplusplus
}
#endif
#endif

/* ltrain SDK — loss functions (PyTorch 1.13's torch.nn.functional losses).
 * Same conventions as ops.h: step tensors out, NULL + message on error,
 * differentiable with respect to the prediction (and float targets). */
#ifndef LTRAIN_LOSS_H
#define LTRAIN_LOSS_H

#include "tensor.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum lt_reduction {
    LT_REDUCTION_MEAN = 0, /* PyTorch's default */
    LT_REDUCTION_SUM,
    LT_REDUCTION_NONE
} lt_reduction;

typedef struct lt_cross_entropy_params {
    lt_tensor *weight;       /* [C] class weights, or NULL */
    int32_t ignore_index;    /* class-index targets equal to it are skipped */
    float label_smoothing;   /* 0..1 */
    lt_reduction reduction;
} lt_cross_entropy_params;

#define LT_CROSS_ENTROPY_DEFAULTS \
    ((lt_cross_entropy_params){.weight = NULL, .ignore_index = -100, .label_smoothing = 0.0f, .reduction = LT_REDUCTION_MEAN})

/* F.cross_entropy. logits [N,C] or [N,C,d1,...] (per pixel for segmentation;
 * unbatched [C] with a 0-d target also works). target: LT_I32 class indices
 * [N] or [N,d1,...], or LT_F32 class probabilities of the logits' shape
 * (these get a gradient too when they require one). p NULL = defaults. With
 * mean reduction and class indices the sum is divided by the summed weights
 * of the non-ignored targets, as in PyTorch (NaN when all are ignored); with
 * probabilities by the number of positions. A class index outside 0..C-1
 * that is not ignore_index is an error naming the value and C. One fused
 * op: log-softmax is never materialised. class weights get no gradient. */
LT_API lt_tensor *lt_cross_entropy(lt_tensor *logits, lt_tensor *target, const lt_cross_entropy_params *p);

/* F.binary_cross_entropy_with_logits. weight (broadcast to x) and pos_weight
 * (broadcast along the last dimension / class dimension as in PyTorch) may be
 * NULL; neither gets a gradient (PyTorch has none). target is LT_F32 of x's
 * shape and gets a gradient when it requires one. */
LT_API lt_tensor *lt_bce_with_logits(lt_tensor *x, lt_tensor *target, lt_tensor *weight,
                                     lt_tensor *pos_weight, lt_reduction reduction);

/* x and target broadcast together (PyTorch warns but allows it); both get
 * gradients when they require them. */
LT_API lt_tensor *lt_mse_loss(lt_tensor *x, lt_tensor *target, lt_reduction reduction);
LT_API lt_tensor *lt_l1_loss(lt_tensor *x, lt_tensor *target, lt_reduction reduction);
/* beta = 1 is PyTorch's default; beta 0 gives L1 values (but, as PyTorch
 * 1.13's backward, gradient -1 where x == target); beta < 0 is an error. */
LT_API lt_tensor *lt_smooth_l1_loss(lt_tensor *x, lt_tensor *target, float beta, lt_reduction reduction);

#ifdef __cplusplus
}
#endif
#endif

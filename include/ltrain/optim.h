/* ltrain SDK — optimizers (torch.optim semantics).
 *
 * An optimizer updates every trainable parameter of an lt_params store from
 * its gradient, in place, with grad mode off. Its state (momentum buffers)
 * is allocated once at creation. The trainer (issue 4) adds Adam, AdamW,
 * RMSprop and the learning-rate schedulers on top of this interface. */
#ifndef LTRAIN_OPTIM_H
#define LTRAIN_OPTIM_H

#include "nn.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct lt_sgd_options {
    float lr;
    float momentum;     /* 0 = plain SGD */
    float dampening;
    float weight_decay;
    bool nesterov;
} lt_sgd_options;

typedef struct lt_sgd lt_sgd;

/* SGD over every trainable parameter of p (p must outlive it). */
LT_API lt_sgd *lt_sgd_new(lt_params *p, const lt_sgd_options *o);
LT_API void lt_sgd_free(lt_sgd *opt);
/* One update, exactly torch.optim.SGD.step(). */
LT_API int lt_sgd_step(lt_sgd *opt);
LT_API void lt_sgd_set_lr(lt_sgd *opt, float lr);

#ifdef __cplusplus
}
#endif
#endif

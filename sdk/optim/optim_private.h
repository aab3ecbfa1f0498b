/* Private to sdk/optim: the optimizer struct shared by optimizer.c, the
 * update kernels (sgd.c, adam.c, rmsprop.c) and scheduler.c, and the typed
 * reader of `params` maps used by optimizers and schedulers. */
#ifndef LTRAIN_SDK_OPTIM_PRIVATE_H
#define LTRAIN_SDK_OPTIM_PRIVATE_H

#include "../internal.h"

#include <math.h>

/* a * b + c. PyTorch's vectorised CPU kernels compute add(x, y, alpha) as one
 * fused multiply-add; doing the same keeps trajectories bit-close to it. */
#if defined(__FMA__)
#define LT__MADD(a, b, c) fmaf((a), (b), (c))
#else
#define LT__MADD(a, b, c) ((a) * (b) + (c))
#endif

typedef enum lt__optim_kind { LT__SGD, LT__ADAM, LT__ADAMW, LT__RMSPROP } lt__optim_kind;

enum { LT__MAX_SLOTS = 3, LT__MAX_GROUPS = 32 };

/* A param group's learning rate (torch's group['lr'], group['initial_lr']);
 * the other hyperparameters are shared by every group. */
typedef struct lt__group {
    double lr;
    bool has_initial_lr; /* set by the first scheduler */
    double initial_lr;
} lt__group;

struct lt_optimizer {
    lt__optim_kind kind;
    const char *name;         /* "SGD", "Adam", "AdamW", "RMSprop" */
    lt_params *params;
    size_t n_tensors;         /* store size at creation */
    int64_t flat_size;
    /* hyperparameters (Python floats: doubles); lr per param group */
    double momentum, dampening, weight_decay, beta2, eps, alpha;
    bool nesterov, amsgrad, centered, maximize;
    lt__group groups[LT__MAX_GROUPS]; /* 0: the default group */
    int n_groups;
    int *group_of;     /* per tensor: its group */
    float *tensor_lr;  /* per tensor: its group's lr as float, filled at each SGD step */
    bool has_scheduler; /* groups are fixed once a scheduler drives them */
    /* state: per tensor steps taken (0: no state yet), flat buffers */
    int64_t *steps;
    int n_slots;
    const char *slot_names[LT__MAX_SLOTS];
    float *slots[LT__MAX_SLOTS]; /* flat layout; NULL while unused (lazy momentum) */
    lt_sgd *sgd;                 /* SGD delegates its update to lt_sgd */
};

/* Zeroed 64-byte aligned float buffer of n elements (free with free()). */
float *lt__optim_flat_alloc(int64_t n);

/* SGD internals (sgd.c): options to update before a step, and the buffer
 * and started flags the generic state functions read and write. The
 * momentum buffer is allocated on first need (a scheduler may turn
 * momentum on); NULL on out of memory. */
lt_sgd_options *lt__sgd_options(lt_sgd *s);
/* 1 - dampening from the config's double, as torch computes it. */
void lt__sgd_set_dampening(lt_sgd *s, double dampening);
float *lt__sgd_buffer(lt_sgd *s, bool alloc);
bool *lt__sgd_started(lt_sgd *s);
/* lt_sgd_step with a learning rate per tensor (param groups). */
int lt__sgd_step_lrs(lt_sgd *s, const float *tensor_lr);

/* Elementwise updates of n floats (adam.c, rmsprop.c), with the per step
 * scalars already computed in double as torch.optim does. */
typedef struct lt__adam_scalars {
    float beta1, one_minus_beta1, beta2, one_minus_beta2;
    float weight_decay;   /* Adam: L2 added to the gradient */
    float decay;          /* AdamW: param *= decay (1 - lr * weight_decay) */
    float bias_correction2_sqrt, eps, neg_step_size;
    bool decoupled, amsgrad, maximize;
} lt__adam_scalars;
void lt__adam_scalars_of(const lt_optimizer *o, double lr, int64_t step, lt__adam_scalars *s);
void lt__adam_update(const lt__adam_scalars *s, float *param, const float *grad, float *exp_avg, float *exp_avg_sq,
                     float *max_exp_avg_sq, int64_t n);
void lt__rmsprop_update(const lt_optimizer *o, double lr, float *param, const float *grad, float *square_avg, float *buf,
                        float *grad_avg, int64_t n);

/* ---- params maps ---- */
typedef enum lt__ptype { LT__P_FLOAT, LT__P_INT, LT__P_BOOL, LT__P_STR, LT__P_PAIR, LT__P_INTS, LT__P_LIST } lt__ptype;

enum { LT__MAX_INTS = 64 };
typedef struct lt__ints {
    int n;
    int64_t v[LT__MAX_INTS];
} lt__ints;

/* One accepted key: dst is double* (FLOAT), int64_t* (INT), bool* (BOOL),
 * const char ** (STR, borrowed from the cfg), double[2] (PAIR), lt__ints*
 * (INTS) or const lt_cfg ** (LIST: a list, borrowed). seen, when not NULL,
 * is set when the key is present (non-null). */
typedef struct lt__pspec {
    const char *key;
    lt__ptype type;
    void *dst;
    bool *seen;
} lt__pspec;

/* Reads params (a map, or NULL / null for all defaults) into the spec's
 * destinations. Errors name owner, the key and the expected type; an
 * unknown key lists the accepted ones. */
int lt__read_params(const char *owner, const lt_cfg *params, const lt__pspec *spec, int n);

#endif

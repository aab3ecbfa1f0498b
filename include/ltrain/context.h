/* ltrain SDK — step contexts: the arena, the autograd tape and the modes.
 *
 * A context (lt_ctx) owns everything that lives for one step: step tensors
 * (headers, data, gradients), the recorded graph, and kernel scratch memory.
 * All of it comes from one arena that lt_ctx_reset() rewinds without giving
 * memory back to the system. The arena grows while the first steps discover
 * how much a step needs; at the next reset after a growth it is re-laid as a
 * single block of the high-water size, so from then on a training loop runs
 * at constant memory and touches no fresh pages.
 *
 * Each thread has one *current* context (thread-local); ops allocate their
 * results from it. A typical step:
 *
 *     lt_ctx *ctx = lt_ctx_new();
 *     lt_ctx_use(ctx);
 *     for (;;) {
 *         lt_tensor *loss = forward(...);       // ops record the tape
 *         lt_backward(loss);                    // grads into parameters
 *         optimizer_step(...);
 *         lt_ctx_reset(ctx);                    // all step tensors gone
 *     }
 *     lt_ctx_use(NULL);
 *     lt_ctx_free(ctx);
 *
 * Modes (per context, like PyTorch's torch.no_grad() and module.train()):
 *   grad mode     — when off, ops record nothing and results never require
 *                   grad (evaluation, inference, optimizer updates).
 *   training mode — batch norm uses batch statistics and updates running
 *                   statistics, dropout drops. Off = evaluation behaviour.
 */
#ifndef LTRAIN_CONTEXT_H
#define LTRAIN_CONTEXT_H

#include "tensor.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct lt_ctx lt_ctx;

/* New context with grad mode and training mode on, RNG seed 0. */
LT_API lt_ctx *lt_ctx_new(void);
/* Frees the context and its arena. If it is current on this thread, the
 * thread is left with no current context. NULL is ignored. */
LT_API void lt_ctx_free(lt_ctx *ctx);
/* Ends a step: every step tensor and the graph are released; the arena is
 * kept (and compacted to one block if it grew). */
LT_API void lt_ctx_reset(lt_ctx *ctx);

/* Makes ctx current for the calling thread (NULL: none); returns the previous. */
LT_API lt_ctx *lt_ctx_use(lt_ctx *ctx);
/* The calling thread's current context, or NULL. */
LT_API lt_ctx *lt_ctx_current(void);

/* Modes of the current context. Setters return the previous value. */
LT_API bool lt_set_grad_enabled(bool enabled);
LT_API bool lt_is_grad_enabled(void);
LT_API bool lt_set_training(bool training);
LT_API bool lt_is_training(void);

/* Seeds the context's random stream (dropout). Same seed, same masks,
 * whatever the thread count. */
LT_API void lt_ctx_seed(lt_ctx *ctx, uint64_t seed);

/* Memory statistics of the arena, in bytes. `capacity` only grows during
 * warm-up; a constant capacity across steps means no fresh memory. */
typedef struct lt_arena_stats {
    size_t used;        /* bytes handed out since the last reset */
    size_t high_water;  /* most bytes used by any step so far */
    size_t capacity;    /* bytes reserved from the system */
    size_t n_blocks;    /* blocks currently reserved (1 after warm-up) */
    size_t n_grows;     /* times a new block had to be reserved */
} lt_arena_stats;
LT_API lt_arena_stats lt_ctx_arena_stats(const lt_ctx *ctx);

/* Raw step memory from the current context's arena, 64-byte aligned, valid
 * until lt_ctx_reset(). For plugin scratch space. NULL (with an error) when
 * no context is current. */
LT_API void *lt_step_alloc(size_t bytes);

#ifdef __cplusplus
}
#endif
#endif

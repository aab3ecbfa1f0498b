/* Step contexts: current-context pointer, modes, arena access. */
#include "internal.h"

#include <stdlib.h>
#include <string.h>

static _Thread_local lt_ctx *current;

lt_ctx *lt_ctx_new(void)
{
    lt_ctx *ctx = calloc(1, sizeof *ctx);
    if (!ctx) {
        lt_set_error("lt_ctx_new: out of memory");
        return NULL;
    }
    ctx->grad_enabled = true;
    ctx->training = true;
    return ctx;
}

void lt_ctx_free(lt_ctx *ctx)
{
    if (!ctx) return;
    if (current == ctx) current = NULL;
    lt__arena_free(&ctx->arena);
    free(ctx);
}

void lt_ctx_reset(lt_ctx *ctx)
{
    if (!ctx) return;
    lt__arena_reset(&ctx->arena);
    ctx->tape = NULL;
    ctx->tape_len = 0;
    ctx->backward_passes = 0;
}

lt_ctx *lt_ctx_use(lt_ctx *ctx)
{
    lt_ctx *prev = current;
    current = ctx;
    return prev;
}

lt_ctx *lt_ctx_current(void) { return current; }

lt_ctx *lt__ctx(const char *op)
{
    if (!current)
        lt__fail(op, "no ltrain context is current on this thread (create one with lt_ctx_new() and lt_ctx_use())");
    return current;
}

bool lt_set_grad_enabled(bool enabled)
{
    if (!current) return false;
    bool prev = current->grad_enabled;
    current->grad_enabled = enabled;
    return prev;
}

bool lt_is_grad_enabled(void) { return current && current->grad_enabled; }

bool lt_set_training(bool training)
{
    if (!current) return false;
    bool prev = current->training;
    current->training = training;
    return prev;
}

bool lt_is_training(void) { return current && current->training; }

void lt_ctx_seed(lt_ctx *ctx, uint64_t seed)
{
    ctx->seed = seed;
    ctx->draws = 0;
}

lt_arena_stats lt_ctx_arena_stats(const lt_ctx *ctx)
{
    lt_arena_stats s = {0};
    s.used = ctx->arena.used;
    s.high_water = ctx->arena.high_water;
    s.capacity = ctx->arena.capacity;
    s.n_grows = ctx->arena.n_grows;
    for (const lt_arena_block *b = ctx->arena.full; b; b = b->next) s.n_blocks++;
    if (ctx->arena.head) s.n_blocks++;
    return s;
}

void *lt__alloc(const char *op, size_t bytes)
{
    lt_ctx *ctx = lt__ctx(op);
    if (!ctx) return NULL;
    void *p = lt__arena_alloc(&ctx->arena, bytes);
    if (!p) lt__fail(op, "out of memory allocating %zu bytes of step memory", bytes);
    return p;
}

void *lt__calloc(const char *op, size_t bytes)
{
    void *p = lt__alloc(op, bytes);
    if (p) memset(p, 0, bytes);
    return p;
}

void *lt_step_alloc(size_t bytes) { return lt__alloc("lt_step_alloc", bytes); }

lt_arena_mark lt__arena_mark(void)
{
    lt_arena_mark m = {0};
    lt_ctx *ctx = lt_ctx_current();
    if (ctx && ctx->arena.head) {
        m.arena = &ctx->arena;
        m.head = ctx->arena.head;
        m.block_used = m.head->used;
        m.used = ctx->arena.used;
    }
    return m;
}

void lt__arena_rewind(lt_arena_mark m)
{
    if (m.arena && m.arena->head == m.head) {
        m.head->used = m.block_used;
        m.arena->used = m.used;
    }
}

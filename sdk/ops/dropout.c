/* Inverted dropout (F.dropout): out = x * mask / (1 - p) while training.
 *
 * The keep/drop decision of element i in the d-th dropout draw of a context
 * is a pure function of (seed, d, i): a counter-based hash, so masks do not
 * depend on the thread count or on how the loop is split, and backward
 * recomputes the mask instead of storing it. PyTorch's generator cannot be
 * matched bit for bit; the distribution (each element kept with probability
 * 1 - p, independently) and the scaling are PyTorch's. */
#include "../internal.h"

#include <math.h>

static const char *const DROPOUT = "dropout";

typedef struct dropout_saved {
    uint64_t key;       /* hash of (seed, draw): the mask's stream */
    uint64_t threshold; /* element dropped when its 32-bit hash < threshold */
    float scale;        /* 1 / (1 - p) */
    bool identity;      /* eval mode or p == 0: gradient passes unchanged */
} dropout_saved;

/* lt_hash64 (splitmix64's finaliser, rng.c), repeated here so that it inlines
 * and the mask loops vectorise; test_dropout checks the two agree. */
static inline uint64_t mix64(uint64_t x)
{
    x += 0x9e3779b97f4a7c15ull;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
    return x ^ (x >> 31);
}

/* Multiplier of element i: scale when kept, 0 when dropped. Multiplying
 * (instead of selecting 0) keeps PyTorch's NaN * 0 = NaN behaviour. */
static inline float mask_factor(uint64_t key, uint64_t threshold, float scale, int64_t i)
{
    const uint64_t u = mix64(key + (uint64_t)i) >> 32;
    return u < threshold ? 0.0f : scale;
}

static void dropout_backward(lt_node *node)
{
    lt_tensor *x = node->inputs[0];
    float *gx = lt__grad(x);
    if (!gx) return;
    const dropout_saved *s = node->saved;
    const float *g = node->out->grad;
    const int64_t n = x->numel;
    if (s->identity) {
#pragma omp parallel for schedule(static) if (n > LT_PAR_MIN)
        for (int64_t i = 0; i < n; i++) gx[i] += g[i];
        return;
    }
    const uint64_t key = s->key, threshold = s->threshold;
    const float scale = s->scale;
#pragma omp parallel for schedule(static) if (n > LT_PAR_MIN)
    for (int64_t i = 0; i < n; i++) gx[i] += g[i] * mask_factor(key, threshold, scale, i);
}

/* Eval mode or p == 0: a view of x, recorded so gradients still flow. */
static lt_tensor *dropout_identity(lt_tensor *x)
{
    lt_tensor *out = lt__view(DROPOUT, x, x->ndim, x->shape);
    if (!out) return NULL;
    if (lt__wants_grad(1, &x)) {
        lt_node *node = lt__record(out, LT_OP_DROPOUT, dropout_backward, 1, &x, sizeof(dropout_saved));
        if (!node) return NULL;
        ((dropout_saved *)node->saved)->identity = true;
    }
    return out;
}

lt_tensor *lt_dropout(lt_tensor *x, float p)
{
    LT__PROFILE_OP(LT_OP_DROPOUT);
    if (!x) return NULL;
    if (!lt__check_dtype(DROPOUT, "input", x, LT_F32)) return NULL;
    if (!(p >= 0.0f && p <= 1.0f)) {
        lt__fail(DROPOUT, "probability has to be between 0 and 1, but got %g (input %s)", (double)p, lt__shp(x));
        return NULL;
    }
    lt_ctx *ctx = lt__ctx(DROPOUT);
    if (!ctx) return NULL;
    if (!ctx->training || p == 0.0f) return dropout_identity(x);

    lt_tensor *out = lt__result(DROPOUT, LT_F32, x->ndim, x->shape);
    if (!out) return NULL;
    const double keep = 1.0 - (double)p;
    dropout_saved s = {
        .key = lt_hash64(ctx->seed ^ lt_hash64(ctx->draws++ + 0x6a09e667f3bcc909ull)),
        .threshold = (uint64_t)llround((double)p * 4294967296.0), /* p * 2^32; p == 1 drops all */
        .scale = keep == 0.0 ? 0.0f : (float)(1.0 / keep),
    };
    const float *xs = lt_f32(x);
    float *ys = lt_f32(out);
    const int64_t n = x->numel;
#pragma omp parallel for schedule(static) if (n > LT_PAR_MIN)
    for (int64_t i = 0; i < n; i++) ys[i] = xs[i] * mask_factor(s.key, s.threshold, s.scale, i);

    if (lt__wants_grad(1, &x)) {
        lt_node *node = lt__record(out, LT_OP_DROPOUT, dropout_backward, 1, &x, sizeof(dropout_saved));
        if (!node) return NULL;
        *(dropout_saved *)node->saved = s;
    }
    return out;
}

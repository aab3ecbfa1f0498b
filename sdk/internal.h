/* Private helpers shared by the SDK's implementation files. Not installed.
 *
 * Writing an op (see ops/unary.c for the pattern):
 *   1. validate inputs with the lt__check_* helpers (they set "op: ..." errors);
 *   2. out = lt__result(op_name, dtype, ndim, shape) from the arena;
 *   3. compute forward (OpenMP `parallel for` with if(n > LT_PAR_MIN));
 *   4. if (lt__wants_grad(n, inputs)) { node = lt__record(...); save what
 *      backward needs in node->saved (arena memory, lives for the step) };
 *   5. backward(node): g = node->out->grad; for each input that requires grad,
 *      gi = lt__grad(input) (zeroed on first use) and accumulate gi += ...;
 *      an op that writes every element uses lt__grad_begin() and stores
 *      (gi = ...) when the buffer is fresh, which saves a zeroing pass.
 */
#ifndef LTRAIN_SDK_INTERNAL_H
#define LTRAIN_SDK_INTERNAL_H

#include <ltrain/ltrain.h>
#include <ltrain/profile.h>
#include <assert.h>

/* Below this many elements, elementwise kernels stay on one thread. */
#define LT_PAR_MIN 32768

typedef struct lt_node lt_node;
typedef void (*lt_backward_fn)(lt_node *node);

struct lt_node {
    lt_node *prev;          /* previous node on the tape */
    lt_op op;
    lt_tensor *out;
    int n_inputs;
    lt_tensor **inputs;     /* arena array of n_inputs (entries may be NULL) */
    lt_backward_fn backward;
    void *saved;            /* op-specific state, arena memory */
    uint32_t needed_by;     /* id of the backward pass it is needed by */
    bool done;              /* backward already ran through it */
};

/* ---- profiler (profile.h) ---- */
/* Recording switch, read inline so a disabled profiler costs one branch. */
extern bool lt__profile_on;
lt_profile_scope lt__profile_begin_on(lt_profile_kind kind);
static inline lt_profile_scope lt__profile_begin(lt_profile_kind kind)
{
    if (__builtin_expect(!lt__profile_on, 1)) return (lt_profile_scope){0};
    return lt__profile_begin_on(kind);
}
static inline void lt__profile_scope_exit(lt_profile_scope *scope)
{
    if (__builtin_expect(scope->state != 0, 0)) lt_profile_end(*scope);
}
/* One line at an op's entry: times the rest of the enclosing block (every
 * return path, through the cleanup attribute) under the op's kind. */
#define LT__PROFILE_OP(op)                                                                                  \
    lt_profile_scope lt__profile_scope_ __attribute__((cleanup(lt__profile_scope_exit), unused)) =          \
        lt__profile_begin(lt__profile_on ? lt_profile_kind_of(op) : LT_PROFILE_OTHER)
#define LT__PROFILE_KIND(kind)                                                                              \
    lt_profile_scope lt__profile_scope_ __attribute__((cleanup(lt__profile_scope_exit), unused)) =          \
        lt__profile_begin(kind)
/* Forward FLOPs of a conv/linear call (only evaluated while recording). */
#define LT__PROFILE_FLOPS(expr)                                                                             \
    do {                                                                                                   \
        if (__builtin_expect(lt__profile_on, 0)) lt_profile_add_flops((double)(expr));                     \
    } while (0)

/* ---- arena ---- */
typedef struct lt_arena_block {
    struct lt_arena_block *next;
    size_t size, used;
    unsigned char *mem;
} lt_arena_block;

typedef struct lt_arena {
    lt_arena_block *head;    /* block being filled */
    lt_arena_block *full;    /* blocks filled earlier in this step */
    size_t used, high_water, capacity, n_grows;
} lt_arena;

void *lt__arena_alloc(lt_arena *a, size_t bytes);

/* Scratch that lives during one kernel pass: mark the current context's
 * arena, allocate, then rewind to hand the memory back (effective when no
 * new block was opened meanwhile; the arena re-lays itself at the next
 * reset anyway). Tensors allocated after the mark must not outlive it. */
typedef struct lt_arena_mark {
    lt_arena *arena;
    lt_arena_block *head;
    size_t block_used, used;
} lt_arena_mark;
lt_arena_mark lt__arena_mark(void);
void lt__arena_rewind(lt_arena_mark mark);
void lt__arena_reset(lt_arena *a);
void lt__arena_free(lt_arena *a);

/* ---- context ---- */
struct lt_ctx {
    lt_arena arena;
    lt_node *tape;           /* last recorded node */
    size_t tape_len;
    bool grad_enabled;
    bool training;
    uint64_t seed;
    uint64_t draws;          /* random draws made this context (dropout) */
    uint32_t backward_passes; /* backward passes run on this tape (ids nodes' needed_by) */
};

/* Current context, or NULL with the error "<op>: no ltrain context ...". */
lt_ctx *lt__ctx(const char *op);
/* Arena memory of the current context (64-byte aligned; NULL + error). */
void *lt__alloc(const char *op, size_t bytes);
void *lt__calloc(const char *op, size_t bytes);

/* ---- errors ---- */
/* Sets "op: <message>" and returns -1. */
int lt__fail(const char *op, const char *fmt, ...) LT_PRINTF(2, 3);
/* "[2,3,8,8]" in one of 8 rotating thread-local buffers, so several shapes
 * can appear in one message. */
const char *lt__shp(const lt_tensor *t);
const char *lt__shape_dims(int ndim, const int64_t *shape);

/* ---- checks (each sets an error naming op and returns false) ---- */
bool lt__check_dtype(const char *op, const char *arg, const lt_tensor *t, lt_dtype want);
bool lt__check_ndim(const char *op, const char *arg, const lt_tensor *t, int ndim);
/* Normalises a possibly negative dim for a tensor of ndim dims. */
bool lt__norm_dim(const char *op, int ndim, int dim, int *out);

/* ---- results and graph ---- */
/* Uninitialised step tensor. */
lt_tensor *lt__result(const char *op, lt_dtype dtype, int ndim, const int64_t *shape);
/* A step tensor header sharing `base`'s data with a new shape (same numel). */
lt_tensor *lt__view(const char *op, lt_tensor *base, int ndim, const int64_t *shape);
/* True when grad mode is on and one of the n inputs requires grad. */
bool lt__wants_grad(int n, lt_tensor *const *inputs);
/* Records a node producing `out` (marking it requires-grad) with a zeroed
 * saved block of saved_size bytes. NULL + error on out of memory. */
lt_node *lt__record(lt_tensor *out, lt_op op, lt_backward_fn backward, int n, lt_tensor *const *inputs,
                    size_t saved_size);
/* Gradient buffer of t (allocated zeroed on first use), or NULL when t
 * does not require grad. Only valid during backward. */
float *lt__grad(lt_tensor *t);
/* Gradient buffer of t for a backward that writes every element of it:
 * *fresh is true when t had no gradient yet, and the buffer is then
 * uninitialised, so the op stores (=) instead of accumulating (+=) and saves
 * the zeroing pass and a read. NULL when t does not require grad. */
float *lt__grad_begin(lt_tensor *t, bool *fresh);
/* Makes t's gradient the buffer g of the same numel when t has none yet
 * (true), so a backward that would copy g passes it on instead. Only for a
 * single consumer of g: g must not be written afterwards by anyone else. */
bool lt__grad_share(lt_tensor *t, float *g);

/* ---- broadcasting ---- */
/* Broadcast shape of a and b into out (returns false + error if incompatible). */
bool lt__broadcast_shape(const char *op, const lt_tensor *a, const lt_tensor *b, int *ndim, int64_t *shape);
/* Row-major strides of `t` expanded to an out shape of ndim dims: 0 on broadcast dims. */
void lt__broadcast_strides(const lt_tensor *t, int ndim, const int64_t *out_shape, int64_t *strides);
/* acc (shape in_shape) += sum of g (shape out_shape) over broadcast dims. */
void lt__reduce_broadcast(const float *g, int out_ndim, const int64_t *out_shape, float *acc,
                          const lt_tensor *in);

/* ---- parameter store's flat layout (nn/params.c), for optimizers ---- */
/* Offset in floats of the i-th registered tensor in the flat layout of all
 * parameters (-1 for buffers), the layout's size, and the packed blocks
 * (false when the store is not packed). */
int64_t lt__params_offset(const lt_params *p, size_t i);
int64_t lt__params_flat_size(const lt_params *p);
bool lt__params_blocks(const lt_params *p, float **data, float **grad);

/* ---- shared kernels ---- */
/* Runs `body` over [lo, hi) chunks of LT_CHUNK elements of [0, n), threaded
 * when large: the chunking (not the thread count) fixes the order of
 * partial sums, so results are the same bits for any thread count. */
enum { LT_CHUNK = 16384 };
#define LT_FOR_CHUNKS(n, body)                                                                              \
    do {                                                                                                   \
        const int64_t n_chunks_ = ((n) + LT_CHUNK - 1) / LT_CHUNK;                                         \
        _Pragma("omp parallel for schedule(static) if((n) > LT_PAR_MIN)")                                  \
        for (int64_t c = 0; c < n_chunks_; c++) {                                                          \
            const int64_t lo = c * LT_CHUNK, hi = (n) - lo < LT_CHUNK ? (n) : lo + LT_CHUNK;               \
            body;                                                                                          \
        }                                                                                                  \
    } while (0)

/* Sum of n floats in double, fixed chunking (same bits for any thread
 * count); false + error on out of memory (ops/reduce.c). */
bool lt__sum_f32(const char *op, const float *x, int64_t n, double *sum);
/* t's data broadcast to `shape` (t itself when already that shape; else an
 * arena copy); NULL + error (loss/regression.c). */
const float *lt__expand_f32(const char *op, const lt_tensor *t, int ndim, const int64_t *shape);

/* ---- BLAS seam ---- */
/* C = alpha * op(A) * op(B) + beta * C, row-major. */
void lt__sgemm(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, float alpha, const float *a,
               int64_t lda, const float *b, int64_t ldb, float beta, float *c, int64_t ldc);

static inline int64_t lt__numel(int ndim, const int64_t *shape)
{
    int64_t n = 1;
    for (int i = 0; i < ndim; i++) n *= shape[i];
    return n;
}

#endif

/* bench_memops: the memory-bound ops of a training step (everything that is
 * not GEMM/conv) at the shapes of the reference workloads: ResNet-18 batch
 * 32 at 64x64 and batch 8 at 224x224, and the U-Net (batch 8, 128x128).
 *
 *   bench_memops [--threads N] [--reps R] [--warmup W] [--only SUBSTRING] [--cpu]
 *
 * Per case: forward (training mode, grad on) and backward (the op's node
 * only: the case's output gets a random gradient and backward runs from it)
 * in microseconds, medians of R repetitions after W warm-up ones. Each
 * repetition starts from a reset step context with the inputs copied into
 * fresh step tensors (not timed), as in a training loop, so the input
 * gradients start out absent, as activations' gradients do. */
#include "timing.h"
#include <ltrain/ltrain.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

enum kind { BN_TRAIN, BN_EVAL, RELU, MAXPOOL_K3S2, MAXPOOL_K2S2, ADD, CONCAT, AVGPOOL_GLOBAL, FLATTEN, CE, SGD };

static const char *const KIND_NAMES[] = {"batch_norm train", "batch_norm eval", "relu", "max_pool k3s2p1",
                                         "max_pool k2s2", "add", "concat dim1", "adaptive_avg 1x1", "flatten",
                                         "cross_entropy", "sgd momentum"};

typedef struct bench_case {
    const char *workload;
    enum kind kind;
    int64_t shape[4]; /* [N,C,H,W]; CE: logits; SGD: shape[0] = parameter floats */
} bench_case;

static const bench_case CASES[] = {
    {"r18-64", BN_TRAIN, {32, 64, 32, 32}},  {"r18-64", RELU, {32, 64, 32, 32}},
    {"r18-64", MAXPOOL_K3S2, {32, 64, 32, 32}}, {"r18-64", BN_TRAIN, {32, 64, 16, 16}},
    {"r18-64", RELU, {32, 64, 16, 16}},      {"r18-64", ADD, {32, 64, 16, 16}},
    {"r18-64", BN_TRAIN, {32, 128, 8, 8}},   {"r18-64", BN_TRAIN, {32, 256, 4, 4}},
    {"r18-64", BN_TRAIN, {32, 512, 2, 2}},   {"r18-64", AVGPOOL_GLOBAL, {32, 512, 2, 2}},
    {"r18-64", FLATTEN, {32, 512, 1, 1}},    {"r18-64", CE, {32, 10, 1, 1}},
    {"r18-64", BN_EVAL, {32, 64, 32, 32}},   {"r18-64", SGD, {11689512, 1, 1, 1}},
    {"r18-224", BN_TRAIN, {8, 64, 112, 112}}, {"r18-224", RELU, {8, 64, 112, 112}},
    {"r18-224", MAXPOOL_K3S2, {8, 64, 112, 112}}, {"r18-224", BN_TRAIN, {8, 64, 56, 56}},
    {"r18-224", ADD, {8, 64, 56, 56}},       {"r18-224", BN_TRAIN, {8, 128, 28, 28}},
    {"r18-224", BN_TRAIN, {8, 256, 14, 14}}, {"r18-224", BN_TRAIN, {8, 512, 7, 7}},
    {"r18-224", AVGPOOL_GLOBAL, {8, 512, 7, 7}}, {"unet", BN_TRAIN, {8, 16, 128, 128}},
    {"unet", RELU, {8, 16, 128, 128}},       {"unet", MAXPOOL_K2S2, {8, 16, 128, 128}},
    {"unet", BN_TRAIN, {8, 32, 64, 64}},     {"unet", BN_TRAIN, {8, 64, 32, 32}},
    {"unet", BN_TRAIN, {8, 128, 16, 16}},    {"unet", CONCAT, {8, 16, 128, 128}},
    {"unet", CONCAT, {8, 32, 64, 64}},       {"unet", CE, {8, 3, 128, 128}},
};

static int reps = 20, warmup = 3;

static lt_tensor *owned_random(int ndim, const int64_t *shape, unsigned seed)
{
    lt_tensor *t = lt_tensor_new(LT_F32, ndim, shape);
    lt_rng rng;
    lt_rng_seed(&rng, seed);
    for (int64_t i = 0; i < t->numel; i++) lt_f32(t)[i] = lt_rng_uniform(&rng) * 2.0f - 1.0f;
    return t;
}

/* A step tensor copy of an owned one that requires grad (a fresh activation). */
static lt_tensor *step_input(const lt_tensor *t)
{
    lt_tensor *s = lt_copy(t);
    lt_tensor_set_requires_grad(s, true);
    return s;
}

typedef struct case_state {
    lt_tensor *x, *x2, *w, *b, *rm, *rv, *target;
    lt_params *params;
    lt_sgd *sgd;
} case_state;

static void state_init(case_state *s, const bench_case *bc)
{
    memset(s, 0, sizeof *s);
    const int64_t c = bc->shape[1];
    if (bc->kind == SGD) {
        s->params = lt_params_new();
        lt_tensor *p = lt_params_add(s->params, "", "w", LT_F32, 1, bc->shape, true);
        for (int64_t i = 0; i < p->numel; i++) lt_f32(p)[i] = 0.001f * (float)(i % 1000);
        lt_params_pack(s->params);
        s->sgd = lt_sgd_new(s->params, &(lt_sgd_options){.lr = 0.01f, .momentum = 0.9f});
        return;
    }
    s->x = owned_random(4, bc->shape, 1);
    s->x2 = owned_random(4, bc->shape, 2);
    if (bc->kind == BN_TRAIN || bc->kind == BN_EVAL) {
        s->w = owned_random(1, &c, 3);
        s->b = owned_random(1, &c, 4);
        s->rm = lt_tensor_new(LT_F32, 1, &c);
        s->rv = owned_random(1, &c, 5);
        for (int64_t i = 0; i < c; i++) lt_f32(s->rv)[i] += 1.5f;
        lt_tensor_set_requires_grad(s->w, true);
        lt_tensor_set_requires_grad(s->b, true);
    }
    if (bc->kind == CE) {
        int64_t tshape[3] = {bc->shape[0], bc->shape[2], bc->shape[3]};
        s->target = lt_tensor_new(LT_I32, bc->shape[2] > 1 ? 3 : 1, tshape);
        for (int64_t i = 0; i < s->target->numel; i++) lt_i32(s->target)[i] = (int32_t)(i * 7 % c);
    }
}

static void state_free(case_state *s)
{
    lt_tensor *ts[] = {s->x, s->x2, s->w, s->b, s->rm, s->rv, s->target};
    for (size_t i = 0; i < sizeof ts / sizeof *ts; i++) lt_tensor_free(ts[i]);
    lt_sgd_free(s->sgd);
    lt_params_free(s->params);
}

/* Runs the case's op on step copies of its inputs. */
static lt_tensor *forward(const bench_case *bc, case_state *s, lt_tensor *x, lt_tensor *x2)
{
    switch (bc->kind) {
    case BN_TRAIN: return lt_batch_norm(x, s->rm, s->rv, s->w, s->b, true, 0.1f, 1e-5f);
    case BN_EVAL: return lt_batch_norm(x, s->rm, s->rv, s->w, s->b, false, 0.1f, 1e-5f);
    case RELU: return lt_relu(x);
    case MAXPOOL_K3S2:
        return lt_max_pool2d(x, &(lt_pool2d_params){.kernel = {3, 3}, .stride = {2, 2}, .padding = {1, 1}});
    case MAXPOOL_K2S2: return lt_max_pool2d(x, &(lt_pool2d_params){.kernel = {2, 2}, .stride = {2, 2}});
    case ADD: return lt_add(x, x2);
    case CONCAT: return lt_concat((lt_tensor *[]){x, x2}, 2, 1);
    case AVGPOOL_GLOBAL: return lt_adaptive_avg_pool2d(x, 1, 1);
    case FLATTEN: return lt_flatten(x, 1, -1);
    case CE: {
        lt_tensor *logits = bc->shape[2] > 1 ? x : lt_reshape(x, 2, bc->shape);
        return lt_cross_entropy(logits, s->target, NULL);
    }
    case SGD: break;
    }
    return NULL;
}

static void run_case(const bench_case *bc, lt_ctx *ctx)
{
    case_state s;
    state_init(&s, bc);
    double *fwd = calloc((size_t)reps, sizeof *fwd), *bwd = calloc((size_t)reps, sizeof *bwd);
    for (int r = -warmup; r < reps; r++) {
        lt_ctx_reset(ctx);
        double f = 0.0, b = 0.0;
        if (bc->kind == SGD) {
            lt_tensor *p = lt_params_at(s.params, 0);
            memset(p->grad, 0, (size_t)p->numel * sizeof(float));
            const double t0 = bench_now_us();
            lt_sgd_step(s.sgd);
            b = bench_now_us() - t0;
        } else {
            lt_tensor *x = step_input(s.x), *x2 = step_input(s.x2);
            if (s.w) lt_tensor_zero_grad(s.w), lt_tensor_zero_grad(s.b);
            const double t0 = bench_now_us();
            lt_tensor *y = forward(bc, &s, x, x2);
            f = bench_now_us() - t0;
            if (!y) {
                fprintf(stderr, "bench_memops: %s\n", lt_last_error());
                exit(1);
            }
            lt_tensor *gy = lt_full(y->ndim, y->shape, 0.5f);
            const double t1 = bench_now_us();
            if (lt_backward_with_grad(y, gy) != 0) {
                fprintf(stderr, "bench_memops: %s\n", lt_last_error());
                exit(1);
            }
            b = bench_now_us() - t1;
        }
        if (r >= 0) fwd[r] = f, bwd[r] = b;
        if (getenv("BENCH_ARENA")) {
            lt_arena_stats st = lt_ctx_arena_stats(ctx);
            fprintf(stderr, "rep %d: used %zu high %zu cap %zu blocks %zu grows %zu\n", r, st.used, st.high_water,
                    st.capacity, st.n_blocks, st.n_grows);
        }
    }
    printf("%-8s %-17s [%lld,%lld,%lld,%lld]%*s fwd %9.1f us  bwd %9.1f us\n", bc->workload, KIND_NAMES[bc->kind],
           (long long)bc->shape[0], (long long)bc->shape[1], (long long)bc->shape[2], (long long)bc->shape[3], 2, "",
           bench_median(fwd, reps), bench_median(bwd, reps));
    free(fwd);
    free(bwd);
    state_free(&s);
}

int main(int argc, char **argv)
{
    int threads = 0;
    const char *only = NULL;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--threads") && i + 1 < argc)
            threads = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--reps") && i + 1 < argc)
            reps = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--warmup") && i + 1 < argc)
            warmup = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--only") && i + 1 < argc)
            only = argv[++i];
        else if (!strcmp(argv[i], "--cpu"))
            bench_clock = CLOCK_PROCESS_CPUTIME_ID;
        else {
            fprintf(stderr, "usage: %s [--threads N] [--reps R] [--warmup W] [--only SUBSTRING] [--cpu]\n", argv[0]);
            return 2;
        }
    }
    if (reps < 1) reps = 1;
    lt_set_num_threads(threads);
    printf("bench_memops: %d threads; median of %d reps after %d warm-up%s\n", lt_get_num_threads(), reps, warmup,
           bench_clock == CLOCK_MONOTONIC ? "" : "; CPU time");
    lt_ctx *ctx = lt_ctx_new();
    lt_ctx_use(ctx);
    for (size_t i = 0; i < sizeof CASES / sizeof *CASES; i++) {
        char label[64];
        snprintf(label, sizeof label, "%s %s", CASES[i].workload, KIND_NAMES[CASES[i].kind]);
        if (!only || strstr(label, only)) run_case(&CASES[i], ctx);
    }
    lt_ctx_use(NULL);
    lt_ctx_free(ctx);
    return 0;
}

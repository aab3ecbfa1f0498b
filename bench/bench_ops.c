/* bench_ops: conv2d forward / backward and linear on the layer shapes of
 * ResNet-18 (batch 32, 64x64 input), side by side with a plain OpenBLAS
 * sgemm of the same M, N, K (and transposes) timed in the same run.
 *
 *   bench_ops [--threads N] [--reps R] [--warmup W] [--layer I] [--cpu]
 *
 * Like the ltrain program it first makes OpenBLAS use the best kernels for
 * the CPU (lt_blas_tune). --cpu times process CPU instead of wall time
 * (single-threaded comparisons on a shared machine); --layer I runs one row.
 * Each figure is the median of R timed repetitions after W warm-up ones;
 * every repetition starts from a reset step context (lt_ctx_reset), as in a
 * training loop. GEMM view of a conv (groups 1):
 *   forward          M = C_out, N = batch*Ho*Wo, K = C_in*kh*kw   (A*B)
 *   backward data    M = K,     N = batch*Ho*Wo, K = C_out        (A^T*B)
 *   backward weight  M = C_out, N = K,           K = batch*Ho*Wo  (A*B^T)
 * "ratio" is the conv's combined forward+backward GFLOP/s over the plain
 * sgemm's combined GFLOP/s for the same three products. */
#include <ltrain/ltrain.h>

#include <cblas.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef struct layer {
    const char *name;
    int c_in, c_out, k, stride, pad, size; /* size: input H = W; k == 0: linear */
} layer;

static const int BATCH = 32;

static const layer LAYERS[] = {
    {"stem 7x7 s2 3->64", 3, 64, 7, 2, 3, 64},
    {"layer1 3x3 64->64", 64, 64, 3, 1, 1, 16},
    {"layer2 3x3 s2 64->128", 64, 128, 3, 2, 1, 16},
    {"layer2 1x1 s2 64->128", 64, 128, 1, 2, 0, 16},
    {"layer2 3x3 128->128", 128, 128, 3, 1, 1, 8},
    {"layer3 3x3 s2 128->256", 128, 256, 3, 2, 1, 8},
    {"layer3 1x1 s2 128->256", 128, 256, 1, 2, 0, 8},
    {"layer3 3x3 256->256", 256, 256, 3, 1, 1, 4},
    {"layer4 3x3 s2 256->512", 256, 512, 3, 2, 1, 4},
    {"layer4 1x1 s2 256->512", 256, 512, 1, 2, 0, 4},
    {"layer4 3x3 512->512", 512, 512, 3, 1, 1, 2},
    {"fc linear 512->10", 512, 10, 0, 0, 0, 1},
};

enum { FWD, BWD_DATA, BWD_WEIGHT, N_PASSES };

static int reps = 15, warmup = 3;
/* --cpu: process CPU time instead of wall time, to compare single-threaded
 * runs on a machine shared with other work. */
static clockid_t clock_id = CLOCK_MONOTONIC;

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(clock_id, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec * 1e-6;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

static void fill(lt_tensor *t, unsigned seed)
{
    lt_rng rng;
    lt_rng_seed(&rng, seed);
    for (int64_t i = 0; i < t->numel; i++) lt_f32(t)[i] = lt_rng_uniform(&rng) * 2.0f - 1.0f;
}

static void die(const char *what)
{
    fprintf(stderr, "bench_ops: %s: %s\n", what, lt_last_error());
    exit(1);
}

/* ---- the op under test ---- */

typedef struct op_case {
    const layer *l;
    lt_tensor *x, *w, *gy;
} op_case;

static lt_tensor *run_op(const op_case *c)
{
    if (c->l->k == 0) return lt_linear(c->x, c->w, NULL);
    lt_conv2d_params p = {{c->l->stride, c->l->stride}, {c->l->pad, c->l->pad}, {1, 1}, 1};
    return lt_conv2d(c->x, c->w, NULL, &p);
}

/* Median ms of one pass. */
static double time_pass(lt_ctx *ctx, const op_case *c, int pass)
{
    lt_tensor_set_requires_grad(c->x, pass == BWD_DATA);
    lt_tensor_set_requires_grad(c->w, pass == BWD_WEIGHT);
    lt_set_grad_enabled(pass != FWD);
    double *t = malloc(sizeof(double) * (size_t)reps);
    for (int r = -warmup; r < reps; r++) {
        lt_ctx_reset(ctx);
        double t0 = now_ms();
        lt_tensor *y = run_op(c);
        if (!y) die("forward");
        if (pass != FWD) { /* time the backward alone */
            t0 = now_ms();
            if (lt_backward_with_grad(y, c->gy)) die("backward");
        }
        if (r >= 0) t[r] = now_ms() - t0;
    }
    lt_set_grad_enabled(true);
    double m = median(t, reps);
    free(t);
    return m;
}

/* ---- plain sgemm of the same product ---- */

static double time_sgemm(bool ta, bool tb, int m, int n, int k)
{
    float *a = malloc(sizeof(float) * (size_t)m * (size_t)k);
    float *b = malloc(sizeof(float) * (size_t)k * (size_t)n);
    float *c = malloc(sizeof(float) * (size_t)m * (size_t)n);
    for (size_t i = 0; i < (size_t)m * (size_t)k; i++) a[i] = (float)(i % 7) * 0.1f;
    for (size_t i = 0; i < (size_t)k * (size_t)n; i++) b[i] = (float)(i % 5) * 0.1f;
    double *t = malloc(sizeof(double) * (size_t)reps);
    for (int r = -warmup; r < reps; r++) {
        double t0 = now_ms();
        cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans, m, n, k, 1.0f, a,
                    ta ? m : k, b, tb ? k : n, 0.0f, c, n);
        double t1 = now_ms();
        if (r >= 0) t[r] = t1 - t0;
    }
    double med = median(t, reps);
    free(t);
    free(a);
    free(b);
    free(c);
    return med;
}

static double gflops(double flops, double ms) { return ms > 0 ? flops / (ms * 1e6) : 0.0; }

int main(int argc, char **argv)
{
    lt_blas_tune(argv); /* OpenBLAS's best kernels on CPUs it does not recognise (re-executes once) */
    int threads = 0, only = -1;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--threads") && i + 1 < argc)
            threads = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--reps") && i + 1 < argc)
            reps = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--warmup") && i + 1 < argc)
            warmup = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--layer") && i + 1 < argc)
            only = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--cpu"))
            clock_id = CLOCK_PROCESS_CPUTIME_ID;
        else {
            fprintf(stderr, "usage: %s [--threads N] [--reps R] [--warmup W] [--layer I (0-based, one row)] [--cpu]\n",
                    argv[0]);
            return 2;
        }
    }
    if (reps < 1) reps = 1;
    if (warmup < 0) warmup = 0;
    lt_set_num_threads(threads);
    printf("bench_ops: ResNet-18 layers, batch %d, 64x64 input; %d threads; median of %d reps after %d warm-up%s\n",
           BATCH, lt_get_num_threads(), reps, warmup, clock_id == CLOCK_MONOTONIC ? "" : "; CPU time");
    printf("OpenBLAS kernels: %s\n", lt_blas_kernels());
    printf("GFLOP/s: conv (ltrain) | sgemm (plain OpenBLAS, same M,N,K); total = fwd+bwd-data+bwd-weight\n\n");
    printf("%-24s %-22s | %-23s | %-23s | %-23s | %-15s | %s\n", "layer", "x -> y", "forward ms  GF/s  sgemm",
           "bwd-data ms GF/s sgemm", "bwd-wgt ms GF/s  sgemm", "total GF/s sgemm", "ratio");

    lt_ctx *ctx = lt_ctx_new();
    lt_ctx_use(ctx);
    double sum_ms = 0, sum_gemm_ms = 0, sum_flops = 0;
    for (size_t li = 0; li < sizeof LAYERS / sizeof LAYERS[0]; li++) {
        if (only >= 0 && (size_t)only != li) continue;
        const layer *l = &LAYERS[li];
        op_case c = {.l = l};
        int64_t m, n, k;
        char shapes[64];
        if (l->k == 0) {
            const int64_t xs[2] = {BATCH, l->c_in}, ws[2] = {l->c_out, l->c_in}, ys[2] = {BATCH, l->c_out};
            c.x = lt_tensor_new(LT_F32, 2, xs);
            c.w = lt_tensor_new(LT_F32, 2, ws);
            c.gy = lt_tensor_new(LT_F32, 2, ys);
            m = BATCH, n = l->c_out, k = l->c_in; /* forward: x * W^T */
            snprintf(shapes, sizeof shapes, "[%d,%d]->[%d,%d]", BATCH, l->c_in, BATCH, l->c_out);
        } else {
            const int out = (l->size + 2 * l->pad - l->k) / l->stride + 1;
            const int64_t xs[4] = {BATCH, l->c_in, l->size, l->size}, ws[4] = {l->c_out, l->c_in, l->k, l->k};
            const int64_t ys[4] = {BATCH, l->c_out, out, out};
            c.x = lt_tensor_new(LT_F32, 4, xs);
            c.w = lt_tensor_new(LT_F32, 4, ws);
            c.gy = lt_tensor_new(LT_F32, 4, ys);
            m = l->c_out, n = (int64_t)BATCH * out * out, k = (int64_t)l->c_in * l->k * l->k;
            snprintf(shapes, sizeof shapes, "%dx%d@%d->%d@%d", l->c_in, l->k, l->size, l->c_out, out);
        }
        if (!c.x || !c.w || !c.gy) die("alloc");
        fill(c.x, 1);
        fill(c.w, 2);
        fill(c.gy, 3);
        const double flops = 2.0 * (double)m * (double)n * (double)k;
        double ms[N_PASSES], gemm_ms[N_PASSES];
        for (int p = 0; p < N_PASSES; p++) ms[p] = time_pass(ctx, &c, p);
        if (l->k == 0) { /* y = x W^T; dx = dy W; dW = dy^T x */
            gemm_ms[FWD] = time_sgemm(false, true, (int)m, (int)n, (int)k);
            gemm_ms[BWD_DATA] = time_sgemm(false, false, (int)m, (int)k, (int)n);
            gemm_ms[BWD_WEIGHT] = time_sgemm(true, false, (int)n, (int)k, (int)m);
        } else { /* Y = W col; dcol = W^T dY; dW = dY col^T */
            gemm_ms[FWD] = time_sgemm(false, false, (int)m, (int)n, (int)k);
            gemm_ms[BWD_DATA] = time_sgemm(true, false, (int)k, (int)n, (int)m);
            gemm_ms[BWD_WEIGHT] = time_sgemm(false, true, (int)m, (int)k, (int)n);
        }
        double tot = ms[0] + ms[1] + ms[2], gtot = gemm_ms[0] + gemm_ms[1] + gemm_ms[2];
        printf("%-24s %-22s |", l->name, shapes);
        for (int p = 0; p < N_PASSES; p++)
            printf(" %7.3f %6.1f %6.1f |", ms[p], gflops(flops, ms[p]), gflops(flops, gemm_ms[p]));
        printf(" %6.1f %6.1f   | %4.0f%%\n", gflops(3 * flops, tot), gflops(3 * flops, gtot),
               100.0 * gtot / tot);
        sum_ms += tot;
        sum_gemm_ms += gtot;
        sum_flops += 3 * flops;
        lt_tensor_free(c.x);
        lt_tensor_free(c.w);
        lt_tensor_free(c.gy);
    }
    lt_ctx_reset(ctx);
    lt_arena_stats st = lt_ctx_arena_stats(ctx);
    printf("\nall layers: %.2f ms fwd+bwd, %.1f GFLOP/s; plain sgemm %.2f ms, %.1f GFLOP/s; ratio %.0f%%\n", sum_ms,
           gflops(sum_flops, sum_ms), sum_gemm_ms, gflops(sum_flops, sum_gemm_ms), 100.0 * sum_gemm_ms / sum_ms);
    printf("step arena: high water %.1f MiB, capacity %.1f MiB\n", st.high_water / 1048576.0,
           st.capacity / 1048576.0);
    lt_ctx_use(NULL);
    lt_ctx_free(ctx);
    return 0;
}

/* bench_ops: conv2d / conv_transpose2d forward and backward and linear on
 * the layer shapes of a network, on each convolution backend side by side,
 * or on one backend next to a plain OpenBLAS sgemm of the same M, N, K.
 *
 *   bench_ops [--net resnet18-64|resnet18-224|unet] [--backends im2col,onednn]
 *             [--rounds R] [--threads N] [--reps R] [--warmup W] [--layer I] [--cpu]
 *   bench_ops --sgemm [--backends NAME] ...
 *
 * Nets (batch, input): resnet18-64 (32, 64x64), resnet18-224 (8, 224x224),
 * unet (8, 128x128; the U-Net of shared/bench/torch_train_bench.py). The
 * backend is chosen once per process (LTRAIN_CONV_BACKEND), so every backend
 * runs in its own child process, forked before any OpenMP work; --rounds R
 * alternates the backends R times and reports the median per figure. "net
 * ms" weighs every row by how often the layer occurs in the network (the
 * stem's data gradient is counted although training never needs it).
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
#include "timing.h"
#include <ltrain/ltrain.h>

#include <cblas.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

typedef struct layer {
    const char *name;
    int c_in, c_out, k, stride, pad, size; /* size: input H = W; k == 0: linear */
    int count;                             /* occurrences in the network */
    bool transposed;                       /* conv_transpose2d (weight [c_in, c_out, k, k]) */
} layer;

typedef struct net {
    const char *name;
    int batch;
    const layer *layers;
    int n_layers;
} net;

static const layer RESNET18_64[] = {
    {"stem 7x7 s2 3->64", 3, 64, 7, 2, 3, 64, 1, false},
    {"layer1 3x3 64->64", 64, 64, 3, 1, 1, 16, 4, false},
    {"layer2 3x3 s2 64->128", 64, 128, 3, 2, 1, 16, 1, false},
    {"layer2 1x1 s2 64->128", 64, 128, 1, 2, 0, 16, 1, false},
    {"layer2 3x3 128->128", 128, 128, 3, 1, 1, 8, 3, false},
    {"layer3 3x3 s2 128->256", 128, 256, 3, 2, 1, 8, 1, false},
    {"layer3 1x1 s2 128->256", 128, 256, 1, 2, 0, 8, 1, false},
    {"layer3 3x3 256->256", 256, 256, 3, 1, 1, 4, 3, false},
    {"layer4 3x3 s2 256->512", 256, 512, 3, 2, 1, 4, 1, false},
    {"layer4 1x1 s2 256->512", 256, 512, 1, 2, 0, 4, 1, false},
    {"layer4 3x3 512->512", 512, 512, 3, 1, 1, 2, 3, false},
    {"fc linear 512->10", 512, 10, 0, 0, 0, 1, 1, false},
};

static const layer RESNET18_224[] = {
    {"stem 7x7 s2 3->64", 3, 64, 7, 2, 3, 224, 1, false},
    {"layer1 3x3 64->64", 64, 64, 3, 1, 1, 56, 4, false},
    {"layer2 3x3 s2 64->128", 64, 128, 3, 2, 1, 56, 1, false},
    {"layer2 1x1 s2 64->128", 64, 128, 1, 2, 0, 56, 1, false},
    {"layer2 3x3 128->128", 128, 128, 3, 1, 1, 28, 3, false},
    {"layer3 3x3 s2 128->256", 128, 256, 3, 2, 1, 28, 1, false},
    {"layer3 1x1 s2 128->256", 128, 256, 1, 2, 0, 28, 1, false},
    {"layer3 3x3 256->256", 256, 256, 3, 1, 1, 14, 3, false},
    {"layer4 3x3 s2 256->512", 256, 512, 3, 2, 1, 14, 1, false},
    {"layer4 1x1 s2 256->512", 256, 512, 1, 2, 0, 14, 1, false},
    {"layer4 3x3 512->512", 512, 512, 3, 1, 1, 7, 3, false},
    {"fc linear 512->10", 512, 10, 0, 0, 0, 1, 1, false},
};

static const layer UNET[] = {
    {"e1 3x3 3->16", 3, 16, 3, 1, 1, 128, 1, false},
    {"e1 3x3 16->16", 16, 16, 3, 1, 1, 128, 1, false},
    {"e2 3x3 16->32", 16, 32, 3, 1, 1, 64, 1, false},
    {"e2 3x3 32->32", 32, 32, 3, 1, 1, 64, 1, false},
    {"e3 3x3 32->64", 32, 64, 3, 1, 1, 32, 1, false},
    {"e3 3x3 64->64", 64, 64, 3, 1, 1, 32, 1, false},
    {"e4 3x3 64->128", 64, 128, 3, 1, 1, 16, 1, false},
    {"e4 3x3 128->128", 128, 128, 3, 1, 1, 16, 1, false},
    {"up3 T2x2 s2 128->64", 128, 64, 2, 2, 0, 16, 1, true},
    {"d3 3x3 128->64", 128, 64, 3, 1, 1, 32, 1, false},
    {"d3 3x3 64->64", 64, 64, 3, 1, 1, 32, 1, false},
    {"up2 T2x2 s2 64->32", 64, 32, 2, 2, 0, 32, 1, true},
    {"d2 3x3 64->32", 64, 32, 3, 1, 1, 64, 1, false},
    {"d2 3x3 32->32", 32, 32, 3, 1, 1, 64, 1, false},
    {"up1 T2x2 s2 32->16", 32, 16, 2, 2, 0, 64, 1, true},
    {"d1 3x3 32->16", 32, 16, 3, 1, 1, 128, 1, false},
    {"d1 3x3 16->16", 16, 16, 3, 1, 1, 128, 1, false},
    {"out 1x1 16->3", 16, 3, 1, 1, 0, 128, 1, false},
};

#define NET(name, batch, layers) {name, batch, layers, (int)(sizeof layers / sizeof layers[0])}
static const net NETS[] = {
    NET("resnet18-64", 32, RESNET18_64),
    NET("resnet18-224", 8, RESNET18_224),
    NET("unet", 8, UNET),
};

static int BATCH = 32;

enum { FWD, BWD_DATA, BWD_WEIGHT, N_PASSES };

static int reps = 15, warmup = 3;

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
    if (c->l->transposed) {
        lt_conv_transpose2d_params p = {{c->l->stride, c->l->stride}, {c->l->pad, c->l->pad}, {0, 0}, {1, 1}, 1};
        return lt_conv_transpose2d(c->x, c->w, NULL, &p);
    }
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
        double t0 = (bench_now_us() * 1e-3);
        lt_tensor *y = run_op(c);
        if (!y) die("forward");
        if (pass != FWD) { /* time the backward alone */
            t0 = (bench_now_us() * 1e-3);
            if (lt_backward_with_grad(y, c->gy)) die("backward");
        }
        if (r >= 0) t[r] = (bench_now_us() * 1e-3) - t0;
    }
    lt_set_grad_enabled(true);
    double m = bench_median(t, reps);
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
        double t0 = (bench_now_us() * 1e-3);
        cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans, m, n, k, 1.0f, a,
                    ta ? m : k, b, tb ? k : n, 0.0f, c, n);
        double t1 = (bench_now_us() * 1e-3);
        if (r >= 0) t[r] = t1 - t0;
    }
    double med = bench_median(t, reps);
    free(t);
    free(a);
    free(b);
    free(c);
    return med;
}

static double gflops(double flops, double ms) { return ms > 0 ? flops / (ms * 1e6) : 0.0; }


/* ---- one layer ---- */

typedef struct layer_dims {
    int64_t m, n, k; /* GEMM view (flops = 2*m*n*k per pass) */
    char shapes[64];
} layer_dims;

/* Median ms of the three passes of layer l on the process's conv backend. */
static void measure_layer(lt_ctx *ctx, const layer *l, double *ms, layer_dims *d)
{
    op_case c = {.l = l};
    if (l->k == 0) {
        const int64_t xs[2] = {BATCH, l->c_in}, ws[2] = {l->c_out, l->c_in}, ys[2] = {BATCH, l->c_out};
        c.x = lt_tensor_new(LT_F32, 2, xs);
        c.w = lt_tensor_new(LT_F32, 2, ws);
        c.gy = lt_tensor_new(LT_F32, 2, ys);
        d->m = BATCH, d->n = l->c_out, d->k = l->c_in; /* forward: x * W^T */
        snprintf(d->shapes, sizeof d->shapes, "[%d,%d]->[%d,%d]", BATCH, l->c_in, BATCH, l->c_out);
    } else {
        const int out = l->transposed ? (l->size - 1) * l->stride - 2 * l->pad + l->k
                                      : (l->size + 2 * l->pad - l->k) / l->stride + 1;
        const int64_t xs[4] = {BATCH, l->c_in, l->size, l->size}, ys[4] = {BATCH, l->c_out, out, out};
        const int64_t ws[4] = {l->transposed ? l->c_in : l->c_out, l->transposed ? l->c_out : l->c_in, l->k, l->k};
        c.x = lt_tensor_new(LT_F32, 4, xs);
        c.w = lt_tensor_new(LT_F32, 4, ws);
        c.gy = lt_tensor_new(LT_F32, 4, ys);
        /* a transposed conv is the data gradient of the conv y -> x: count its flops that way */
        const int64_t pixels = (int64_t)BATCH * (l->transposed ? l->size : out) * (l->transposed ? l->size : out);
        d->m = l->transposed ? l->c_in : l->c_out, d->n = pixels;
        d->k = (int64_t)(l->transposed ? l->c_out : l->c_in) * l->k * l->k;
        snprintf(d->shapes, sizeof d->shapes, "%dx%d@%d->%d@%d", l->c_in, l->k, l->size, l->c_out, out);
    }
    if (!c.x || !c.w || !c.gy) die("alloc");
    fill(c.x, 1);
    fill(c.w, 2);
    fill(c.gy, 3);
    for (int p = 0; p < N_PASSES; p++) ms[p] = time_pass(ctx, &c, p);
    lt_tensor_free(c.x);
    lt_tensor_free(c.w);
    lt_tensor_free(c.gy);
}

static void print_arena(lt_ctx *ctx)
{
    lt_ctx_reset(ctx);
    lt_arena_stats st = lt_ctx_arena_stats(ctx);
    printf("step arena: high water %.1f MiB, capacity %.1f MiB\n", st.high_water / 1048576.0,
           st.capacity / 1048576.0);
}

/* ---- one backend next to plain sgemm (--sgemm) ---- */

static void run_sgemm_table(const net *nt, int only)
{
    printf("GFLOP/s: conv (ltrain) | sgemm (plain OpenBLAS, same M,N,K); total = fwd+bwd-data+bwd-weight\n\n");
    printf("%-24s %-22s | %-23s | %-23s | %-23s | %-15s | %s\n", "layer", "x -> y", "forward ms  GF/s  sgemm",
           "bwd-data ms GF/s sgemm", "bwd-wgt ms GF/s  sgemm", "total GF/s sgemm", "ratio");
    lt_ctx *ctx = lt_ctx_new();
    lt_ctx_use(ctx);
    double sum_ms = 0, sum_gemm_ms = 0, sum_flops = 0;
    for (int li = 0; li < nt->n_layers; li++) {
        if (only >= 0 && only != li) continue;
        const layer *l = &nt->layers[li];
        double ms[N_PASSES], gemm_ms[N_PASSES];
        layer_dims d;
        measure_layer(ctx, l, ms, &d);
        const int m = (int)d.m, n = (int)d.n, k = (int)d.k;
        const double flops = 2.0 * (double)d.m * (double)d.n * (double)d.k;
        if (l->k == 0) { /* y = x W^T; dx = dy W; dW = dy^T x */
            gemm_ms[FWD] = time_sgemm(false, true, m, n, k);
            gemm_ms[BWD_DATA] = time_sgemm(false, false, m, k, n);
            gemm_ms[BWD_WEIGHT] = time_sgemm(true, false, n, k, m);
        } else { /* Y = W col; dcol = W^T dY; dW = dY col^T */
            gemm_ms[FWD] = time_sgemm(false, false, m, n, k);
            gemm_ms[BWD_DATA] = time_sgemm(true, false, k, n, m);
            gemm_ms[BWD_WEIGHT] = time_sgemm(false, true, m, k, n);
        }
        double tot = ms[0] + ms[1] + ms[2], gtot = gemm_ms[0] + gemm_ms[1] + gemm_ms[2];
        printf("%-24s %-22s |", l->name, d.shapes);
        for (int p = 0; p < N_PASSES; p++)
            printf(" %7.3f %6.1f %6.1f |", ms[p], gflops(flops, ms[p]), gflops(flops, gemm_ms[p]));
        printf(" %6.1f %6.1f   | %4.0f%%\n", gflops(3 * flops, tot), gflops(3 * flops, gtot), 100.0 * gtot / tot);
        sum_ms += tot;
        sum_gemm_ms += gtot;
        sum_flops += 3 * flops;
    }
    printf("\nall layers: %.2f ms fwd+bwd, %.1f GFLOP/s; plain sgemm %.2f ms, %.1f GFLOP/s; ratio %.0f%%\n", sum_ms,
           gflops(sum_flops, sum_ms), sum_gemm_ms, gflops(sum_flops, sum_gemm_ms), 100.0 * sum_gemm_ms / sum_ms);
    print_arena(ctx);
    lt_ctx_use(NULL);
    lt_ctx_free(ctx);
}

/* ---- backends side by side ---- */

enum { MAX_BACKENDS = 4, MAX_ROUNDS = 15 };

/* Child process: every layer on backend `name`, ms[layer][pass] to fd. */
static void run_child(const net *nt, int only, const char *name, int fd)
{
    setenv("LTRAIN_CONV_BACKEND", name, 1);
    lt_ctx *ctx = lt_ctx_new();
    lt_ctx_use(ctx);
    for (int li = 0; li < nt->n_layers; li++) {
        double ms[N_PASSES] = {0, 0, 0};
        layer_dims d;
        if (only < 0 || only == li) measure_layer(ctx, &nt->layers[li], ms, &d);
        if (write(fd, ms, sizeof ms) != (ssize_t)sizeof ms) die("pipe");
    }
    lt_ctx_use(NULL);
    lt_ctx_free(ctx);
}

/* ms[layer][pass] of one child run on backend `name`. */
static void run_forked(const net *nt, int only, const char *name, double *ms)
{
    int fds[2];
    if (pipe(fds) != 0) die("pipe");
    fflush(stdout);
    const pid_t pid = fork();
    if (pid < 0) die("fork");
    if (pid == 0) {
        close(fds[0]);
        run_child(nt, only, name, fds[1]);
        _exit(0);
    }
    close(fds[1]);
    const size_t want = sizeof(double) * N_PASSES * (size_t)nt->n_layers;
    size_t got = 0;
    while (got < want) {
        const ssize_t r = read(fds[0], (char *)ms + got, want - got);
        if (r <= 0) break;
        got += (size_t)r;
    }
    close(fds[0]);
    int status = 0;
    waitpid(pid, &status, 0);
    if (got != want || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        fprintf(stderr, "bench_ops: the %s run failed\n", name);
        exit(1);
    }
}

static void run_compare(const net *nt, int only, char **names, int n_backends, int rounds)
{
    const int nl = nt->n_layers;
    /* runs[round][backend][layer][pass] */
    double *runs = malloc(sizeof(double) * (size_t)(rounds * n_backends * nl * N_PASSES));
    if (!runs) die("alloc");
    for (int r = 0; r < rounds; r++)
        for (int b = 0; b < n_backends; b++)
            run_forked(nt, only, names[b], runs + ((size_t)(r * n_backends + b) * nl) * N_PASSES);
    printf("ms per pass (median of %d alternating runs); GF/s of fwd+bwd-data+bwd-weight\n\n", rounds);
    printf("%-24s %-20s", "layer", "x -> y");
    for (int b = 0; b < n_backends; b++) printf(" | %-8s fwd  bwd-d  bwd-w  GF/s", names[b]);
    if (n_backends > 1) printf(" | %s/%s", names[0], names[1]);
    printf("\n");
    double net_ms[MAX_BACKENDS] = {0}, net_pass[MAX_BACKENDS][N_PASSES] = {{0}};
    for (int li = 0; li < nl; li++) {
        if (only >= 0 && only != li) continue;
        const layer *l = &nt->layers[li];
        layer_dims d;
        /* dims only: the shapes text and flops */
        const int out = l->k == 0 ? 1
                        : l->transposed ? (l->size - 1) * l->stride - 2 * l->pad + l->k
                                        : (l->size + 2 * l->pad - l->k) / l->stride + 1;
        snprintf(d.shapes, sizeof d.shapes, "%dx%d@%d->%d@%d", l->c_in, l->k, l->size, l->c_out, out);
        const int64_t pixels = l->k == 0 ? BATCH : (int64_t)BATCH * (l->transposed ? l->size : out) *
                                                        (l->transposed ? l->size : out);
        const double flops = 2.0 * (double)pixels * l->c_in * l->c_out * (l->k ? l->k * l->k : 1);
        printf("%-24s %-20s", l->name, d.shapes);
        double total[MAX_BACKENDS];
        for (int b = 0; b < n_backends; b++) {
            double med[N_PASSES], v[MAX_ROUNDS];
            for (int p = 0; p < N_PASSES; p++) {
                for (int r = 0; r < rounds; r++) v[r] = runs[((size_t)(r * n_backends + b) * nl + li) * N_PASSES + p];
                med[p] = bench_median(v, rounds);
                net_pass[b][p] += l->count * med[p];
            }
            total[b] = med[0] + med[1] + med[2];
            net_ms[b] += l->count * total[b];
            printf(" | %7.3f %6.3f %6.3f %5.0f", med[0], med[1], med[2], gflops(3 * flops, total[b]));
        }
        if (n_backends > 1) printf(" | %5.2fx", total[0] / total[1]);
        printf("\n");
    }
    printf("\nnet ms per step, each layer x its count in the network (fwd / bwd-data / bwd-weight = total):\n");
    for (int b = 0; b < n_backends; b++)
        printf("  %-8s %8.2f / %8.2f / %8.2f = %8.2f\n", names[b], net_pass[b][0], net_pass[b][1], net_pass[b][2],
               net_ms[b]);
    free(runs);
}

int main(int argc, char **argv)
{
    lt_blas_tune(argv); /* OpenBLAS's best kernels on CPUs it does not recognise (re-executes once) */
    int threads = 0, only = -1, rounds = 3;
    bool sgemm = false;
    const char *net_name = "resnet18-64";
    char backends_arg[128] = "im2col,onednn";
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--threads") && i + 1 < argc)
            threads = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--reps") && i + 1 < argc)
            reps = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--warmup") && i + 1 < argc)
            warmup = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--layer") && i + 1 < argc)
            only = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--rounds") && i + 1 < argc)
            rounds = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--net") && i + 1 < argc)
            net_name = argv[++i];
        else if (!strcmp(argv[i], "--backends") && i + 1 < argc)
            snprintf(backends_arg, sizeof backends_arg, "%s", argv[++i]);
        else if (!strcmp(argv[i], "--sgemm"))
            sgemm = true;
        else if (!strcmp(argv[i], "--cpu"))
            bench_clock = CLOCK_PROCESS_CPUTIME_ID;
        else {
            fprintf(stderr,
                    "usage: %s [--net resnet18-64|resnet18-224|unet] [--backends im2col,onednn] [--rounds R]\n"
                    "       [--sgemm] [--threads N] [--reps R] [--warmup W] [--layer I (0-based, one row)] [--cpu]\n",
                    argv[0]);
            return 2;
        }
    }
    const net *nt = NULL;
    for (size_t i = 0; i < sizeof NETS / sizeof NETS[0]; i++)
        if (!strcmp(NETS[i].name, net_name)) nt = &NETS[i];
    if (!nt) {
        fprintf(stderr, "bench_ops: --net %s: expected resnet18-64, resnet18-224 or unet\n", net_name);
        return 2;
    }
    BATCH = nt->batch;
    char *names[MAX_BACKENDS];
    int n_backends = 0;
    for (char *save = NULL, *t = strtok_r(backends_arg, ",", &save); t && n_backends < MAX_BACKENDS;
         t = strtok_r(NULL, ",", &save))
        names[n_backends++] = t;
    if (n_backends == 0) {
        fprintf(stderr, "bench_ops: --backends: expected a comma-separated list such as im2col,onednn\n");
        return 2;
    }
    if (reps < 1) reps = 1;
    if (warmup < 0) warmup = 0;
    if (rounds < 1) rounds = 1;
    if (rounds > MAX_ROUNDS) rounds = MAX_ROUNDS;
    lt_set_num_threads(threads);
    printf("bench_ops: %s layers, batch %d; %d threads; median of %d reps after %d warm-up%s\n", nt->name, BATCH,
           lt_get_num_threads(), reps, warmup, bench_clock == CLOCK_MONOTONIC ? "" : "; CPU time");
    printf("OpenBLAS kernels: %s\n", lt_blas_kernels());
    if (sgemm) {
        setenv("LTRAIN_CONV_BACKEND", names[0], 1);
        printf("conv backend: %s\n", names[0]);
        run_sgemm_table(nt, only);
    } else {
        run_compare(nt, only, names, n_backends, rounds);
    }
    return 0;
}

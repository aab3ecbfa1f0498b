/* `ltrain benchmark`: times training (or inference) steps of a config's
 * model on one synthetic batch, with the time split by op kind
 * (include/ltrain/profile.h) and the model's forward FLOPs. */
#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include <ltrain/ltrain.h>
#include <ltrain/plugin.h>

#include "cli.h"
#include "trainer.h"

typedef struct bench_args {
    const char *config, *weights, *steps, *warmup, *batch, *threads, *mode;
    bool json;
    lt_cli_common common;
} bench_args;

/* The parsed numbers of the command line. */
typedef struct bench_opts {
    int64_t steps, warmup, batch; /* batch 0: trainer.batch_size */
    int threads;                  /* 0: all cores (or OMP_NUM_THREADS) */
    bool infer;
} bench_opts;

/* A positive (or, with allow_zero, non-negative) integer option. */
static int parse_count(const char *name, const char *s, bool allow_zero, int64_t *out)
{
    if (!s) return 0;
    char *end;
    errno = 0;
    const long long v = strtoll(s, &end, 10);
    if (errno || end == s || *end || v < (allow_zero ? 0 : 1) || v > 1000000000LL) {
        char fmt[96];
        snprintf(fmt, sizeof fmt, "%s must be a %s integer, not '%%s'", name, allow_zero ? "non-negative" : "positive");
        return lt_cli_usage_error("benchmark", fmt, s);
    }
    *out = v;
    return 0;
}

/* -1: help printed; LT_EXIT_USAGE on a bad command line; 0 otherwise. */
static int parse_args(int argc, char **argv, bench_args *a, bench_opts *o)
{
    const lt_cli_option opts[] = {
        {"--config", "-c", &a->config, NULL},
        {"--weights", NULL, &a->weights, NULL},
        {"--steps", NULL, &a->steps, NULL},
        {"--warmup", NULL, &a->warmup, NULL},
        {"--batch", NULL, &a->batch, NULL},
        {"--threads", NULL, &a->threads, NULL},
        {"--mode", NULL, &a->mode, NULL},
        {"--json", NULL, NULL, &a->json},
        {0},
    };
    int rc = lt_cli_parse("benchmark", argc, argv, opts, &a->common, lt_cmd_benchmark_usage);
    if (rc) return rc;
    if (!a->config) return lt_cli_usage_error("benchmark", "%s", "--config FILE is required");
    *o = (bench_opts){.steps = 20, .warmup = 3};
    int64_t threads = 0;
    if ((rc = parse_count("--steps", a->steps, false, &o->steps)) || (rc = parse_count("--warmup", a->warmup, true, &o->warmup)) ||
        (rc = parse_count("--batch", a->batch, false, &o->batch)) || (rc = parse_count("--threads", a->threads, false, &threads)))
        return rc;
    if (threads > 4096) return lt_cli_usage_error("benchmark", "--threads must be at most 4096, not '%s'", a->threads);
    o->threads = (int)threads;
    if (a->mode && strcmp(a->mode, "train") && strcmp(a->mode, "infer"))
        return lt_cli_usage_error("benchmark", "--mode must be train or infer, not '%s'", a->mode);
    o->infer = a->mode && !strcmp(a->mode, "infer");
    return 0;
}

/* ------------------------------------------------------- synthetic batch */

/* One synthetic label a loss reads, made once and attached every step. */
typedef struct synth_label {
    const char *name; /* borrowed from the registry */
    lt_tensor *value; /* owned */
} synth_label;

enum { MAX_LABELS = 16 };

typedef struct synth_batch {
    lt_tensor *images; /* owned [B,C,H,W], N(0,1) */
    int n_labels;
    synth_label labels[MAX_LABELS];
} synth_batch;

static void synth_free(synth_batch *b)
{
    lt_tensor_free(b->images);
    for (int i = 0; i < b->n_labels; i++) lt_tensor_free(b->labels[i].value);
}

/* One-hot [B, n, (H, W)]: a random class per image, or per pixel. */
static lt_tensor *one_hot_labels(lt_rng *rng, int64_t batch, int n_classes, int64_t pixels, int ndim,
                                 const int64_t *shape)
{
    lt_tensor *t = lt_tensor_new(LT_F32, ndim, shape);
    if (!t) return NULL;
    float *d = lt_f32(t);
    for (int64_t b = 0; b < batch; b++)
        for (int64_t p = 0; p < pixels; p++)
            d[(b * n_classes + (int64_t)lt_rng_below(rng, (uint64_t)n_classes)) * pixels + p] = 1.0f;
    return t;
}

static bool has_label(const synth_batch *b, const char *name)
{
    for (int i = 0; i < b->n_labels; i++)
        if (!strcmp(b->labels[i].name, name)) return true;
    return false;
}

/* A label of every task whose head has a loss. */
static int make_labels(lt_trainer *t, lt_rng *rng, int64_t batch, synth_batch *out)
{
    lt_model *m = lt_trainer_model(t);
    const lt_preprocess *pp = lt_trainer_preprocess(t);
    const int n_classes = lt_trainer_n_classes(t);
    for (int i = 0; i < lt_model_n_nodes(m); i++) {
        const lt_task_info *task = lt_model_node_task(m, i);
        if (!task || lt_model_n_attached(m, i, LT_DESC_LOSS) == 0) continue;
        for (int k = 0; k < task->n_labels; k++) {
            const lt_label_spec *spec = &task->labels[k];
            if (has_label(out, spec->name)) continue;
            lt_tensor *v = NULL;
            if (!spec->metadata_types && !strcmp(spec->name, "classification"))
                v = one_hot_labels(rng, batch, n_classes, 1, 2, (const int64_t[]){batch, n_classes});
            else if (!spec->metadata_types && !strcmp(spec->name, "segmentation"))
                v = one_hot_labels(rng, batch, n_classes, (int64_t)pp->height * pp->width, 4,
                                   (const int64_t[]){batch, n_classes, pp->height, pp->width});
            else
                return lt_set_error("benchmark: no synthetic labels for task %s (label '%s' of node %s)", task->name,
                                    spec->name, lt_model_node_identifier(m, i));
            if (!v) return -1;
            if (out->n_labels == MAX_LABELS) {
                lt_tensor_free(v);
                return lt_set_error("benchmark: more than %d labels", MAX_LABELS);
            }
            out->labels[out->n_labels++] = (synth_label){spec->name, v};
        }
    }
    return 0;
}

/* x ~ N(0,1) of [B, C, H, W] and the labels, seeded by trainer.seed. */
static int synth_new(lt_trainer *t, uint64_t seed, int64_t batch, bool with_labels, synth_batch *out)
{
    const lt_preprocess *pp = lt_trainer_preprocess(t);
    lt_rng rng;
    lt_rng_seed(&rng, seed);
    out->images = lt_tensor_new(LT_F32, 4, (const int64_t[]){batch, lt_preprocess_channels(pp), pp->height, pp->width});
    if (!out->images) return -1;
    float *x = lt_f32(out->images);
    for (int64_t i = 0; i < out->images->numel; i++) x[i] = lt_rng_normal(&rng);
    return with_labels ? make_labels(t, &rng, batch, out) : 0;
}

/* The step's labels object (step memory) over the batch's label tensors. */
static const lt_labels *step_labels(const synth_batch *b)
{
    lt_profile_scope scope = lt_profile_begin(LT_PROFILE_DATA);
    lt_labels *l = lt_labels_new();
    for (int i = 0; l && i < b->n_labels; i++)
        if (lt_labels_set(l, b->labels[i].name, lt_value_tensor(b->labels[i].value))) l = NULL;
    lt_profile_end(scope);
    return l;
}

/* ----------------------------------------------------------------- steps */

static int one_step(lt_trainer *t, const synth_batch *b, bool infer, int64_t index)
{
    if (infer) return lt_model_forward(lt_trainer_model(t), b->images, LT_MODE_EVAL);
    const lt_labels *labels = step_labels(b);
    double loss;
    if (!labels || lt_trainer_forward_backward(t, b->images, labels, 1, index, &loss)) return -1;
    return lt_trainer_optimizer_step(t);
}

/* What the timed steps measured. */
typedef struct bench_result {
    double *ms;               /* per timed step */
    double median, min, max, mean;
    lt_profile_stats prof;    /* summed over the timed steps */
    lt_arena_stats arena;
    size_t arena_grows;       /* new arena blocks during the timed steps */
} bench_result;

static int cmp_double(const void *a, const void *b)
{
    const double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Warm-up, then the timed steps (profiled), in the trainer's context. */
static int run_steps(lt_trainer *t, const synth_batch *b, const bench_opts *o, bench_result *r)
{
    lt_ctx *ctx = lt_trainer_ctx(t);
    lt_ctx *prev = lt_ctx_use(ctx);
    const bool grad = lt_set_grad_enabled(!o->infer);
    int rc = 0;
    if (!o->infer) lt_optimizer_zero_grad(lt_trainer_optimizer(t)); /* then each step's ends with one */
    size_t grows = 0;
    for (int64_t i = 0; rc == 0 && i < o->warmup + o->steps; i++) {
        const bool timed = i >= o->warmup;
        if (i == o->warmup) {
            grows = lt_ctx_arena_stats(ctx).n_grows;
            lt_profile_reset();
            lt_profile_enable(true);
        }
        const double start = lt_profile_seconds();
        rc = one_step(t, b, o->infer, i);
        lt_ctx_reset(ctx);
        if (timed) r->ms[i - o->warmup] = 1e3 * (lt_profile_seconds() - start);
    }
    lt_profile_enable(false);
    lt_profile_read(&r->prof);
    r->arena = lt_ctx_arena_stats(ctx);
    r->arena_grows = r->arena.n_grows - grows;
    lt_set_grad_enabled(grad);
    lt_ctx_use(prev);
    return rc ? -1 : 0;
}

/* Mean, median, min and max of the n step times. */
static int step_statistics(bench_result *r, int64_t steps)
{
    const size_t n = (size_t)steps;
    double *sorted = malloc(n * sizeof *sorted);
    if (!sorted) return lt_set_error("benchmark: out of memory");
    memcpy(sorted, r->ms, n * sizeof *sorted);
    qsort(sorted, n, sizeof *sorted, cmp_double);
    double sum = 0.0;
    for (size_t i = 0; i < n; i++) sum += sorted[i];
    r->mean = sum / (double)n;
    r->median = n % 2 ? sorted[n / 2] : 0.5 * (sorted[n / 2 - 1] + sorted[n / 2]);
    r->min = sorted[0];
    r->max = sorted[n - 1];
    free(sorted);
    return 0;
}

/* ---------------------------------------------------------------- report */

/* Everything printed, derived once for both formats. */
typedef struct bench_report {
    const char *workload, *mode, *backend, *blas;
    int threads;
    int64_t batch, steps, warmup, input[3];
    double fwd_flop_per_img, gflop_per_step, gflops, img_per_s, peak_rss_mb;
    double load_avg; /* 1-minute system load after the steps (other work skews timings) */
    double split_ms[LT_PROFILE_KIND_COUNT];
} bench_report;

static double load_avg_1min(void)
{
    double load;
    return getloadavg(&load, 1) == 1 ? load : -1.0;
}

static double peak_rss_mb(void)
{
    struct rusage ru;
    return getrusage(RUSAGE_SELF, &ru) == 0 ? (double)ru.ru_maxrss / 1024.0 : 0.0;
}

/* Per-step ms by kind; "other" is what no other kind claims of the mean step. */
static void split_by_kind(const bench_result *r, int64_t steps, double *split_ms)
{
    double named = 0.0;
    for (int k = 0; k < LT_PROFILE_KIND_COUNT; k++) {
        split_ms[k] = 1e3 * r->prof.seconds[k] / (double)steps;
        if (k != LT_PROFILE_OTHER) named += split_ms[k];
    }
    split_ms[LT_PROFILE_OTHER] = fmax(0.0, r->mean - named);
}

static void print_text(const bench_report *p, const bench_result *r)
{
    printf("ltrain benchmark: %s, %s, batch %lld, input %lldx%lldx%lld\n", p->workload, p->mode, (long long)p->batch,
           (long long)p->input[0], (long long)p->input[1], (long long)p->input[2]);
    printf("backend: conv %s, BLAS %s, %d thread%s; %lld step%s timed after %lld warm-up\n", p->backend, p->blas,
           p->threads, p->threads == 1 ? "" : "s", (long long)p->steps, p->steps == 1 ? "" : "s", (long long)p->warmup);
    printf("\n");
    printf("ms/step     median %.3f  min %.3f  max %.3f\n", r->median, r->min, r->max);
    printf("images/s    %.1f\n", p->img_per_s);
    printf("GFLOP/s     %.1f  (%.4f GFLOP/image forward, %.3f GFLOP/step)\n", p->gflops, p->fwd_flop_per_img / 1e9,
           p->gflop_per_step);
    printf("peak RSS    %.1f MiB  (step arena %.1f MiB; new arena blocks while timed: %zu)\n", p->peak_rss_mb,
           (double)r->arena.capacity / (1024.0 * 1024.0), r->arena_grows);
    printf("load        %.2f  (1-minute system load average; above the thread count, timings are skewed)\n",
           p->load_avg);
    printf("\ntime per step by op kind (mean of the timed steps, %.3f ms):\n", r->mean);
    printf("  %-12s %10s %7s %8s\n", "kind", "ms", "%", "calls");
    for (int k = 0; k < LT_PROFILE_KIND_COUNT; k++)
        printf("  %-12s %10.3f %6.1f%% %8.1f\n", lt_profile_kind_name((lt_profile_kind)k), p->split_ms[k],
               r->mean > 0 ? 100.0 * p->split_ms[k] / r->mean : 0.0,
               (double)r->prof.calls[k] / (double)p->steps);
}

static int print_json(const bench_report *p, const bench_result *r)
{
    json_t *split = json_object();
    for (int k = 0; k < LT_PROFILE_KIND_COUNT; k++)
        json_object_set_new(split, lt_profile_kind_name((lt_profile_kind)k), json_real(p->split_ms[k]));
    json_t *o = json_pack("{s:s, s:s, s:s, s:s, s:i, s:I, s:[I,I,I], s:I, s:I, s:f, s:f, s:f, s:f, s:f, s:I, s:f, "
                          "s:f, s:f, s:o, s:f, s:I, s:f}",
                          "workload", p->workload, "mode", p->mode, "backend", p->backend, "blas", p->blas,
                          "threads", p->threads, "batch", (json_int_t)p->batch, "input", (json_int_t)p->input[0],
                          (json_int_t)p->input[1], (json_int_t)p->input[2], "steps", (json_int_t)p->steps, "warmup",
                          (json_int_t)p->warmup, "ms_median", r->median, "ms_min", r->min, "ms_max", r->max,
                          "img_per_s", p->img_per_s, "fwd_gflop_per_img", p->fwd_flop_per_img / 1e9,
                          "fwd_flop_per_img", (json_int_t)llround(p->fwd_flop_per_img), "gflop_per_step",
                          p->gflop_per_step, "gflops", p->gflops, "peak_rss_mb", p->peak_rss_mb, "split_ms", split,
                          "arena_mb", (double)r->arena.capacity / (1024.0 * 1024.0), "arena_grows_timed",
                          (json_int_t)r->arena_grows, "load_avg", p->load_avg);
    char *s = o ? json_dumps(o, JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(10)) : NULL;
    json_decref(o);
    if (!s) return lt_set_error("benchmark: out of memory");
    puts(s);
    free(s);
    return 0;
}

static int report(lt_trainer *t, const lt_config *cfg, const bench_opts *o, const bench_result *r, bool json)
{
    const lt_preprocess *pp = lt_trainer_preprocess(t);
    bench_report p = {
        .workload = cfg->model.name ? cfg->model.name : "model",
        .mode = o->infer ? "infer" : "train",
        .backend = lt_conv_backend_name(),
        .blas = lt_blas_kernels(),
        .threads = lt_get_num_threads(),
        .batch = o->batch,
        .steps = o->steps,
        .warmup = o->warmup,
        .input = {lt_preprocess_channels(pp), pp->height, pp->width},
        .fwd_flop_per_img = r->prof.fwd_flops / (double)o->steps / (double)o->batch,
        .peak_rss_mb = peak_rss_mb(),
        .load_avg = load_avg_1min(),
    };
    p.gflop_per_step = p.fwd_flop_per_img * (double)o->batch * (o->infer ? 1.0 : 3.0) / 1e9;
    p.gflops = r->median > 0 ? p.gflop_per_step / (r->median / 1e3) : 0.0;
    p.img_per_s = r->median > 0 ? (double)o->batch / (r->median / 1e3) : 0.0;
    split_by_kind(r, o->steps, p.split_ms);
    if (json) return print_json(&p, r);
    print_text(&p, r);
    return 0;
}

/* ------------------------------------------------------------------ main */

/* The command line's overrides plus trainer.batch_size from --batch. */
static const char **with_batch(const bench_args *a, int *n)
{
    const char **all = calloc((size_t)a->common.n_overrides + 2, sizeof *all);
    if (!all) return NULL;
    memcpy(all, a->common.overrides, (size_t)a->common.n_overrides * sizeof *all);
    *n = a->common.n_overrides;
    if (a->batch) {
        all[(*n)++] = "trainer.batch_size";
        all[(*n)++] = a->batch;
    }
    return all;
}

static int benchmark(const bench_args *a, bench_opts *o)
{
    if (o->threads > 0) lt_set_num_threads(o->threads); /* before anything sizes its thread pools */
    int n_overrides = 0;
    const char **overrides = with_batch(a, &n_overrides);
    if (!overrides) return lt_set_error("benchmark: out of memory");
    lt_config *cfg = lt_config_load(a->config, overrides, n_overrides);
    free(overrides);
    if (!cfg) return -1;
    lt_cli_print_config_warnings(cfg, stderr);
    o->batch = cfg->trainer.batch_size;
    int rc = -1;
    lt_cli_plugins plugins;
    lt_trainer *t = NULL;
    synth_batch batch = {0};
    bench_result r = {0};
    if (lt_cli_load_plugins(&plugins, a->common.plugin_paths, a->common.n_plugin_paths, NULL, 0) == 0) {
        lt_cli_print_load_problems(&plugins, stderr);
        const lt_trainer_options to = {.registry = plugins.registry, .weights = a->weights, .no_run_dir = true};
        t = lt_trainer_new(cfg, &to);
        const uint64_t seed = cfg->trainer.has_seed ? (uint64_t)cfg->trainer.seed : 0;
        if (t && synth_new(t, seed, o->batch, !o->infer, &batch) == 0) {
            if (!(r.ms = calloc((size_t)o->steps, sizeof *r.ms)))
                lt_set_error("benchmark: out of memory");
            else if (run_steps(t, &batch, o, &r) == 0 && step_statistics(&r, o->steps) == 0)
                rc = report(t, cfg, o, &r, a->json);
        }
    }
    free(r.ms);
    synth_free(&batch);
    lt_trainer_free(t);
    lt_cli_plugins_free(&plugins);
    lt_config_free(cfg);
    return rc;
}

int lt_cmd_benchmark(int argc, char **argv)
{
    bench_args a = {0};
    bench_opts o = {0};
    int rc = parse_args(argc, argv, &a, &o);
    if (rc == 0) {
        rc = benchmark(&a, &o) ? LT_EXIT_FAILURE : LT_EXIT_OK;
        if (rc) fprintf(stderr, "ltrain benchmark: %s\n", lt_last_error());
    } else if (rc < 0) {
        rc = LT_EXIT_OK;
    }
    free(a.common.overrides);
    return rc;
}

void lt_cmd_benchmark_usage(FILE *out)
{
    fprintf(out,
            "Usage: ltrain benchmark --config FILE [--steps N] [--warmup N] [--batch B] [--threads T]\n"
            "                        [--mode train|infer] [--json] [--weights CKPT]\n"
            "                        [--plugin-path DIR]... [KEY VALUE]...\n"
            "\n"
            "Times the config's model on one synthetic batch (x ~ N(0,1) of\n"
            "trainer.preprocessing.train_image_size, random labels for its heads' tasks,\n"
            "seeded by trainer.seed), built exactly as `ltrain train` builds it. A train\n"
            "step is forward, weighted loss, backward and optimizer (+ per-batch scheduler)\n"
            "step; an infer step is an eval-mode forward without gradients. Prints the\n"
            "median/min/max ms per step, images/s, GFLOP/s (2 x multiply-adds of every\n"
            "conv/linear forward; a train step counts 3 x forward), peak RSS and the time\n"
            "per step by op kind. Creates no run directory.\n"
            "\n"
            "Options:\n"
            "  -c, --config FILE     the config (YAML)\n"
            "  --steps N             timed steps (default 20)\n"
            "  --warmup N            untimed steps first (default 3)\n"
            "  --batch B             batch size (default trainer.batch_size)\n"
            "  --threads T           OpenMP and OpenBLAS threads (default: all cores,\n"
            "                        or OMP_NUM_THREADS)\n"
            "  --mode MODE           train (default) or infer\n"
            "  --json                print one JSON object (keys: workload, mode, backend,\n"
            "                        threads, batch, input, steps, ms_median, ms_min,\n"
            "                        ms_max, img_per_s, fwd_gflop_per_img, gflop_per_step,\n"
            "                        gflops, peak_rss_mb, split_ms{conv, gemm, batch_norm,\n"
            "                        elementwise, pooling, loss, optimizer, data, other}, ...)\n"
            "  --weights CKPT        start from these weights (.safetensors)\n"
            "  --plugin-path DIR     also load plugins from DIR (repeatable)\n"
            "  KEY VALUE             config overrides, e.g. trainer.optimizer.name SGD\n"
            "  -h, --help            this help\n");
}

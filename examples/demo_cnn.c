/* demo_cnn: fits a small CNN on generated images of coloured shapes with the
 * ltrain SDK and prints the loss falling and the held-out accuracy. This is
 * `make demo` until the config-driven trainer exists.
 *
 * Usage: demo_cnn [--epochs N] [--threads T] [--seed S] */
#include <ltrain/ltrain.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { IMG = 32, CHANNELS = 3, N_CLASSES = 4, N_TRAIN = 2048, N_TEST = 512, BATCH = 32 };
static const char *const class_names[N_CLASSES] = {"circle", "square", "triangle", "cross"};

/* ---- generated data: one shape of a random colour on a textured background ---- */

static bool inside(int cls, float x, float y, float cx, float cy, float r)
{
    float dx = x - cx, dy = y - cy;
    switch (cls) {
    case 0: return dx * dx + dy * dy <= r * r;
    case 1: return fabsf(dx) <= r * 0.85f && fabsf(dy) <= r * 0.85f;
    case 2: return dy <= r * 0.8f && dy >= -r && fabsf(dx) <= (dy + r) * 0.6f;
    default: return (fabsf(dx) <= r * 0.3f && fabsf(dy) <= r) || (fabsf(dy) <= r * 0.3f && fabsf(dx) <= r);
    }
}

static void draw_sample(lt_rng *rng, float *img, int32_t *label)
{
    int cls = (int)lt_rng_below(rng, N_CLASSES);
    float bg[3], fg[3], fx = 0.2f + 0.6f * lt_rng_uniform(rng), fy = 0.2f + 0.6f * lt_rng_uniform(rng);
    for (int c = 0; c < 3; c++) { /* the shape always contrasts with its background */
        bg[c] = lt_rng_uniform(rng);
        fg[c] = fmodf(bg[c] + 0.3f + 0.4f * lt_rng_uniform(rng), 1.0f);
    }
    float r = 7.0f + 6.0f * lt_rng_uniform(rng);
    float cx = r + (IMG - 2 * r) * lt_rng_uniform(rng), cy = r + (IMG - 2 * r) * lt_rng_uniform(rng);
    for (int y = 0; y < IMG; y++)
        for (int x = 0; x < IMG; x++) {
            bool in = inside(cls, (float)x + 0.5f, (float)y + 0.5f, cx, cy, r);
            float texture = 0.15f * sinf((float)x * fx * 3.0f) * cosf((float)y * fy * 3.0f);
            for (int c = 0; c < 3; c++) {
                float v = in ? fg[c] : bg[c] + texture;
                img[(c * IMG + y) * IMG + x] = (v - 0.5f) / 0.25f + 0.05f * lt_rng_normal(rng);
            }
        }
    *label = cls;
}

typedef struct dataset {
    lt_tensor *images; /* [n, 3, IMG, IMG], owned */
    lt_tensor *labels; /* [n] int32, owned */
} dataset;

static int dataset_make(dataset *d, int n, uint64_t seed)
{
    lt_rng rng;
    lt_rng_seed(&rng, seed);
    d->images = lt_tensor_new(LT_F32, 4, (int64_t[]){n, CHANNELS, IMG, IMG});
    d->labels = lt_tensor_new(LT_I32, 1, (int64_t[]){n});
    if (!d->images || !d->labels) return -1;
    for (int i = 0; i < n; i++)
        draw_sample(&rng, lt_f32(d->images) + (size_t)i * CHANNELS * IMG * IMG, lt_i32(d->labels) + i);
    return 0;
}

static void dataset_free(dataset *d)
{
    lt_tensor_free(d->images);
    lt_tensor_free(d->labels);
}

/* Batch `b` as step tensors (views would do too; a copy keeps the order free). */
static void dataset_batch(const dataset *d, const int32_t *order, int start, int n, lt_tensor **x, lt_tensor **y)
{
    const size_t img = (size_t)CHANNELS * IMG * IMG;
    *x = lt_empty(LT_F32, 4, (int64_t[]){n, CHANNELS, IMG, IMG});
    *y = lt_empty(LT_I32, 1, (int64_t[]){n});
    for (int i = 0; i < n; i++) {
        int k = order ? order[start + i] : start + i;
        memcpy(lt_f32(*x) + i * img, lt_f32(d->images) + (size_t)k * img, img * sizeof(float));
        lt_i32(*y)[i] = lt_i32(d->labels)[k];
    }
}

/* ---- the model ---- */

typedef struct small_cnn {
    lt_conv2d_block conv[3];
    lt_batch_norm2d_block bn[3];
    lt_linear_block fc;
} small_cnn;

static int small_cnn_init(small_cnn *m, lt_params *p, lt_rng *rng)
{
    static const int widths[4] = {CHANNELS, 16, 32, 64};
    char name[32];
    for (int i = 0; i < 3; i++) {
        snprintf(name, sizeof name, "features.%d.conv", i);
        lt_conv2d_options o = {.kernel = {3, 3}, .padding = {1, 1}, .no_bias = true};
        if (lt_conv2d_block_init(&m->conv[i], p, name, widths[i], widths[i + 1], &o, rng)) return -1;
        snprintf(name, sizeof name, "features.%d.bn", i);
        if (lt_batch_norm2d_block_init(&m->bn[i], p, name, widths[i + 1])) return -1;
    }
    return lt_linear_block_init(&m->fc, p, "classifier", widths[3], N_CLASSES, true, rng);
}

static lt_tensor *small_cnn_forward(small_cnn *m, lt_tensor *x)
{
    const lt_pool2d_params pool = {.kernel = {2, 2}};
    for (int i = 0; i < 3; i++) {
        x = lt_relu(lt_batch_norm2d_block_forward(&m->bn[i], lt_conv2d_block_forward(&m->conv[i], x)));
        if (i < 2) x = lt_max_pool2d(x, &pool);
    }
    x = lt_flatten(lt_adaptive_avg_pool2d(x, 1, 1), 1, -1);
    return lt_linear_block_forward(&m->fc, x);
}

static double evaluate(small_cnn *m, const dataset *d, int n)
{
    bool was_training = lt_set_training(false), was_grad = lt_set_grad_enabled(false);
    int correct = 0;
    for (int start = 0; start < n; start += BATCH) {
        int b = n - start < BATCH ? n - start : BATCH;
        lt_tensor *x, *y;
        dataset_batch(d, NULL, start, b, &x, &y);
        lt_tensor *pred = lt_argmax(small_cnn_forward(m, x), 1, false);
        if (!pred) return -1;
        for (int i = 0; i < b; i++) correct += lt_i32(pred)[i] == lt_i32(y)[i];
        lt_ctx_reset(lt_ctx_current());
    }
    lt_set_training(was_training);
    lt_set_grad_enabled(was_grad);
    return (double)correct / n;
}

int main(int argc, char **argv)
{
    lt_blas_tune(argv);
    int epochs = 8, threads = 0;
    uint64_t seed = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--epochs") && i + 1 < argc) epochs = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--threads") && i + 1 < argc) threads = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--seed") && i + 1 < argc) seed = strtoull(argv[++i], NULL, 10);
        else {
            fprintf(stderr, "usage: %s [--epochs N] [--threads T] [--seed S]\n", argv[0]);
            return 2;
        }
    }
    lt_set_num_threads(threads);

    dataset train, test;
    if (dataset_make(&train, N_TRAIN, seed * 2 + 1) || dataset_make(&test, N_TEST, seed * 2 + 2)) {
        fprintf(stderr, "demo_cnn: %s\n", lt_last_error());
        return 1;
    }
    lt_ctx *ctx = lt_ctx_new();
    lt_ctx_use(ctx);
    lt_ctx_seed(ctx, seed);
    lt_params *params = lt_params_new();
    lt_rng rng;
    lt_rng_seed(&rng, seed);
    small_cnn model;
    if (small_cnn_init(&model, params, &rng) || lt_params_pack(params)) {
        fprintf(stderr, "demo_cnn: %s\n", lt_last_error());
        return 1;
    }
    lt_sgd *sgd = lt_sgd_new(params, &(lt_sgd_options){.lr = 0.02f, .momentum = 0.9f, .weight_decay = 5e-4f});
    printf("demo_cnn: %d training / %d held-out images of %s, %s, %s, %s (%dx%d); %lld parameters; %d threads, OpenBLAS %s\n",
           N_TRAIN, N_TEST, class_names[0], class_names[1], class_names[2], class_names[3], IMG, IMG,
           (long long)lt_params_numel(params, true), lt_get_num_threads(), lt_blas_kernels());

    int32_t order[N_TRAIN];
    for (int i = 0; i < N_TRAIN; i++) order[i] = i;
    int steps_per_epoch = N_TRAIN / BATCH, status = 0;
    double t0 = lt_profile_seconds();
    for (int epoch = 1; epoch <= epochs && !status; epoch++) {
        for (int i = N_TRAIN - 1; i > 0; i--) { /* shuffle */
            int j = (int)lt_rng_below(&rng, (uint64_t)i + 1), t = order[i];
            order[i] = order[j];
            order[j] = t;
        }
        double loss_sum = 0;
        for (int s = 0; s < steps_per_epoch; s++) {
            lt_tensor *x, *y;
            dataset_batch(&train, order, s * BATCH, BATCH, &x, &y);
            lt_tensor *loss = lt_cross_entropy(small_cnn_forward(&model, x), y, NULL);
            lt_params_zero_grad(params);
            if (!loss || lt_backward(loss) || lt_sgd_step(sgd)) {
                fprintf(stderr, "demo_cnn: %s\n", lt_last_error());
                status = 1;
                break;
            }
            loss_sum += lt_item(loss);
            lt_ctx_reset(ctx);
        }
        double acc = evaluate(&model, &test, N_TEST);
        lt_arena_stats st = lt_ctx_arena_stats(ctx);
        printf("epoch %d/%d  train loss %.4f  held-out accuracy %5.1f%%  (%.1f s, step memory %.1f MiB)\n", epoch,
               epochs, loss_sum / steps_per_epoch, 100.0 * acc, lt_profile_seconds() - t0, (double)st.capacity / (1 << 20));
        fflush(stdout);
    }
    lt_sgd_free(sgd);
    lt_params_free(params);
    lt_ctx_use(NULL);
    lt_ctx_free(ctx);
    dataset_free(&train);
    dataset_free(&test);
    return status;
}

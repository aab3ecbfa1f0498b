/* `ltrain infer`: a model's predictions drawn on image files by the
 * visualizers attached to its nodes. */
#include <dirent.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include <ltrain/autograd.h>

#include "cli.h"
#include "trainer.h"
#include "visualize.h"

typedef struct infer_args {
    const char *config, *weights, *source, *save_dir;
    lt_cli_common common;
} infer_args;

/* -1: help printed; LT_EXIT_USAGE on a bad command line; 0 otherwise. */
static int parse_args(int argc, char **argv, infer_args *a)
{
    const lt_cli_option opts[] = {
        {.name = "--config", .alias = "-c", .value = &a->config},
        {.name = "--weights", .value = &a->weights},
        {.name = "--source-path", .value = &a->source},
        {.name = "--save-dir", .value = &a->save_dir},
        {0},
    };
    int rc = lt_cli_parse("infer", argc, argv, opts, &a->common, lt_cmd_infer_usage);
    if (rc) return rc;
    if (!a->config) return lt_cli_usage_error("infer", "%s", "--config FILE is required");
    if (!a->source) return lt_cli_usage_error("infer", "%s", "--source-path IMAGE_OR_DIR is required");
    if (!a->save_dir) return lt_cli_usage_error("infer", "%s", "--save-dir DIR is required");
    return 0;
}

/* ------------------------------------------------------------- sources */

typedef struct path_list {
    int n;
    char **items;
} path_list;

static void path_list_free(path_list *l)
{
    for (int i = 0; i < l->n; i++) free(l->items[i]);
    free(l->items);
}

static int path_list_add(path_list *l, const char *dir, const char *name)
{
    char **grown = realloc(l->items, ((size_t)l->n + 1) * sizeof *grown);
    if (!grown) return lt_set_error("infer: out of memory");
    l->items = grown;
    const size_t size = strlen(dir) + strlen(name) + 2;
    if (!(l->items[l->n] = malloc(size))) return lt_set_error("infer: out of memory");
    snprintf(l->items[l->n++], size, "%s%s%s", dir, *dir ? "/" : "", name);
    return 0;
}

static bool is_image_name(const char *name)
{
    const char *dot = strrchr(name, '.');
    return dot && (!strcasecmp(dot, ".png") || !strcasecmp(dot, ".jpg") || !strcasecmp(dot, ".jpeg"));
}

static int by_name(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

/* The source file, or every image of the source folder in name order. */
static int list_sources(const char *source, path_list *out)
{
    struct stat st;
    if (stat(source, &st) != 0) return lt_set_error("%s: no such file or directory", source);
    if (!S_ISDIR(st.st_mode)) return path_list_add(out, "", source);
    DIR *d = opendir(source);
    if (!d) return lt_set_error("%s: cannot open the directory", source);
    int rc = 0;
    for (struct dirent *e; rc == 0 && (e = readdir(d));)
        if (e->d_name[0] != '.' && is_image_name(e->d_name)) rc = path_list_add(out, source, e->d_name);
    closedir(d);
    if (rc) return rc;
    if (out->n == 0) return lt_set_error("%s: no .png, .jpg or .jpeg images in this directory", source);
    qsort(out->items, (size_t)out->n, sizeof *out->items, by_name);
    return 0;
}

/* ---------------------------------------------------------------- run */

/* Decodes and preprocesses sources[*next...] into buf (up to `batch`
 * images of `per_image` floats), reporting and skipping unreadable files.
 * Returns the images read. */
static int64_t read_batch(const lt_preprocess *pp, const lt_config *cfg, const path_list *src, int *next, float *buf,
                          int64_t batch, int64_t per_image, int *n_bad)
{
    const uint64_t seed = cfg->trainer.has_seed ? (uint64_t)cfg->trainer.seed : 0;
    int64_t n = 0;
    while (n < batch && *next < src->n) {
        const int i = (*next)++;
        lt_sample s = {.cls = -1};
        lt_rng rng;
        lt_sample_rng(&rng, seed, 0, i);
        if (lt_image_load(src->items[i], &s.image) ||
            lt_preprocess_apply(pp, LT_STAGE_TEST, &rng, &s, buf + n * per_image)) {
            fprintf(stderr, "ltrain infer: skipping %s\n", lt_last_error());
            (*n_bad)++;
        } else {
            n++;
        }
        lt_sample_free(&s);
    }
    return n;
}

/* One batch: forward, visualizers, the written paths printed. */
static int infer_batch(lt_trainer *t, const float *buf, int64_t n, const char *save_dir, int index, int *written)
{
    const lt_preprocess *pp = lt_trainer_preprocess(t);
    lt_model *m = lt_trainer_model(t);
    const int64_t shape[4] = {n, lt_preprocess_channels(pp), pp->height, pp->width};
    lt_tensor *images = lt_tensor_new(LT_F32, 4, shape);
    if (!images) return -1;
    memcpy(lt_f32(images), buf, (size_t)images->numel * sizeof(float));
    lt_vis_paths out = {0};
    const int rc = lt_model_forward(m, images, LT_MODE_EVAL) ||
                   lt_visualize_batch(m, pp, images, NULL, save_dir, index, &out);
    for (int i = 0; i < out.n; i++) puts(out.paths[i]);
    *written += out.n;
    lt_vis_paths_free(&out);
    lt_ctx_reset(lt_trainer_ctx(t));
    lt_tensor_free(images);
    return rc ? -1 : 0;
}

static int infer_all(lt_trainer *t, const lt_config *cfg, const path_list *src, const char *save_dir, int *n_bad)
{
    const lt_preprocess *pp = lt_trainer_preprocess(t);
    const int64_t batch = cfg->trainer.batch_size > 0 ? cfg->trainer.batch_size : 1;
    const int64_t per_image = (int64_t)lt_preprocess_channels(pp) * pp->height * pp->width;
    float *buf = malloc((size_t)(batch * per_image) * sizeof *buf);
    if (!buf) return lt_set_error("infer: out of memory");
    int rc = lt_vis_mkdir_p(save_dir), next = 0, index = 0, written = 0;
    const bool grad = lt_set_grad_enabled(false);
    while (rc == 0 && next < src->n) {
        const int64_t n = read_batch(pp, cfg, src, &next, buf, batch, per_image, n_bad);
        if (n > 0) rc = infer_batch(t, buf, n, save_dir, index++, &written);
    }
    lt_set_grad_enabled(grad);
    free(buf);
    if (rc == 0 && written == 0 && *n_bad < src->n)
        fprintf(stderr, "ltrain infer: the model has no visualizers: nothing was drawn\n");
    return rc;
}

int lt_cmd_infer(int argc, char **argv)
{
    infer_args a = {0};
    int rc = parse_args(argc, argv, &a);
    if (rc) {
        free(a.common.overrides);
        return rc < 0 ? LT_EXIT_OK : rc;
    }
    lt_config *cfg = lt_config_load(a.config, a.common.overrides, a.common.n_overrides);
    free(a.common.overrides);
    if (!cfg) {
        fprintf(stderr, "ltrain infer: %s\n", lt_last_error());
        return LT_EXIT_FAILURE;
    }
    lt_cli_print_config_warnings(cfg, stderr);
    path_list src = {0};
    lt_cli_plugins plugins;
    int n_bad = 0;
    rc = LT_EXIT_FAILURE;
    if (list_sources(a.source, &src) == 0 &&
        lt_cli_load_plugins(&plugins, a.common.plugin_paths, a.common.n_plugin_paths, NULL, 0) == 0) {
        lt_cli_print_load_problems(&plugins, stderr);
        lt_trainer *t = lt_trainer_new(
            cfg, &(lt_trainer_options){.registry = plugins.registry, .weights = a.weights, .no_run_dir = true});
        lt_ctx *prev = t ? lt_ctx_use(lt_trainer_ctx(t)) : NULL;
        if (t && infer_all(t, cfg, &src, a.save_dir, &n_bad) == 0)
            rc = n_bad ? LT_EXIT_FAILURE : LT_EXIT_OK;
        else
            fprintf(stderr, "ltrain infer: %s\n", lt_last_error());
        if (t) lt_ctx_use(prev);
        lt_trainer_free(t);
        lt_cli_plugins_free(&plugins);
    } else {
        fprintf(stderr, "ltrain infer: %s\n", lt_last_error());
    }
    if (n_bad) fprintf(stderr, "ltrain infer: %d of %d images could not be read\n", n_bad, src.n);
    path_list_free(&src);
    lt_config_free(cfg);
    return rc;
}

void lt_cmd_infer_usage(FILE *out)
{
    fprintf(out,
            "Usage: ltrain infer --config FILE --source-path IMAGE_OR_DIR --save-dir DIR\n"
            "                    [--weights CKPT] [--plugin-path DIR]... [KEY VALUE]...\n"
            "\n"
            "Runs the model in eval mode on image files (PNG or JPEG; a directory: every\n"
            "image in it, in name order), preprocessed as for the test stage, and draws\n"
            "the predictions with every visualizer attached to its nodes. Writes one grid\n"
            "per batch of trainer.batch_size images and visualizer:\n"
            "DIR/<node>/<visualizer>_<batch>.png, and prints each file written. An image\n"
            "that cannot be read is reported with its path and skipped; the exit status is\n"
            "then 1.\n"
            "\n"
            "Options:\n"
            "  -c, --config FILE         the config (YAML)\n"
            "  --source-path PATH        an image file or a directory of images\n"
            "  --save-dir DIR            where the pictures go (created)\n"
            "  --weights CKPT            weights (.safetensors; default: model.weights)\n"
            "  --plugin-path DIR         also load plugins from DIR (repeatable)\n"
            "  KEY VALUE                 config overrides, e.g. trainer.batch_size 8\n"
            "  -h, --help                this help\n");
}

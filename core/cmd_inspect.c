/* `ltrain inspect`: what a config resolves to, the model graph it builds,
 * and a picture of the samples the model will see. */
#include <stdlib.h>
#include <string.h>

#include <ltrain/autograd.h>
#include <ltrain/draw.h>
#include <ltrain/nn.h>

#include "cli.h"
#include "trainer.h"
#include "visualize.h"

enum { MAX_SAMPLES = 16 };

#define DEFAULT_SAVE_PATH "output/inspect.png"

typedef struct inspect_args {
    const char *config, *view, *save_path;
    lt_cli_common common;
} inspect_args;

/* -1: help printed; LT_EXIT_USAGE on a bad command line; 0 otherwise. */
static int parse_args(int argc, char **argv, inspect_args *a)
{
    a->view = "train";
    a->save_path = DEFAULT_SAVE_PATH;
    const lt_cli_option opts[] = {
        {.name = "--config", .alias = "-c", .value = &a->config},
        {.name = "--view", .value = &a->view},
        {.name = "--save-path", .value = &a->save_path},
        {0},
    };
    int rc = lt_cli_parse("inspect", argc, argv, opts, &a->common, lt_cmd_inspect_usage);
    if (rc) return rc;
    if (!a->config) return lt_cli_usage_error("inspect", "%s", "--config FILE is required");
    if (strcmp(a->view, "train") && strcmp(a->view, "val") && strcmp(a->view, "test"))
        return lt_cli_usage_error("inspect", "--view must be train, val or test, not '%s'", a->view);
    return 0;
}

/* ----------------------------------------------------------------- graph */

static void format_attach(lt_attach_index ai, char *buf, size_t size)
{
    switch (ai.kind) {
    case LT_ATTACH_INDEX: snprintf(buf, size, "%d", ai.start); break;
    case LT_ATTACH_SLICE: snprintf(buf, size, "%d:%d:%d", ai.start, ai.stop, ai.step); break;
    case LT_ATTACH_EVERY: snprintf(buf, size, "all"); break;
    default: snprintf(buf, size, "-"); break;
    }
}

/* Elements of the parameters (not buffers) registered under "<node>.". */
static int64_t node_numel(const lt_params *p, const char *node)
{
    const size_t len = strlen(node);
    int64_t n = 0;
    for (size_t i = 0; i < lt_params_count(p); i++) {
        const lt_tensor *t = lt_params_at(p, i);
        if ((t->flags & LT_PARAMETER) && t->name && !strncmp(t->name, node, len) && t->name[len] == '.') n += t->numel;
    }
    return n;
}

static void print_value_shape(const char *key, const lt_value *v)
{
    char s[128];
    if (v->kind == LT_VALUE_TENSOR) {
        printf("      %-16s %s\n", key, v->tensor ? lt_shape_str(v->tensor, s, sizeof s) : "(none)");
        return;
    }
    printf("      %-16s list of %d:", key, v->list.n);
    for (int i = 0; i < v->list.n; i++) printf(" %s", lt_shape_str(v->list.items[i], s, sizeof s));
    printf("\n");
}

static void print_node(lt_model *m, int i)
{
    const lt_node_desc *d = lt_model_node_desc(m, i);
    const char *variant = lt_model_node_variant(m, i);
    char attach[64];
    format_attach(lt_model_node_attach_index(m, i), attach, sizeof attach);
    printf("  %s (%s%s%s)\n", lt_model_node_identifier(m, i), d->header.name, variant ? ", variant " : "",
           variant ? variant : "");
    printf("    inputs: ");
    const int n_in = lt_model_node_n_inputs(m, i);
    if (n_in == 0) printf("image");
    for (int k = 0; k < n_in; k++)
        printf("%s%s", k ? ", " : "", lt_model_node_identifier(m, lt_model_node_input(m, i, k)));
    printf("\n    attach_index: %s\n", attach);
    printf("    parameters: %lld\n", (long long)node_numel(lt_model_params(m), lt_model_node_identifier(m, i)));
    const lt_packet *p = lt_model_packet(m, i);
    printf("    outputs:\n");
    for (int k = 0; p && k < lt_packet_count(p); k++) {
        const char *key = lt_packet_key_at(p, k);
        print_value_shape(key, lt_packet_get(p, key));
    }
}

/* A forward on a zero batch of the training input shape, then the graph. */
static int print_graph(lt_trainer *t, const lt_config *cfg)
{
    const lt_preprocess *pp = lt_trainer_preprocess(t);
    lt_model *m = lt_trainer_model(t);
    const int64_t shape[4] = {cfg->trainer.batch_size > 0 ? cfg->trainer.batch_size : 1,
                              lt_preprocess_channels(pp), pp->height, pp->width};
    lt_tensor *probe = lt_tensor_new(LT_F32, 4, shape);
    if (!probe) return -1;
    const bool grad = lt_set_grad_enabled(false);
    const int rc = lt_model_forward(m, probe, LT_MODE_EVAL);
    lt_set_grad_enabled(grad);
    if (rc == 0) {
        char s[128];
        printf("# model graph (execution order; output shapes of a forward on %s)\n", lt_shape_str(probe, s, sizeof s));
        for (int k = 0; k < lt_model_n_nodes(m); k++) print_node(m, lt_model_order(m, k));
        const lt_params *p = lt_model_params(m);
        printf("# parameters: %lld total, %lld trainable (buffers not counted)\n", (long long)lt_params_numel(p, false),
               (long long)lt_params_numel(p, true));
    }
    lt_ctx_reset(lt_trainer_ctx(t));
    lt_tensor_free(probe);
    return rc;
}

/* --------------------------------------------------------------- samples */

/* The first samples of the view, augmented for its stage. */
static lt_tensor *read_samples(lt_trainer *t, const lt_config *cfg, const lt_dataset *ds, const char *view,
                               int32_t *classes)
{
    const lt_preprocess *pp = lt_trainer_preprocess(t);
    const int64_t n = ds->n < MAX_SAMPLES ? ds->n : MAX_SAMPLES;
    const int64_t shape[4] = {n, lt_preprocess_channels(pp), pp->height, pp->width};
    lt_tensor *images = n > 0 ? lt_tensor_new(LT_F32, 4, shape) : NULL;
    if (!images) {
        if (n == 0) lt_set_error("view '%s' has no samples", view);
        return NULL;
    }
    const uint64_t seed = cfg->trainer.has_seed ? (uint64_t)cfg->trainer.seed : 0;
    for (int64_t i = 0; i < n; i++) {
        lt_sample s = {0};
        lt_rng rng;
        lt_sample_rng(&rng, seed, 0, i);
        const int rc = ds->get(ds, i, &s) ||
                       lt_preprocess_apply(pp, lt_stage_of_view(view), &rng, &s,
                                           lt_f32(images) + i * shape[1] * shape[2] * shape[3]);
        classes[i] = s.cls;
        lt_sample_free(&s);
        if (rc) {
            lt_tensor_free(images);
            return NULL;
        }
    }
    return images;
}

static int label_canvases(lt_tensor *canvas, const lt_dataset *ds, const int32_t *classes)
{
    lt_font *font = lt_font_open(NULL);
    if (!font) return -1;
    const int size = canvas->shape[3] >= 256 ? 20 : 12;
    const lt_text_style style = {.size = size, .color = {255, 255, 255}, .weight = 1, .background = true,
                                 .background_color = {0, 0, 0}, .background_alpha = 0.6f, .padding = 2};
    int rc = 0;
    for (int64_t b = 0; rc == 0 && b < canvas->shape[0]; b++) {
        lt_draw_image img;
        const int c = classes[b];
        const char *name = c >= 0 && c < ds->n_classes ? ds->class_names[c] : "?";
        rc = lt_draw_image_from_canvas(canvas, b, &img) || lt_draw_text(&img, font, 2, 2, name, &style, NULL, NULL);
    }
    lt_font_close(font);
    return rc ? -1 : 0;
}

/* A grid of augmented samples of the view, each with its class name. */
static int draw_samples(lt_trainer *t, const lt_config *cfg, const char *view, const char *path)
{
    const lt_preprocess *pp = lt_trainer_preprocess(t);
    const lt_dataset *ds = lt_trainer_dataset(t, view);
    if (!ds) return -1;
    int32_t classes[MAX_SAMPLES];
    lt_tensor *images = read_samples(t, cfg, ds, view, classes);
    lt_tensor *canvas = images ? lt_vis_canvases(pp, images) : NULL;
    lt_tensor *grid = NULL;
    int rc = -1;
    if (canvas && label_canvases(canvas, ds, classes) == 0 &&
        (grid = lt_draw_grid(canvas, 0, 4, (lt_rgb){32, 32, 32}))) {
        char dir[4096];
        snprintf(dir, sizeof dir, "%s", path);
        char *slash = strrchr(dir, '/');
        if (slash) *slash = '\0';
        rc = (slash && slash != dir && lt_vis_mkdir_p(dir)) ||
             lt_image_save_png(path, lt_u8(grid), (int)grid->shape[0], (int)grid->shape[1], 3);
        if (rc == 0) printf("# %lld augmented %s samples: %s\n", (long long)images->shape[0], view, path);
    }
    lt_tensor_free(grid);
    lt_tensor_free(canvas);
    lt_tensor_free(images);
    return rc ? -1 : 0;
}

/* ------------------------------------------------------------------ main */

static int inspect(const lt_config *cfg, const inspect_args *a)
{
    char *yaml = lt_config_to_yaml(cfg);
    if (!yaml) return -1;
    printf("# resolved config\n%s", yaml);
    if (*yaml && yaml[strlen(yaml) - 1] != '\n') printf("\n");
    free(yaml);
    lt_cli_plugins plugins;
    lt_trainer *t = NULL;
    int rc = lt_cli_load_plugins(&plugins, a->common.plugin_paths, a->common.n_plugin_paths, NULL, 0);
    if (rc == 0) {
        lt_cli_print_load_problems(&plugins, stderr);
        t = lt_trainer_new(cfg, &(lt_trainer_options){.registry = plugins.registry, .no_run_dir = true});
        lt_ctx *prev = t ? lt_ctx_use(lt_trainer_ctx(t)) : NULL;
        rc = !t || print_graph(t, cfg) || draw_samples(t, cfg, a->view, a->save_path);
        if (t) lt_ctx_use(prev);
    }
    lt_trainer_free(t);
    lt_cli_plugins_free(&plugins);
    return rc ? -1 : 0;
}

int lt_cmd_inspect(int argc, char **argv)
{
    inspect_args a = {0};
    int rc = parse_args(argc, argv, &a);
    if (rc) {
        free(a.common.overrides);
        return rc < 0 ? LT_EXIT_OK : rc;
    }
    lt_config *cfg = lt_config_load(a.config, a.common.overrides, a.common.n_overrides);
    rc = LT_EXIT_FAILURE;
    if (cfg) {
        lt_cli_print_config_warnings(cfg, stderr);
        fflush(stderr);
        if (inspect(cfg, &a) == 0) rc = LT_EXIT_OK;
    }
    fflush(stdout);
    if (rc != LT_EXIT_OK) fprintf(stderr, "ltrain inspect: %s\n", lt_last_error());
    lt_config_free(cfg);
    free(a.common.overrides);
    return rc;
}

void lt_cmd_inspect_usage(FILE *out)
{
    fprintf(out,
            "Usage: ltrain inspect --config FILE [--view train|val|test] [--save-path PNG]\n"
            "                      [--plugin-path DIR]... [KEY VALUE]...\n"
            "\n"
            "Prints the resolved config (YAML: overrides and defaults applied), then the\n"
            "model graph in execution order: each node's identifier, registry name and\n"
            "variant, inputs, attach index, parameter count and output shapes from a\n"
            "forward on a zero batch of the training input size, and the total\n"
            "parameter count. Then draws the first samples of the view, augmented for\n"
            "its stage and labelled with their class names, as one PNG grid.\n"
            "\n"
            "Options:\n"
            "  -c, --config FILE     the config (YAML)\n"
            "  --view VIEW           train (default), val or test\n"
            "  --save-path PNG       where the picture goes (default " DEFAULT_SAVE_PATH ")\n"
            "  --plugin-path DIR     also load plugins from DIR (repeatable)\n"
            "  KEY VALUE             config overrides\n"
            "  -h, --help            this help\n");
}

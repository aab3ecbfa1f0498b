/* The built-in ClassificationVisualizer (plugins/builtin/classification_visualizer.c),
 * loaded as a plugin and bound by the core (core/modules.h) as a model would:
 * predictions from the node's packet, the target from the labels, the two
 * canvases. Checks where it draws, what it returns, its params and errors,
 * and writes <build>/tests/classification_visualizer.png (targets left,
 * predictions right) to look at. */
#include "fixture.h"

#include <ltrain/cfg.h>
#include <ltrain/draw.h>
#include <ltrain/plugin.h>

#include "data/data.h"
#include "loader.h"
#include "modules.h"
#include "registry.h"
#include "tasks.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifndef LT_BUILD_PLUGINS_DIR
#error "LT_BUILD_PLUGINS_DIR must be defined by the build"
#endif

static lt_registry *reg;
static lt_loader *loader;
static lt_ctx *ctx;

static void setup(void)
{
    unsetenv("LTRAIN_FONT");
    reg = lt_registry_new();
    ck_assert_ptr_nonnull(reg);
    ck_assert_int_eq(lt_register_builtin_tasks(reg), 0);
    loader = lt_loader_new();
    ck_assert_ptr_nonnull(loader);
    char path[1024];
    snprintf(path, sizeof path, "%s/ltrain_classification_visualizer.so", LT_BUILD_PLUGINS_DIR);
    lt_load_report rep = {0};
    ck_assert_msg(lt_loader_load_file(loader, reg, path, &rep) == 0, "loading %s: %s", path, lt_last_error());
    lt_load_report_free(&rep);
    ctx = lt_ctx_new();
    ck_assert_ptr_nonnull(ctx);
    lt_ctx_use(ctx);
}

static void teardown(void)
{
    lt_ctx_use(NULL);
    lt_ctx_free(ctx);
    lt_registry_free(reg);
    lt_loader_free(loader);
    unsetenv("LTRAIN_FONT");
}

static const char *const class_names[] = {"cat", "dog", "hummingbird"};
enum { B = 4, C = 3, H = 96, W = 128 };

/* Builds the visualizer with YAML params (NULL: defaults); NULL on failure. */
static lt_attached *build(const char *params_yaml)
{
    lt_cfg *params = params_yaml ? lt_cfg_parse_yaml(params_yaml, strlen(params_yaml), "params.yaml") : NULL;
    lt_task_info task;
    ck_assert_int_eq(lt_task_resolve(reg, "classification", &task), 0);
    const lt_module_config cfg = {.name = "ClassificationVisualizer", .params = params};
    const lt_attach_target on = {.node_identifier = "head", .node_name = "ClassificationHead", .task = &task,
                                 .n_classes = C, .class_names = class_names};
    lt_attached *a = lt_attached_build(reg, LT_DESC_VISUALIZER, &cfg, &on);
    lt_cfg_free(params);
    return a;
}

/* Canvases: a smooth colour gradient per image (like denormalised photos). */
static lt_tensor *canvas(void)
{
    lt_tensor *t = lt_empty(LT_U8, 4, (const int64_t[]){B, 3, H, W});
    ck_assert_ptr_nonnull(t);
    for (int b = 0; b < B; b++)
        for (int c = 0; c < 3; c++)
            for (int y = 0; y < H; y++)
                for (int x = 0; x < W; x++)
                    lt_u8(t)[((b * 3 + c) * H + y) * W + x] =
                        (uint8_t)(c == 0 ? 40 + x : c == 1 ? 60 + y + 20 * b : 120 + (x + y) / 4);
    return t;
}

static const float logits[B * C] = {2.5f, 0.1f, -1.0f, 0.2f, 1.9f, 0.3f, -0.5f, 0.0f, 3.0f, 0.4f, 0.5f, 0.45f};
static const int32_t truth[B] = {0, 1, 1, 2};

static lt_packet *packet(const float *values)
{
    lt_packet *p = lt_packet_new();
    ck_assert_int_eq(lt_packet_set(p, "classification",
                                   lt_value_tensor(lt_from_data(LT_F32, 2, (const int64_t[]){B, C}, values))),
                     0);
    return p;
}

static lt_labels *labels(lt_tensor *target)
{
    lt_labels *l = lt_labels_new();
    ck_assert_int_eq(lt_labels_set(l, "classification", lt_value_tensor(target)), 0);
    return l;
}

/* Pixels of image b inside [x0,x1) x [y0,y1) that differ between two canvases. */
static int64_t changed(const lt_tensor *a, const lt_tensor *b_, int b, int x0, int y0, int x1, int y1)
{
    int64_t n = 0;
    for (int c = 0; c < 3; c++)
        for (int y = y0; y < y1; y++)
            for (int x = x0; x < x1; x++) {
                const int64_t i = ((int64_t)(b * 3 + c) * H + y) * W + x;
                n += lt_u8(a)[i] != lt_u8(b_)[i];
            }
    return n;
}

static void save_pair_png(const lt_tensor *target_canvas, const lt_tensor *prediction_canvas, const char *name)
{
    /* Interleave: target i, prediction i, so a 2-column grid shows GT | Pred rows. */
    lt_tensor *both = lt_empty(LT_U8, 4, (const int64_t[]){2 * B, 3, H, W});
    const int64_t image = 3 * H * W;
    for (int b = 0; b < B; b++) {
        memcpy(lt_u8(both) + (2 * b) * image, lt_u8(target_canvas) + b * image, (size_t)image);
        memcpy(lt_u8(both) + (2 * b + 1) * image, lt_u8(prediction_canvas) + b * image, (size_t)image);
    }
    lt_tensor *grid = lt_draw_grid(both, 2, 4, (lt_rgb){255, 255, 255});
    ck_assert_msg(grid != NULL, "%s", lt_last_error());
    char path[1024];
    snprintf(path, sizeof path, "%s/../%s", LT_TEST_PLUGINS_DIR, name);
    ck_assert_msg(lt_image_save_png(path, lt_u8(grid), (int)grid->shape[0], (int)grid->shape[1], 3) == 0, "%s: %s",
                  path, lt_last_error());
    lt_tensor_free(grid);
}

START_TEST(test_draws_prediction_and_target)
{
    lt_attached *a = build(NULL);
    ck_assert_msg(a != NULL, "%s", lt_last_error());
    lt_tensor *original = canvas(), *pred_canvas = canvas(), *target_canvas = canvas();
    lt_tensor *target = lt_from_data(LT_I32, 1, (const int64_t[]){B}, truth);
    const int rc = lt_attached_visualize(a, pred_canvas, target_canvas, packet(logits), labels(target));
    ck_assert_msg(rc == LT_VIS_PAIR, "rc %d: %s", rc, lt_last_error());
    for (int b = 0; b < B; b++) {
        /* The label box at the top-left, the probability plot along the bottom
         * of the prediction; the middle of the image is left alone. */
        ck_assert_int_gt(changed(original, pred_canvas, b, 0, 0, W / 2, H / 4), 100);
        ck_assert_int_gt(changed(original, target_canvas, b, 0, 0, W / 4, H / 4), 100);
        ck_assert_int_gt(changed(original, pred_canvas, b, 0, H * 7 / 10, W, H), 200);
        ck_assert_int_eq(changed(original, target_canvas, b, 0, H * 7 / 10, W, H), 0);
        ck_assert_int_eq(changed(original, pred_canvas, b, 0, H * 4 / 10, W, H * 6 / 10), 0);
        ck_assert_int_eq(changed(original, target_canvas, b, 0, H * 4 / 10, W, H * 6 / 10), 0);
    }
    save_pair_png(target_canvas, pred_canvas, "classification_visualizer.png");

    /* The same inputs draw the same pixels. */
    lt_tensor *again = canvas(), *again_target = canvas();
    ck_assert_int_eq(lt_attached_visualize(a, again, again_target, packet(logits), labels(target)), LT_VIS_PAIR);
    ck_assert_int_eq(memcmp(again->data, pred_canvas->data, (size_t)again->numel), 0);

    /* A one-hot target names the same classes as the indices. */
    float one_hot[B * C] = {0};
    for (int b = 0; b < B; b++) one_hot[b * C + truth[b]] = 1.0f;
    lt_tensor *hot_target = canvas();
    ck_assert_int_eq(lt_attached_visualize(a, canvas(), hot_target, packet(logits),
                                           labels(lt_from_data(LT_F32, 2, (const int64_t[]){B, C}, one_hot))),
                     LT_VIS_PAIR);
    ck_assert_int_eq(memcmp(hot_target->data, target_canvas->data, (size_t)hot_target->numel), 0);

    /* Without a target only the prediction canvas is drawn. */
    lt_tensor *lonely = canvas(), *untouched = canvas();
    ck_assert_int_eq(lt_attached_visualize(a, lonely, untouched, packet(logits), lt_labels_new()), LT_VIS_PREDICTION);
    ck_assert_int_eq(memcmp(untouched->data, original->data, (size_t)original->numel), 0);
    ck_assert_int_gt(changed(original, lonely, 0, 0, 0, W / 2, H / 4), 100);
    lt_attached_free(a);
}
END_TEST

START_TEST(test_params)
{
    /* No plot, a colour, a fixed font scale, multilabel: still legible, saved for a look. */
    lt_attached *a = build("include_plot: false\ncolor: [0, 255, 255]\nfont_scale: 0.5\nthickness: 1\n"
                           "multilabel: true\n");
    ck_assert_msg(a != NULL, "%s", lt_last_error());
    lt_tensor *original = canvas(), *pred_canvas = canvas(), *target_canvas = canvas();
    static const float multi_hot[B * C] = {1, 0, 1, 0, 1, 0, 0, 0, 0, 1, 1, 1};
    lt_tensor *target = lt_from_data(LT_F32, 2, (const int64_t[]){B, C}, multi_hot);
    ck_assert_int_eq(lt_attached_visualize(a, pred_canvas, target_canvas, packet(logits), labels(target)), LT_VIS_PAIR);
    for (int b = 0; b < B; b++) ck_assert_int_eq(changed(original, pred_canvas, b, 0, H - 8, W, H), 0); /* no plot */
    /* Cyan text: the red channel only darkens (under the box), green is raised somewhere. */
    bool cyan = false;
    for (int64_t i = 0; i < H * W; i++) cyan |= lt_u8(pred_canvas)[H * W + i] == 255;
    ck_assert(cyan);
    save_pair_png(target_canvas, pred_canvas, "classification_visualizer_multilabel.png");
    lt_attached_free(a);

    /* Bad params fail the build naming the param. */
    static const char *const bad[][2] = {
        {"thickness: 0", "thickness"},       {"color: [1, 2]", "color"},
        {"color: [0, 300, 0]", "color[1]"},  {"font_scale: -1", "font_scale"},
        {"include_plot: maybe", "include_plot"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        ck_assert_ptr_null(build(bad[i][0]));
        ck_assert_msg(strstr(lt_last_error(), bad[i][1]) != NULL, "'%s': %s", bad[i][0], lt_last_error());
    }
}
END_TEST

START_TEST(test_errors)
{
    /* A missing font fails the build with a clear message, never a crash. */
    setenv("LTRAIN_FONT", "/nonexistent/font.ttf", 1);
    ck_assert_ptr_null(build(NULL));
    ck_assert_msg(strstr(lt_last_error(), "/nonexistent/font.ttf") && strstr(lt_last_error(), "LTRAIN_FONT"), "%s",
                  lt_last_error());
    unsetenv("LTRAIN_FONT");

    lt_attached *a = build(NULL);
    ck_assert_msg(a != NULL, "%s", lt_last_error());
    /* Predictions with the wrong class count. */
    lt_packet *p = lt_packet_new();
    lt_packet_set(p, "classification", lt_value_tensor(lt_zeros(LT_F32, 2, (const int64_t[]){B, 5})));
    ck_assert_int_eq(lt_attached_visualize(a, canvas(), canvas(), p, lt_labels_new()), LT_VIS_ERROR);
    ck_assert_msg(strstr(lt_last_error(), "[4,5]") && strstr(lt_last_error(), "C = 3"), "%s", lt_last_error());
    /* A target of the wrong shape, and a class index out of range. */
    lt_tensor *bad = lt_zeros(LT_I32, 1, (const int64_t[]){B + 1});
    ck_assert_int_eq(lt_attached_visualize(a, canvas(), canvas(), packet(logits), labels(bad)), LT_VIS_ERROR);
    ck_assert_msg(strstr(lt_last_error(), "target") && strstr(lt_last_error(), "[5]"), "%s", lt_last_error());
    lt_tensor *far = lt_from_data(LT_I32, 1, (const int64_t[]){B}, (const int32_t[]){0, 1, 7, 2});
    ck_assert_int_eq(lt_attached_visualize(a, canvas(), canvas(), packet(logits), labels(far)), LT_VIS_ERROR);
    ck_assert_msg(strstr(lt_last_error(), "class 7"), "%s", lt_last_error());
    /* A canvas that is not uint8 [B,3,H,W]. */
    lt_tensor *f32 = lt_zeros(LT_F32, 4, (const int64_t[]){B, 3, H, W});
    ck_assert_int_eq(lt_attached_visualize(a, f32, canvas(), packet(logits), lt_labels_new()), LT_VIS_ERROR);
    ck_assert_msg(strstr(lt_last_error(), "uint8 [B,3,H,W]"), "%s", lt_last_error());
    lt_attached_free(a);
}
END_TEST

START_TEST(test_tiny_and_large_images)
{
    /* Images too small for the plot or the full text still draw (shrunk, clipped). */
    lt_attached *a = build(NULL);
    ck_assert_msg(a != NULL, "%s", lt_last_error());
    static const int sizes[][2] = {{1, 1}, {8, 12}, {20, 20}, {480, 640}};
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        const int64_t shape[4] = {B, 3, sizes[i][0], sizes[i][1]};
        lt_tensor *pc = lt_zeros(LT_U8, 4, shape), *tc = lt_zeros(LT_U8, 4, shape);
        ck_assert_msg(lt_attached_visualize(a, pc, tc, packet(logits),
                                            labels(lt_from_data(LT_I32, 1, (const int64_t[]){B}, truth))) ==
                          LT_VIS_PAIR,
                      "%dx%d: %s", sizes[i][0], sizes[i][1], lt_last_error());
    }
    lt_attached_free(a);
}
END_TEST

static Suite *visualizer_suite(void)
{
    Suite *s = suite_create("visualizer");
    TCase *tc = tcase_create("classification");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_draws_prediction_and_target);
    tcase_add_test(tc, test_params);
    tcase_add_test(tc, test_errors);
    tcase_add_test(tc, test_tiny_and_large_images);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) { return fx_run_suite(visualizer_suite()); }

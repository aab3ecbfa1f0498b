/* Pictures of predictions (core/visualize.h): canvases undo the
 * preprocessing exactly, visualizers run on every node, pairs are laid side
 * by side and batches tiled into one PNG per visualizer. */
#include "fixture.h"

#include "config/config.h"
#include "loader.h"
#include "registry.h"
#include "tasks.h"
#include "visualize.h"

#include <ltrain/autograd.h>

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifndef LT_BUILD_PLUGINS_DIR
#error "LT_BUILD_PLUGINS_DIR must be defined by the build"
#endif

static lt_registry *reg;
static lt_loader *loader;
static char out_dir[256];

static void setup(void)
{
    reg = lt_registry_new();
    loader = lt_loader_new();
    ck_assert(reg && loader);
    ck_assert_int_eq(lt_register_builtin_tasks(reg), 0);
    static const char *const paths[] = {LT_BUILD_PLUGINS_DIR};
    const lt_loader_options o = {.flag_paths = paths, .n_flag_paths = 1, .skip_env = true, .skip_user = true,
                                 .skip_installed = true};
    ck_assert_int_eq(lt_loader_load_all(loader, reg, &o, NULL), 0);
    snprintf(out_dir, sizeof out_dir, "/tmp/ltrain_test_visualize_XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(out_dir));
}

static void teardown(void)
{
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", out_dir);
    ck_assert_int_eq(system(cmd), 0);
    lt_registry_free(reg);
    lt_loader_free(loader);
}

static const char tiny_yaml[] = "model:\n"
                                "  name: tiny\n"
                                "  predefined_model:\n"
                                "    name: ClassificationModel\n"
                                "    variant: light\n"
                                "loader:\n"
                                "  params:\n"
                                "    dataset_type: generated\n"
                                "    image_size: 16\n"
                                "    n_classes: 3\n"
                                "    n_train: 8\n"
                                "    n_val: 4\n"
                                "    n_test: 4\n"
                                "trainer:\n"
                                "  preprocessing:\n"
                                "    train_image_size: [16, 16]\n"
                                "    keep_aspect_ratio: false\n"
                                "  seed: 3\n"
                                "  batch_size: 2\n";

/* Two 16x16 images normalised from known pixels (pixel = 10 * x + c). */
static lt_tensor *known_images(const lt_preprocess *pp)
{
    lt_tensor *t = lt_tensor_new(LT_F32, 4, (const int64_t[]){2, 3, 16, 16});
    ck_assert_ptr_nonnull(t);
    for (int b = 0; b < 2; b++)
        for (int c = 0; c < 3; c++)
            for (int y = 0; y < 16; y++)
                for (int x = 0; x < 16; x++) {
                    const float v = (float)(10 * x + c + b) / 255.0f;
                    lt_f32(t)[((b * 3 + c) * 16 + y) * 16 + x] = (v - pp->mean[c]) / pp->std[c];
                }
    return t;
}

START_TEST(test_canvases_undo_preprocessing)
{
    lt_preprocess pp;
    lt_preprocess_defaults(&pp);
    pp.height = pp.width = 16;
    lt_tensor *images = known_images(&pp);
    lt_tensor *canvas = lt_vis_canvases(&pp, images);
    ck_assert_msg(canvas != NULL, "%s", lt_last_error());
    /* 16 px is enlarged 16 times to reach LT_VIS_MIN_CANVAS. */
    ck_assert_int_eq(LT_VIS_MIN_CANVAS, 256);
    ck_assert_int_eq(canvas->dtype, LT_U8);
    ck_assert_int_eq(canvas->shape[0], 2);
    ck_assert_int_eq(canvas->shape[1], 3);
    ck_assert_int_eq(canvas->shape[2], 256);
    ck_assert_int_eq(canvas->shape[3], 256);
    const int64_t plane = 256 * 256;
    for (int b = 0; b < 2; b++)
        for (int c = 0; c < 3; c++)
            for (int y = 0; y < 256; y += 37)
                for (int x = 0; x < 256; x += 5)
                    ck_assert_int_eq(lt_u8(canvas)[(b * 3 + c) * plane + y * 256 + x], 10 * (x / 16) + c + b);
    lt_tensor_free(canvas);
    /* A shape the preprocessing does not produce is refused, naming it. */
    pp.height = 8;
    ck_assert_ptr_null(lt_vis_canvases(&pp, images));
    ck_assert_msg(strstr(lt_last_error(), "[2,3,16,16]") && strstr(lt_last_error(), "[B,3,8,16]"), "%s",
                  lt_last_error());
    lt_tensor_free(images);
}
END_TEST

static void check_png(const char *path, int w, int h)
{
    lt_image im;
    ck_assert_msg(lt_image_load(path, &im) == 0, "%s", lt_last_error());
    ck_assert_int_eq(im.w, w);
    ck_assert_int_eq(im.h, h);
    lt_image_free(&im);
}

START_TEST(test_pairs_and_predictions)
{
    lt_config *cfg = lt_config_parse(tiny_yaml, "tiny.yaml", NULL, 0);
    ck_assert_msg(cfg != NULL, "%s", lt_last_error());
    lt_vis_model vm;
    ck_assert_msg(lt_vis_model_open(&vm, cfg, reg, NULL) == 0, "%s", lt_last_error());
    const bool grad = lt_set_grad_enabled(false);
    lt_tensor *images = known_images(&vm.pp);
    ck_assert_msg(lt_model_forward(vm.model, images, LT_MODE_EVAL) == 0, "%s", lt_last_error());

    /* With labels: target and prediction side by side, two pairs in a row:
     * pair width 2 * 256 + 4, grid 2 * (516 + 4) + 4 by 256 + 2 * 4. */
    lt_labels *labels = lt_labels_new();
    lt_tensor *one_hot = lt_zeros(LT_F32, 2, (const int64_t[]){2, 3});
    lt_f32(one_hot)[0 * 3 + 1] = 1.0f;
    lt_f32(one_hot)[1 * 3 + 2] = 1.0f;
    ck_assert_int_eq(lt_labels_set(labels, "classification", lt_value_tensor(one_hot)), 0);
    lt_vis_paths out = {0};
    ck_assert_msg(lt_visualize_batch(vm.model, &vm.pp, images, labels, out_dir, 7, &out) == 0, "%s",
                  lt_last_error());
    ck_assert_int_eq(out.n, 1);
    char want[512];
    snprintf(want, sizeof want, "%s/ClassificationHead/ClassificationVisualizer_7.png", out_dir);
    ck_assert_str_eq(out.paths[0], want);
    check_png(want, 1044, 264);

    /* Without labels: predictions only, 2 * (256 + 4) + 4 wide. */
    ck_assert_msg(lt_visualize_batch(vm.model, &vm.pp, images, NULL, out_dir, 8, &out) == 0, "%s",
                  lt_last_error());
    ck_assert_int_eq(out.n, 2);
    check_png(out.paths[1], 524, 264);
    lt_vis_paths_free(&out);
    ck_assert_int_eq(out.n, 0);

    /* An unwritable directory is an error naming it. */
    ck_assert_int_eq(lt_visualize_batch(vm.model, &vm.pp, images, NULL, "/proc/no/such", 0, &out), -1);
    ck_assert_msg(strstr(lt_last_error(), "/proc/no") != NULL, "%s", lt_last_error());
    lt_vis_paths_free(&out);

    lt_set_grad_enabled(grad);
    lt_tensor_free(images);
    lt_vis_model_close(&vm);
    lt_config_free(cfg);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("core_visualize");
    TCase *tc = tcase_create("visualize");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, test_canvases_undo_preprocessing);
    tcase_add_test(tc, test_pairs_and_predictions);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    const int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}

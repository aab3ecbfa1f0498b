/* Pictures of predictions (core/visualize.h): canvases undo the
 * preprocessing exactly, visualizers run on every node, pairs are laid side
 * by side and batches tiled into one PNG per visualizer; the trainer's
 * n_log_images pictures are chosen as the reference's smart logging. */
#include "core_fixture.h"
#include "fixture.h"

#include "config/config.h"
#include "trainer.h"
#include "vis_log.h"
#include "visualize.h"

#include <ltrain/autograd.h>

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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
    lt_trainer *t = lt_trainer_new(cfg, &(lt_trainer_options){.registry = fx_env.reg, .no_run_dir = true});
    ck_assert_msg(t != NULL, "%s", lt_last_error());
    lt_ctx *prev = lt_ctx_use(lt_trainer_ctx(t));
    lt_model *m = lt_trainer_model(t);
    const lt_preprocess *pp = lt_trainer_preprocess(t);
    const bool grad = lt_set_grad_enabled(false);
    lt_tensor *images = known_images(pp);
    ck_assert_msg(lt_model_forward(m, images, LT_MODE_EVAL) == 0, "%s", lt_last_error());

    /* With labels: target and prediction side by side, two pairs in a row:
     * pair width 2 * 256 + 4, grid 2 * (516 + 4) + 4 by 256 + 2 * 4. */
    lt_labels *labels = lt_labels_new();
    lt_tensor *one_hot = lt_zeros(LT_F32, 2, (const int64_t[]){2, 3});
    lt_f32(one_hot)[0 * 3 + 1] = 1.0f;
    lt_f32(one_hot)[1 * 3 + 2] = 1.0f;
    ck_assert_int_eq(lt_labels_set(labels, "classification", lt_value_tensor(one_hot)), 0);
    lt_vis_paths out = {0};
    ck_assert_msg(lt_visualize_batch(m, pp, images, labels, fx_env.dir, 7, &out) == 0, "%s",
                  lt_last_error());
    ck_assert_int_eq(out.n, 1);
    char want[512];
    snprintf(want, sizeof want, "%s/ClassificationHead/ClassificationVisualizer_7.png", fx_env.dir);
    ck_assert_str_eq(out.paths[0], want);
    check_png(want, 1044, 264);

    /* Without labels: predictions only, 2 * (256 + 4) + 4 wide. */
    ck_assert_msg(lt_visualize_batch(m, pp, images, NULL, fx_env.dir, 8, &out) == 0, "%s",
                  lt_last_error());
    ck_assert_int_eq(out.n, 2);
    check_png(out.paths[1], 524, 264);
    lt_vis_paths_free(&out);
    ck_assert_int_eq(out.n, 0);

    /* An unwritable directory is an error naming it. */
    ck_assert_int_eq(lt_visualize_batch(m, pp, images, NULL, "/proc/no/such", 0, &out), -1);
    ck_assert_msg(strstr(lt_last_error(), "/proc/no") != NULL, "%s", lt_last_error());
    lt_vis_paths_free(&out);

    lt_set_grad_enabled(grad);
    lt_tensor_free(images);
    lt_ctx_use(prev);
    lt_trainer_free(t);
    lt_config_free(cfg);
}
END_TEST

/* The first node with a visualizer, and its first visualizer. */
static int visualized_node(lt_model *m, lt_attached **viz)
{
    for (int i = 0; i < lt_model_n_nodes(m); i++)
        if (lt_model_n_attached(m, i, LT_DESC_VISUALIZER) > 0) {
            *viz = lt_model_attached(m, i, LT_DESC_VISUALIZER, 0);
            return i;
        }
    ck_abort_msg("no node has a visualizer");
    return -1;
}

/* Which sample picture <dir>/<node>/<viz>/<epoch>/<k>.png shows (its pixels
 * are 10 * the sample's index), or -1 when it does not exist. */
static int picture_sample(const char *dir, const char *node, const char *viz, int epoch, int k)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/%s/%s/%d/%d.png", dir, node, viz, epoch, k);
    lt_image im;
    if (lt_image_load(path, &im)) return -1;
    const int v = im.px[0];
    lt_image_free(&im);
    return v / 10;
}

/* n_log_images as the reference's smart logging: balanced classes in batch
 * order, a counter per node naming <node>/<viz>/<epoch>/<k>.png, and a
 * top-up from the samples passed over when the balanced picks fall short. */
START_TEST(test_balanced_pictures)
{
    lt_config *cfg = lt_config_parse(tiny_yaml, "tiny.yaml", NULL, 0);
    ck_assert_msg(cfg != NULL, "%s", lt_last_error());
    lt_trainer *t = lt_trainer_new(cfg, &(lt_trainer_options){.registry = fx_env.reg, .no_run_dir = true});
    ck_assert_msg(t != NULL, "%s", lt_last_error());
    lt_model *m = lt_trainer_model(t);
    lt_attached *viz = NULL;
    int node = visualized_node(m, &viz);
    const char *node_name = lt_model_node_identifier(m, node), *viz_name = lt_attached_identifier(viz);

    lt_tensor *pictures = lt_tensor_new(LT_U8, 4, (const int64_t[]){6, 3, 2, 2});
    ck_assert_ptr_nonnull(pictures);
    for (int64_t i = 0; i < pictures->numel; i++) lt_u8(pictures)[i] = (uint8_t)(10 * (i / 12));
    lt_tensor *slots[] = {pictures};
    const lt_vis_batch b = {.n = 1, .node = &node, .viz = &viz, .pictures = slots};
    char dir[512];
    lt_vis_paths written = {0};
    int short_of = 0;

    /* Classes 0 0 1 2 0 1: samples 0, 2, 3, 4 keep the classes balanced. */
    lt_vis_log l;
    ck_assert_int_eq(lt_vis_log_init(&l, 4, 3), 0);
    snprintf(dir, sizeof dir, "%s/balanced", fx_env.dir);
    ck_assert_int_eq(lt_vis_log_begin(&l, dir, 5), 0);
    ck_assert(lt_vis_log_wants(&l));
    ck_assert_msg(lt_vis_log_batch(&l, m, &b, (const int32_t[]){0, 0, 1, 2, 0, 1}, &written) == 0, "%s",
                  lt_last_error());
    ck_assert_int_eq(written.n, 4);
    ck_assert(!lt_vis_log_wants(&l));
    ck_assert_int_eq(lt_vis_log_end(&l, m, &written, &short_of), 0);
    ck_assert_int_eq(short_of, -1);
    const int want_balanced[] = {0, 2, 3, 4};
    for (int k = 0; k < 4; k++) ck_assert_int_eq(picture_sample(dir, node_name, viz_name, 5, k), want_balanced[k]);
    ck_assert_int_eq(picture_sample(dir, node_name, viz_name, 5, 4), -1);
    lt_vis_log_free(&l);

    /* Only class 0, twice: one balanced pick, then the passed-over samples
     * (1, 2 of the first batch; 0, 1 of the second, up to 4 held) top up. */
    ck_assert_int_eq(lt_vis_log_init(&l, 4, 3), 0);
    snprintf(dir, sizeof dir, "%s/topped", fx_env.dir);
    ck_assert_int_eq(lt_vis_log_begin(&l, dir, 0), 0);
    const lt_vis_batch three = {.n = 1, .node = &node, .viz = &viz, .pictures = slots};
    pictures->shape[0] = 3;
    pictures->numel = 3 * 12;
    ck_assert_int_eq(lt_vis_log_batch(&l, m, &three, (const int32_t[]){0, 0, 0}, &written), 0);
    ck_assert(lt_vis_log_wants(&l));
    ck_assert_int_eq(lt_vis_log_batch(&l, m, &three, (const int32_t[]){0, 0, 0}, &written), 0);
    ck_assert_int_eq(lt_vis_log_end(&l, m, &written, &short_of), 0);
    ck_assert_int_eq(short_of, 1);
    const int want_topped[] = {0, 1, 2, 0};
    for (int k = 0; k < 4; k++) ck_assert_int_eq(picture_sample(dir, node_name, viz_name, 0, k), want_topped[k]);
    ck_assert(l.needs_buffering);
    lt_vis_log_free(&l);
    pictures->shape[0] = 6;
    pictures->numel = 6 * 12;

    lt_vis_paths_free(&written);
    lt_tensor_free(pictures);
    lt_trainer_free(t);
    lt_config_free(cfg);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("core_visualize");
    TCase *tc = tcase_create("visualize");
    tcase_add_checked_fixture(tc, fx_core_setup, fx_core_teardown);
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, test_canvases_undo_preprocessing);
    tcase_add_test(tc, test_pairs_and_predictions);
    tcase_add_test(tc, test_balanced_pictures);
    suite_add_tcase(s, tc);
    return fx_run_suite(s);
}

/* The trainer (core/trainer.h) end to end on a tiny generated dataset:
 * the loss falls, the run directory holds the reference's files, test
 * results carry the reference's log names, a checkpoint reloads to the same
 * metrics, runs are deterministic, and bad configs fail with their message. */
#include "fixture.h"

#include "config/config.h"
#include "loader.h"
#include "registry.h"
#include "tasks.h"
#include "trainer.h"

#include <check.h>
#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

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
    snprintf(out_dir, sizeof out_dir, "/tmp/ltrain_test_trainer_XXXXXX");
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

/* A 2-epoch run of ResNet-18 on 16x16 images of 3 shapes. */
static const char tiny_yaml[] = "model:\n"
                                "  name: tiny\n"
                                "  predefined_model:\n"
                                "    name: ClassificationModel\n"
                                "    variant: light\n"
                                "    include_visualizers: false\n"
                                "loader:\n"
                                "  params:\n"
                                "    dataset_type: generated\n"
                                "    image_size: 16\n"
                                "    n_classes: 3\n"
                                "    n_train: 96\n"
                                "    n_val: 32\n"
                                "    n_test: 32\n"
                                "trainer:\n"
                                "  preprocessing:\n"
                                "    train_image_size: [16, 16]\n"
                                "    keep_aspect_ratio: false\n"
                                "  seed: 3\n"
                                "  batch_size: 16\n"
                                "  epochs: 2\n"
                                "  n_workers: 0\n"
                                "  validation_interval: 1\n"
                                "  save_top_k: 1\n"
                                "  optimizer:\n"
                                "    name: Adam\n"
                                "    params: {lr: 0.003}\n";

static lt_config *tiny_config(const char *const *extra, int n_extra)
{
    const char *overrides[16] = {"tracker.save_directory", out_dir};
    int n = 2;
    for (int i = 0; i < n_extra; i++) overrides[n++] = extra[i];
    lt_config *c = lt_config_parse(tiny_yaml, "tiny.yaml", overrides, n);
    ck_assert_msg(c != NULL, "config: %s", lt_last_error());
    return c;
}

static bool exists(const char *dir, const char *name)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    struct stat st;
    return stat(path, &st) == 0;
}

/* The single file of a folder (save_top_k 1). */
static void only_file(const char *dir, char *out, size_t size)
{
    DIR *d = opendir(dir);
    ck_assert_msg(d != NULL, "%s missing", dir);
    int n = 0;
    for (struct dirent *e; (e = readdir(d));) {
        if (e->d_name[0] == '.') continue;
        snprintf(out, size, "%s/%s", dir, e->d_name);
        n++;
    }
    closedir(d);
    ck_assert_msg(n == 1, "%s holds %d files, expected 1 (save_top_k 1)", dir, n);
}

START_TEST(test_fit_run_dir_and_reload)
{
    lt_config *c = tiny_config(NULL, 0);
    lt_trainer *t = lt_trainer_new(c, &(lt_trainer_options){.registry = reg});
    ck_assert_msg(t != NULL, "trainer: %s", lt_last_error());
    ck_assert_msg(lt_trainer_fit(t) == 0, "fit: %s", lt_last_error());

    int n = 0;
    const double *losses = lt_trainer_train_losses(t, &n);
    ck_assert_int_eq(n, 2);
    ck_assert_msg(isfinite(losses[0]) && losses[1] < losses[0], "train loss did not fall: %g -> %g", losses[0],
                  losses[1]);

    const char *run = lt_trainer_run_dir(t);
    ck_assert_ptr_nonnull(strstr(run, out_dir));
    ck_assert_msg(strstr(run + strlen(out_dir), "/0-") != NULL, "run dir '%s' is not <save_dir>/0-<name>", run);
    ck_assert(exists(run, "training_config.yaml"));
    ck_assert(exists(run, "last.safetensors"));
    char best[1024], min_loss[1024], dir[1024];
    snprintf(dir, sizeof dir, "%s/min_val_loss", run);
    only_file(dir, min_loss, sizeof min_loss);
    ck_assert_ptr_nonnull(strstr(min_loss, "/tiny_loss="));
    snprintf(dir, sizeof dir, "%s/best_val_metric", run);
    only_file(dir, best, sizeof best);
    ck_assert_ptr_nonnull(strstr(best, "/tiny_ClassificationHead_F1Score="));

    /* The saved config loads back. */
    char cfg_path[1024];
    snprintf(cfg_path, sizeof cfg_path, "%s/training_config.yaml", run);
    lt_config *saved = lt_config_load(cfg_path, NULL, 0);
    ck_assert_msg(saved != NULL, "saved config: %s", lt_last_error());
    ck_assert_int_eq(saved->trainer.epochs, 2);
    lt_config_free(saved);

    /* Test results carry the reference's names. */
    const lt_eval_result *r = lt_trainer_test_result(t);
    ck_assert_ptr_nonnull(r);
    ck_assert_str_eq(r->names[0], "test/loss");
    const double acc = lt_eval_result_get(r, "test/metric/ClassificationHead/Accuracy");
    ck_assert_msg(acc >= 0.0 && acc <= 1.0, "accuracy %g", acc);
    ck_assert_int_ge(r->main_index, 0);
    ck_assert_str_eq(r->names[r->main_index], "test/metric/ClassificationHead/F1Score");
    char *json = lt_eval_result_json(r);
    ck_assert_ptr_nonnull(strstr(json, "\"test/loss\": "));
    ck_assert_ptr_nonnull(strstr(json, "\"test/metric/ClassificationHead/Accuracy\": "));
    free(json);

    /* last.safetensors holds the final weights: a fresh model evaluates to
     * the same bits. */
    char last[1024];
    snprintf(last, sizeof last, "%s/last.safetensors", run);
    lt_trainer *e = lt_trainer_new(c, &(lt_trainer_options){.registry = reg, .weights = last, .no_run_dir = true});
    ck_assert_msg(e != NULL, "reload: %s", lt_last_error());
    ck_assert_ptr_null(lt_trainer_run_dir(e));
    lt_eval_result again;
    ck_assert_msg(lt_trainer_evaluate(e, "test", &again) == 0, "evaluate: %s", lt_last_error());
    ck_assert_int_eq(again.n, r->n);
    for (int i = 0; i < r->n; i++) {
        ck_assert_str_eq(again.names[i], r->names[i]);
        ck_assert_msg(again.values[i] == r->values[i], "%s: %.9g after reload vs %.9g", r->names[i], again.values[i],
                      r->values[i]);
    }
    lt_eval_result_free(&again);
    ck_assert_int_eq(lt_trainer_evaluate(e, "val", &again), 0);
    ck_assert_str_eq(again.names[0], "val/loss");
    lt_eval_result_free(&again);
    lt_trainer_free(e);

    /* Resuming from last.safetensors starts after epoch 2: one more epoch. */
    static const char *const more[] = {"trainer.epochs", "3", "trainer.resume_training", "true"};
    lt_config *c3 = tiny_config(more, 4);
    lt_trainer *res = lt_trainer_new(c3, &(lt_trainer_options){.registry = reg, .weights = last});
    ck_assert_msg(res != NULL, "resume: %s", lt_last_error());
    ck_assert_msg(lt_trainer_fit(res) == 0, "resumed fit: %s", lt_last_error());
    lt_trainer_train_losses(res, &n);
    ck_assert_int_eq(n, 1);
    ck_assert_msg(strstr(lt_trainer_run_dir(res), "/1-") != NULL, "second run dir %s", lt_trainer_run_dir(res));
    lt_trainer_free(res);
    lt_config_free(c3);

    lt_trainer_free(t);
    lt_config_free(c);
}
END_TEST

/* Same seed, same losses; accumulation and clipping run. */
START_TEST(test_deterministic_with_accumulation_and_clipping)
{
    static const char *const extra[] = {"trainer.epochs", "1", "trainer.accumulate_grad_batches", "2",
                                        "trainer.gradient_clip_val", "0.5", "trainer.n_workers", "2"};
    double first = 0.0;
    for (int run = 0; run < 2; run++) {
        lt_config *c = tiny_config(extra, 8);
        lt_trainer *t = lt_trainer_new(c, &(lt_trainer_options){.registry = reg});
        ck_assert_msg(t != NULL, "trainer: %s", lt_last_error());
        ck_assert_msg(lt_trainer_fit(t) == 0, "fit: %s", lt_last_error());
        int n = 0;
        const double *losses = lt_trainer_train_losses(t, &n);
        ck_assert_int_eq(n, 1);
        if (run == 0)
            first = losses[0];
        else
            ck_assert_msg(losses[0] == first, "run 2 loss %.9g vs run 1 %.9g", losses[0], first);
        lt_trainer_free(t);
        lt_config_free(c);
    }
}
END_TEST

static void expect_failure(const char *const *extra, int n, const char *needle)
{
    const char *overrides[16] = {"tracker.save_directory", out_dir};
    for (int i = 0; i < n; i++) overrides[2 + i] = extra[i];
    lt_config *c = lt_config_parse(tiny_yaml, "tiny.yaml", overrides, n + 2);
    if (c) {
        lt_trainer *t = lt_trainer_new(c, &(lt_trainer_options){.registry = reg});
        ck_assert_msg(t == NULL, "'%s %s' was accepted", extra[0], extra[1]);
        lt_config_free(c);
    }
    ck_assert_msg(strstr(lt_last_error(), needle) != NULL, "error \"%s\" lacks \"%s\"", lt_last_error(), needle);
}

START_TEST(test_bad_configs)
{
    expect_failure((const char *const[]){"trainer.epoch", "3"}, 2, "did you mean 'epochs'");
    expect_failure((const char *const[]){"loader.params.dataset_type", "folders"}, 2, "dataset_type");
    expect_failure((const char *const[]){"loader.params.dataset_type", "clsdir"}, 2, "dataset_dir");
    expect_failure((const char *const[]){"loader.params.n_clases", "3"}, 2, "n_classes");
    expect_failure((const char *const[]){"trainer.optimizer.params.beta1", "0.9"}, 2, "beta1");
    lt_config *c = tiny_config(NULL, 0);
    lt_trainer *t = lt_trainer_new(c, &(lt_trainer_options){.registry = reg, .weights = "/nonexistent.safetensors"});
    ck_assert_ptr_null(t);
    ck_assert_ptr_nonnull(strstr(lt_last_error(), "/nonexistent.safetensors"));
    lt_config_free(c);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("core_trainer");
    TCase *tc = tcase_create("trainer");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 600);
    tcase_add_test(tc, test_fit_run_dir_and_reload);
    tcase_add_test(tc, test_deterministic_with_accumulation_and_clipping);
    tcase_add_test(tc, test_bad_configs);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    const int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}

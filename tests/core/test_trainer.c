/* The trainer (core/trainer.h) end to end on a tiny generated dataset:
 * the loss falls, the run directory holds the reference's files, test
 * results carry the reference's log names, a checkpoint reloads to the same
 * metrics, runs are deterministic, and bad configs fail with their message. */
#include "core_fixture.h"
#include "fixture.h"

#include "config/config.h"
#include "trainer.h"

#include <ltrain/safetensors.h>

#include <check.h>
#include <dirent.h>
#include <signal.h>
#include <math.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

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
    const char *overrides[16] = {"tracker.save_directory", fx_env.dir};
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

/* A whole file as a string (malloc'd). */
static char *slurp(const char *dir, const char *name)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "rb");
    ck_assert_msg(f != NULL, "%s missing", path);
    char *text = calloc(1, 1 << 20);
    ck_assert_ptr_nonnull(text);
    fread(text, 1, (1 << 20) - 1, f);
    fclose(f);
    return text;
}

/* The value metrics.csv holds for (name, step), or NAN. */
static double csv_value(const char *csv, const char *name, int step)
{
    char row[512];
    for (const char *line = csv; *line; line += strcspn(line, "\n") + (line[strcspn(line, "\n")] != '\0')) {
        const size_t n = strcspn(line, "\n");
        const size_t len = n < sizeof row - 1 ? n : sizeof row - 1;
        memcpy(row, line, len);
        row[len] = '\0';
        char *last = strrchr(row, ','), *value;
        if (!last) continue;
        *last = '\0';
        if (!(value = strrchr(row, ','))) continue;
        *value++ = '\0';
        if (!strcmp(row, name) && atoi(last + 1) == step) return strtod(value, NULL);
    }
    return NAN;
}

/* luxonis_train.log: every line stamped "YYYY-MM-DD HH:MM:SS [LEVEL] " as
 * luxonis-ml's file sink; metrics.csv: name,value,step rows, step = epoch.
 * Read while the trainer still has them open: written as they happen. */
static void check_run_logs(lt_trainer *t)
{
    const char *run = lt_trainer_run_dir(t);
    char *log = slurp(run, "luxonis_train.log");
    regex_t stamp;
    const char *pattern = "^[0-9]{4}-[0-9]{2}-[0-9]{2} [0-9]{2}:[0-9]{2}:[0-9]{2} \\[(INFO|WARNING|ERROR)\\] [^ ]";
    ck_assert_int_eq(regcomp(&stamp, pattern, REG_EXTENDED | REG_NOSUB), 0);
    int lines = 0;
    for (char *line = strtok(log, "\n"); line; line = strtok(NULL, "\n"), lines++)
        ck_assert_msg(regexec(&stamp, line, 0, NULL, 0) == 0, "log line without the reference's stamp: '%s'", line);
    regfree(&stamp);
    free(log);
    log = slurp(run, "luxonis_train.log");
    char want[1200];
    snprintf(want, sizeof want, "[INFO] run directory: %s\n", run);
    ck_assert_msg(strstr(log, want), "no '%s' in:\n%s", want, log);
    ck_assert_msg(strstr(log, "[INFO] epoch 1/2  train/loss ") && strstr(log, "[INFO] epoch 2/2  train/loss "),
                  "no epoch lines in:\n%s", log);
    ck_assert_msg(strstr(log, "[INFO] test/loss "), "no test results in:\n%s", log);
    ck_assert_int_ge(lines, 4);
    free(log);

    char *csv = slurp(run, "metrics.csv");
    ck_assert_msg(!strncmp(csv, "name,value,step\n", 16), "metrics.csv header: %.40s", csv);
    int n = 0;
    const double *losses = lt_trainer_train_losses(t, &n);
    for (int e = 0; e < n; e++) {
        ck_assert_double_eq_tol(csv_value(csv, "train/loss", e), losses[e], 1e-7 * fabs(losses[e]));
        ck_assert_msg(isfinite(csv_value(csv, "val/loss", e)), "no val/loss at step %d (validation_interval 1)", e);
        /* lr 0.003 under the default ConstantLR (factor 1/3 for 5 epochs) */
        ck_assert_double_eq_tol(csv_value(csv, "lr-Adam", e), 0.003 / 3, 1e-12);
    }
    const lt_eval_result *r = lt_trainer_test_result(t);
    for (int i = 0; i < r->n; i++)
        ck_assert_double_eq_tol(csv_value(csv, r->names[i], n), r->values[i], 1e-7 * (1 + fabs(r->values[i])));
    free(csv);
}

START_TEST(test_fit_run_dir_and_reload)
{
    lt_config *c = tiny_config(NULL, 0);
    lt_trainer *t = lt_trainer_new(c, &(lt_trainer_options){.registry = fx_env.reg});
    ck_assert_msg(t != NULL, "trainer: %s", lt_last_error());
    ck_assert_msg(lt_trainer_fit(t) == 0, "fit: %s", lt_last_error());

    int n = 0;
    const double *losses = lt_trainer_train_losses(t, &n);
    ck_assert_int_eq(n, 2);
    ck_assert_msg(isfinite(losses[0]) && losses[1] < losses[0], "train loss did not fall: %g -> %g", losses[0],
                  losses[1]);

    const char *run = lt_trainer_run_dir(t);
    ck_assert_ptr_nonnull(strstr(run, fx_env.dir));
    ck_assert_msg(strstr(run + strlen(fx_env.dir), "/0-") != NULL, "run dir '%s' is not <save_dir>/0-<name>", run);
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
    check_run_logs(t);

    /* last.safetensors holds the final weights: a fresh model evaluates to
     * the same bits. */
    char last[1024];
    snprintf(last, sizeof last, "%s/last.safetensors", run);
    lt_trainer *e =
        lt_trainer_new(c, &(lt_trainer_options){.registry = fx_env.reg, .weights = last, .no_run_dir = true});
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
    lt_trainer *res = lt_trainer_new(c3, &(lt_trainer_options){.registry = fx_env.reg, .weights = last});
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
        lt_trainer *t = lt_trainer_new(c, &(lt_trainer_options){.registry = fx_env.reg});
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

/* ------------------------------------------- callbacks, freezing, resume */

/* The tiny config, smaller (4 batches of 8, accumulate 2: with
 * smart_cfg_auto_populate off, which would set it to 64 / batch_size and add
 * TestOnTrainEnd), plus YAML for the trainer section (`trainer_yaml`,
 * indented by 2; default: callbacks [TestOnTrainEnd]) and the
 * predefined_model (`model_params`, indented by 4). */
static lt_config *small_config(const char *trainer_yaml, const char *model_params, const char *const *extra,
                               int n_extra)
{
    char yaml[4096];
    snprintf(yaml, sizeof yaml,
             "model:\n  name: small\n  predefined_model:\n    name: ClassificationModel\n    variant: light\n"
             "    include_visualizers: false\n%s"
             "loader:\n  params:\n    dataset_type: generated\n    image_size: 16\n    n_classes: 3\n"
             "    n_train: 32\n    n_val: 16\n    n_test: 16\n"
             "trainer:\n  preprocessing:\n    train_image_size: [16, 16]\n    keep_aspect_ratio: false\n"
             "  seed: 5\n  smart_cfg_auto_populate: false\n  batch_size: 8\n  accumulate_grad_batches: 2\n"
             "  epochs: 2\n  n_workers: 0\n"
             "  validation_interval: 1\n  save_top_k: 1\n"
             "  optimizer:\n    name: Adam\n    params: {lr: 0.003}\n%s",
             model_params ? model_params : "",
             trainer_yaml ? trainer_yaml : "  callbacks:\n    - name: TestOnTrainEnd\n");
    const char *overrides[16] = {"tracker.save_directory", fx_env.dir};
    int n = 2;
    for (int i = 0; i < n_extra; i++) overrides[n++] = extra[i];
    lt_config *c = lt_config_parse(yaml, "small.yaml", overrides, n);
    ck_assert_msg(c != NULL, "config: %s", lt_last_error());
    return c;
}

static lt_trainer *fit(const lt_config *c, const lt_trainer_options *o)
{
    lt_trainer_options opts = *o;
    opts.registry = fx_env.reg;
    lt_trainer *t = lt_trainer_new(c, &opts);
    ck_assert_msg(t != NULL, "trainer: %s", lt_last_error());
    ck_assert_msg(lt_trainer_fit(t) == 0, "fit: %s", lt_last_error());
    return t;
}

static int n_epochs_trained(const lt_trainer *t)
{
    int n = 0;
    lt_trainer_train_losses(t, &n);
    return n;
}

START_TEST(test_early_stopping)
{
    /* min_delta 1000: only the first validation improves, so patience 2
     * stops after epoch 3 of 6. */
    lt_config *c = small_config("  callbacks:\n    - name: EarlyStopping\n"
                                "      params: {monitor: val/loss, mode: min, patience: 2, min_delta: 1000}\n"
                                "    - name: TestOnTrainEnd\n",
                                NULL, (const char *const[]){"trainer.epochs", "6"}, 2);
    lt_trainer *t = fit(c, &(lt_trainer_options){0});
    ck_assert_int_eq(n_epochs_trained(t), 3);
    ck_assert(lt_trainer_stopped_early(t));
    ck_assert_ptr_nonnull(lt_trainer_test_result(t)); /* TestOnTrainEnd still tests */
    lt_trainer_free(t);
    lt_config_free(c);

    /* mode max on a real improvement rule: 6 epochs or fewer, never an error. */
    c = small_config("  callbacks:\n    - name: EarlyStopping\n      params: {monitor: val/loss, mode: max, "
                     "patience: 1}\n    - name: TestOnTrainEnd\n      active: false\n",
                     NULL, NULL, 0);
    t = fit(c, &(lt_trainer_options){0});
    ck_assert_int_le(n_epochs_trained(t), 2);
    ck_assert_ptr_null(lt_trainer_test_result(t)); /* TestOnTrainEnd inactive: no test */
    lt_trainer_free(t);
    lt_config_free(c);

    /* An unknown monitor fails at the first validation, naming the results. */
    c = small_config("  callbacks:\n    - name: EarlyStopping\n      params: {monitor: val/acc}\n", NULL, NULL, 0);
    t = lt_trainer_new(c, &(lt_trainer_options){.registry = fx_env.reg});
    ck_assert_ptr_nonnull(t);
    ck_assert_int_eq(lt_trainer_fit(t), -1);
    ck_assert_msg(strstr(lt_last_error(), "'val/acc'") && strstr(lt_last_error(), "val/loss"), "%s",
                  lt_last_error());
    lt_trainer_free(t);
    lt_config_free(c);

    c = small_config("  callbacks:\n    - name: EarlyStopping\n      params: {mode: maximum}\n", NULL, NULL, 0);
    ck_assert_ptr_null(lt_trainer_new(c, &(lt_trainer_options){.registry = fx_env.reg}));
    ck_assert_msg(strstr(lt_last_error(), "mode") && strstr(lt_last_error(), "maximum"), "%s", lt_last_error());
    lt_config_free(c);
    c = small_config("  callbacks:\n    - name: EarlyStopping\n      params: {patiense: 2}\n", NULL, NULL, 0);
    ck_assert_ptr_null(lt_trainer_new(c, &(lt_trainer_options){.registry = fx_env.reg}));
    ck_assert_msg(strstr(lt_last_error(), "patiense"), "%s", lt_last_error());
    lt_config_free(c);
}
END_TEST

static bool is_buffer(const char *name)
{
    return strstr(name, ".running_") || strstr(name, ".num_batches_tracked");
}

/* Every tensor of two checkpoints whose name starts with `prefix` (only
 * parameters, no batch-norm statistics, when params_only): equal bytes
 * (expect_equal) or at least one differing. */
static void compare_tensors(const char *a_path, const char *b_path, const char *prefix, bool params_only,
                            bool expect_equal)
{
    lt_safetensors *a = lt_safetensors_load(a_path), *b = lt_safetensors_load(b_path);
    ck_assert_msg(a && b, "load: %s", lt_last_error());
    if (!*prefix) ck_assert_uint_eq(lt_safetensors_count(a), lt_safetensors_count(b));
    int compared = 0, differing = 0;
    for (size_t i = 0; i < lt_safetensors_count(a); i++) {
        const lt_tensor *x = lt_safetensors_at(a, i);
        if (strncmp(x->name, prefix, strlen(prefix)) != 0 || (params_only && is_buffer(x->name))) continue;
        const lt_tensor *y = lt_safetensors_find(b, x->name);
        ck_assert_msg(y != NULL, "%s is in %s but not in %s", x->name, a_path, b_path);
        ck_assert_int_eq(x->numel, y->numel);
        compared++;
        const bool same = !memcmp(x->data, y->data, (size_t)x->numel * lt_dtype_size(x->dtype));
        if (!same) differing++;
        if (expect_equal) ck_assert_msg(same, "%s differs between %s and %s", x->name, a_path, b_path);
    }
    ck_assert_msg(compared > 0, "no tensor named %s*", prefix);
    if (!expect_equal) ck_assert_msg(differing > 0, "every %s* tensor is the same", prefix);
    lt_safetensors_free(a);
    lt_safetensors_free(b);
}

static void compare_checkpoints(const char *a_path, const char *b_path, const char *prefix, bool expect_equal)
{
    compare_tensors(a_path, b_path, prefix, false, expect_equal);
}

/* A number of the scheduler state in a checkpoint's metadata. */
static double scheduler_value(const char *path, const char *key)
{
    lt_safetensors *f = lt_safetensors_load(path);
    ck_assert_msg(f != NULL, "%s", lt_last_error());
    const char *yaml = lt_safetensors_meta(f, "scheduler");
    ck_assert_ptr_nonnull(yaml);
    lt_cfg *st = lt_cfg_parse_yaml(yaml, strlen(yaml), "scheduler");
    double v = NAN;
    ck_assert_msg(st && lt_cfg_as_float(lt_cfg_peek(st, key), key, &v) == 0, "%s: %s", key, lt_last_error());
    lt_cfg_free(st);
    lt_safetensors_free(f);
    return v;
}

static char *last_of(const lt_trainer *t)
{
    char *s = strdup(lt_trainer_resume_checkpoint(t));
    ck_assert_ptr_nonnull(s);
    return s;
}

START_TEST(test_freezing)
{
    /* One epoch with the backbone frozen (unfreeze_after 1) at two learning
     * rates: the backbone keeps its initial weights in both, the head does
     * not; without freezing the backbone trains. */
    static const char frozen[] = "    params:\n      backbone_params:\n        freezing: {unfreeze_after: 1}\n";
    const char *const lr_high[] = {"trainer.optimizer.params.lr", "0.03", "trainer.epochs", "1"};
    const char *const lr_low[] = {"trainer.epochs", "1"};
    lt_config *c1 = small_config(NULL, frozen, lr_high, 4), *c2 = small_config(NULL, frozen, lr_low, 2);
    lt_config *c3 = small_config(NULL, NULL, lr_low, 2);
    ck_assert(c1->model.node_info[0].freezing.active);
    const char *backbone = c1->model.nodes[0].alias ? c1->model.nodes[0].alias : c1->model.nodes[0].name;
    char prefix[128];
    snprintf(prefix, sizeof prefix, "%s.", backbone);
    lt_trainer *t1 = fit(c1, &(lt_trainer_options){0}), *t2 = fit(c2, &(lt_trainer_options){0});
    lt_trainer *t3 = fit(c3, &(lt_trainer_options){0});
    char *p1 = last_of(t1), *p2 = last_of(t2), *p3 = last_of(t3);
    compare_checkpoints(p1, p2, prefix, true);
    compare_checkpoints(p1, p2, "ClassificationHead.", false);
    compare_checkpoints(p2, p3, prefix, false);
    free(p1);
    free(p2);
    free(p3);
    lt_trainer_free(t1);
    lt_trainer_free(t2);
    lt_trainer_free(t3);
    lt_config_free(c1);
    lt_config_free(c2);
    lt_config_free(c3);

    /* A fraction: 0.5 of 2 epochs unfreezes at epoch 1 (int(0.5 * 2)). */
    lt_config *c = small_config(NULL, "    params:\n      backbone_params:\n        freezing: {unfreeze_after: 0.5}\n",
                                NULL, 0);
    ck_assert(c->model.node_info[0].freezing.unfreeze_is_fraction);
    lt_trainer *t = fit(c, &(lt_trainer_options){0});
    ck_assert_int_eq(n_epochs_trained(t), 2);
    lt_trainer_free(t);
    lt_config_free(c);
}
END_TEST

START_TEST(test_lr_after_unfreeze)
{
    /* The backbone is frozen in epoch 1 and unfreezes in epoch 2 at
     * lr_after_unfreeze (SGD, ExponentialLR 0.5): with 0 its parameters
     * equal the 1-epoch run's (frozen, then a zero rate), with 0.02 they
     * move; the group's rate after epoch 2 is 0.02 * 0.5, the default
     * group's 0.003 * 0.5^2. */
    static const char frozen0[] = "    params:\n      backbone_params:\n"
                                  "        freezing: {unfreeze_after: 1, lr_after_unfreeze: 0.0}\n";
    static const char frozen2[] = "    params:\n      backbone_params:\n"
                                  "        freezing: {unfreeze_after: 1, lr_after_unfreeze: 0.02}\n";
    const char *const sgd[] = {"trainer.optimizer.name", "SGD", "trainer.scheduler.name", "ExponentialLR",
                               "trainer.scheduler.params", "{gamma: 0.5}", "trainer.epochs", "1"};
    lt_config *c1 = small_config(NULL, frozen2, sgd, 8), *c2a = small_config(NULL, frozen0, sgd, 6),
              *c2b = small_config(NULL, frozen2, sgd, 6);
    lt_trainer *t1 = fit(c1, &(lt_trainer_options){0}), *t2a = fit(c2a, &(lt_trainer_options){0});
    lt_trainer *t2b = fit(c2b, &(lt_trainer_options){0});
    ck_assert_int_eq(n_epochs_trained(t2b), 2);
    char *p1 = last_of(t1), *p2a = last_of(t2a), *p2b = last_of(t2b);
    const char *backbone = c1->model.nodes[0].alias ? c1->model.nodes[0].alias : c1->model.nodes[0].name;
    char prefix[128];
    snprintf(prefix, sizeof prefix, "%s.", backbone);
    compare_tensors(p1, p2a, prefix, true, true);
    compare_tensors(p1, p2b, prefix, true, false);
    compare_tensors(p1, p2a, "ClassificationHead.", true, false); /* the head trains on */
    ck_assert_double_eq(scheduler_value(p2b, "lr.1"), 0.02 * 0.5);
    ck_assert_double_eq(scheduler_value(p2b, "lr"), 0.003 * 0.5 * 0.5);
    ck_assert_double_eq(scheduler_value(p1, "lr.1"), 0.003 * 0.5); /* before unfreezing: the default rate */
    free(p1);
    free(p2a);
    free(p2b);
    lt_trainer_free(t1);
    lt_trainer_free(t2a);
    lt_trainer_free(t2b);
    lt_config_free(c1);
    lt_config_free(c2a);
    lt_config_free(c2b);
}
END_TEST

/* An interrupted run resumed (twice: at an epoch boundary and within an
 * epoch) ends with the same weights, optimizer state and test metrics, bit
 * for bit, as an uninterrupted one: batch order and dropout restart from
 * (seed, epoch) and the skipped batches are the ones already trained. */
START_TEST(test_interrupt_and_resume)
{
    lt_config *c = small_config(NULL, NULL, NULL, 0);
    lt_trainer *full = fit(c, &(lt_trainer_options){0});
    ck_assert(!lt_trainer_interrupted(full));

    lt_trainer *a = fit(c, &(lt_trainer_options){.stop_after_steps = 4}); /* all 4 batches of epoch 1 */
    ck_assert(lt_trainer_interrupted(a));
    ck_assert_int_eq(n_epochs_trained(a), 1);
    ck_assert_ptr_null(lt_trainer_test_result(a)); /* no test on an interrupt */
    char *ckpt_a = last_of(a);
    lt_trainer *b = fit(c, &(lt_trainer_options){.weights = ckpt_a, .resume = true, .stop_after_steps = 2});
    ck_assert(lt_trainer_interrupted(b)); /* halfway through epoch 2 */
    ck_assert_int_eq(n_epochs_trained(b), 0);
    char *ckpt_b = last_of(b);
    lt_safetensors *f = lt_safetensors_load(ckpt_b);
    ck_assert_ptr_nonnull(f);
    ck_assert_str_eq(lt_safetensors_meta(f, "epoch"), "1");
    ck_assert_str_eq(lt_safetensors_meta(f, "step"), "2");
    lt_safetensors_free(f);
    lt_trainer *done = fit(c, &(lt_trainer_options){.weights = ckpt_b, .resume = true});
    ck_assert(!lt_trainer_interrupted(done));

    char *p_full = last_of(full), *p_done = last_of(done);
    compare_checkpoints(p_full, p_done, "", true);
    int n_full = 0, n_done = 0;
    const double *l_full = lt_trainer_train_losses(full, &n_full), *l_done = lt_trainer_train_losses(done, &n_done);
    ck_assert_int_eq(n_full, 2);
    ck_assert_int_eq(n_done, 1);
    ck_assert_msg(l_done[0] == l_full[1], "epoch 2 loss %.17g resumed vs %.17g", l_done[0], l_full[1]);
    const lt_eval_result *r_full = lt_trainer_test_result(full), *r_done = lt_trainer_test_result(done);
    ck_assert(r_full && r_done);
    ck_assert_int_eq(r_full->n, r_done->n);
    for (int i = 0; i < r_full->n; i++)
        ck_assert_msg(r_full->values[i] == r_done->values[i], "%s: %.17g vs %.17g", r_full->names[i],
                      r_full->values[i], r_done->values[i]);

    /* The newest run of this config is the finished one; nothing to resume there. */
    char *found = lt_trainer_find_resume(c);
    ck_assert_ptr_nonnull(found);
    ck_assert_str_eq(found, p_done);
    ck_assert_ptr_null(
        lt_trainer_new(c, &(lt_trainer_options){.registry = fx_env.reg, .weights = found, .resume = true}));
    ck_assert_msg(strstr(lt_last_error(), "nothing to resume"), "%s", lt_last_error());
    free(found);

    free(p_full);
    free(p_done);
    free(ckpt_a);
    free(ckpt_b);
    lt_trainer_free(full);
    lt_trainer_free(a);
    lt_trainer_free(b);
    lt_trainer_free(done);
    lt_config_free(c);
}
END_TEST

/* SIGINT with the handlers installed stops at the first optimizer step. */
START_TEST(test_sigint_stops_cleanly)
{
    lt_config *c = small_config(NULL, NULL, NULL, 0);
    lt_trainer *t = lt_trainer_new(c, &(lt_trainer_options){.registry = fx_env.reg});
    ck_assert_ptr_nonnull(t);
    lt_trainer_handle_signals();
    ck_assert_int_eq(raise(SIGINT), 0);
    signal(SIGINT, SIG_DFL);
    ck_assert_int_eq(lt_trainer_fit(t), 0);
    ck_assert(lt_trainer_interrupted(t));
    ck_assert_int_eq(n_epochs_trained(t), 0);
    lt_safetensors *f = lt_safetensors_load(lt_trainer_resume_checkpoint(t));
    ck_assert_ptr_nonnull(f);
    ck_assert_str_eq(lt_safetensors_meta(f, "epoch"), "0");
    ck_assert_str_eq(lt_safetensors_meta(f, "step"), "2"); /* accumulate_grad_batches 2 */
    lt_safetensors_free(f);
    lt_trainer_free(t);
    lt_config_free(c);
}
END_TEST

static void expect_failure(const char *const *extra, int n, const char *needle)
{
    const char *overrides[16] = {"tracker.save_directory", fx_env.dir};
    for (int i = 0; i < n; i++) overrides[2 + i] = extra[i];
    lt_config *c = lt_config_parse(tiny_yaml, "tiny.yaml", overrides, n + 2);
    if (c) {
        lt_trainer *t = lt_trainer_new(c, &(lt_trainer_options){.registry = fx_env.reg});
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
    lt_trainer *t =
        lt_trainer_new(c, &(lt_trainer_options){.registry = fx_env.reg, .weights = "/nonexistent.safetensors"});
    ck_assert_ptr_null(t);
    ck_assert_ptr_nonnull(strstr(lt_last_error(), "/nonexistent.safetensors"));
    lt_config_free(c);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("core_trainer");
    TCase *tc = tcase_create("trainer");
    tcase_add_checked_fixture(tc, fx_core_setup, fx_core_teardown);
    tcase_set_timeout(tc, 600);
    tcase_add_test(tc, test_fit_run_dir_and_reload);
    tcase_add_test(tc, test_deterministic_with_accumulation_and_clipping);
    tcase_add_test(tc, test_bad_configs);
    tcase_add_test(tc, test_early_stopping);
    tcase_add_test(tc, test_freezing);
    tcase_add_test(tc, test_lr_after_unfreeze);
    tcase_add_test(tc, test_interrupt_and_resume);
    tcase_add_test(tc, test_sigint_stops_cleanly);
    suite_add_tcase(s, tc);
    return fx_run_suite(s);
}

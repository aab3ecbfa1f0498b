/* `ltrain benchmark` end to end: the --json object's keys and values, the
 * forward FLOPs of the demo model against torch's count
 * (tests/fixtures/benchmark_flops.json from tests/reference/benchmark_flops.py),
 * infer mode, the text report and command-line errors. No timing assertions. */
#include "fixture.h"
#include <check.h>
#include <jansson.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#ifndef LT_LTRAIN_EXE
#error "LT_LTRAIN_EXE must be defined by the build"
#endif

static char tmp[64];
static const char *demo = LT_SOURCE_ROOT "/configs/demo.yaml";

static void setup(void)
{
    snprintf(tmp, sizeof tmp, "/tmp/ltrain-bench.XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(tmp));
}

static void teardown(void)
{
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmp);
    ck_assert_int_eq(system(cmd), 0);
}

static char *slurp(const char *name)
{
    char path[128];
    snprintf(path, sizeof path, "%s/%s", tmp, name);
    FILE *f = fopen(path, "rb");
    ck_assert_ptr_nonnull(f);
    char *s = calloc(1, 1 << 20);
    ck_assert_ptr_nonnull(s);
    const size_t n = fread(s, 1, (1 << 20) - 1, f);
    ck_assert(n < (1 << 20) - 1 && !ferror(f));
    fclose(f);
    return s;
}

/* Runs `ltrain benchmark ARGS` in the temporary directory; returns its exit
 * status, with stdout and stderr in *out and *err (free both). */
static int run(const char *args, char **out, char **err)
{
    char cmd[2048];
    snprintf(cmd, sizeof cmd, "cd '%s' && '%s' benchmark %s >out.txt 2>err.txt", tmp, LT_LTRAIN_EXE, args);
    const int status = system(cmd);
    *out = slurp("out.txt");
    *err = slurp("err.txt");
    ck_assert_msg(!strstr(*err, "Sanitizer") && !strstr(*err, "runtime error"), "sanitizer report: %s", *err);
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

/* The --json object of a run that must succeed (stdout holds nothing else). */
static json_t *run_json(const char *args)
{
    char *out, *err;
    const int rc = run(args, &out, &err);
    ck_assert_msg(rc == 0, "ltrain benchmark %s: exit %d: %s", args, rc, err);
    json_error_t e;
    json_t *j = json_loads(out, 0, &e);
    ck_assert_msg(j && json_is_object(j), "stdout is not one JSON object (%s): %s", e.text, out);
    free(out);
    free(err);
    return j;
}

static double num(const json_t *o, const char *key)
{
    const json_t *v = json_object_get(o, key);
    ck_assert_msg(json_is_number(v), "key '%s' missing or not a number", key);
    return json_number_value(v);
}

static const char *str(const json_t *o, const char *key)
{
    const json_t *v = json_object_get(o, key);
    ck_assert_msg(json_is_string(v), "key '%s' missing or not a string", key);
    return json_string_value(v);
}

static const char *const kinds[] = {"conv", "gemm", "batch_norm", "elementwise", "pooling",
                                    "loss", "optimizer", "data", "other"};
enum { N_KINDS = sizeof kinds / sizeof kinds[0] };

static double split(const json_t *o, const char *kind)
{
    const json_t *s = json_object_get(o, "split_ms");
    ck_assert_msg(json_is_object(s), "split_ms missing");
    return num(s, kind);
}

/* Every key of the interface, with sane values. */
static void check_keys(const json_t *j, const char *mode, int64_t batch, int64_t steps)
{
    ck_assert_str_eq(str(j, "workload"), "demo_classification");
    ck_assert_str_eq(str(j, "mode"), mode);
    ck_assert_int_gt(strlen(str(j, "backend")), 0);
    ck_assert_int_ge(num(j, "threads"), 1);
    ck_assert_int_eq(num(j, "batch"), batch);
    ck_assert_int_eq(num(j, "steps"), steps);
    const json_t *input = json_object_get(j, "input");
    ck_assert_msg(json_is_array(input) && json_array_size(input) == 3, "input is not [C,H,W]");
    const double med = num(j, "ms_median"), lo = num(j, "ms_min"), hi = num(j, "ms_max");
    ck_assert(lo > 0 && lo <= med && med <= hi);
    ck_assert_double_eq_tol(num(j, "img_per_s"), (double)batch / (med / 1e3), 1e-6 * num(j, "img_per_s"));
    const double fwd = num(j, "fwd_gflop_per_img"), step = num(j, "gflop_per_step");
    ck_assert_double_eq_tol(step, fwd * (double)batch * (strcmp(mode, "train") ? 1 : 3), 1e-6 * step);
    ck_assert_double_eq_tol(num(j, "gflops"), step / (med / 1e3), 1e-6 * num(j, "gflops"));
    ck_assert(num(j, "peak_rss_mb") > 1.0);
    const json_t *s = json_object_get(j, "split_ms");
    ck_assert_int_eq(json_object_size(s), N_KINDS);
    for (int k = 0; k < N_KINDS; k++) ck_assert_msg(split(j, kinds[k]) >= 0.0, "split_ms.%s < 0", kinds[k]);
    ck_assert_int_eq(num(j, "arena_grows_timed"), 0); /* no fresh step memory after warm-up */
    ck_assert(num(j, "load_avg") >= 0.0);
}

static bool exists(const char *name)
{
    char path[128];
    struct stat st;
    snprintf(path, sizeof path, "%s/%s", tmp, name);
    return stat(path, &st) == 0;
}

START_TEST(test_train_json)
{
    char args[1024];
    snprintf(args, sizeof args, "--config '%s' --steps 2 --warmup 1 --batch 2 --threads 1 --json", demo);
    json_t *j = run_json(args);
    check_keys(j, "train", 2, 2);
    ck_assert_int_eq(num(j, "threads"), 1);
    ck_assert_int_eq(num(j, "fwd_flop_per_img"), 74027008); /* = fixture case "demo 32x32", checked below */
    for (const char *const *k = (const char *const[]){"conv", "gemm", "batch_norm", "elementwise", "pooling", "loss",
                                                       "optimizer", NULL};
         *k; k++)
        ck_assert_msg(split(j, *k) > 0.0, "a train step spends no time in %s", *k);
    ck_assert_msg(!exists("output"), "benchmark created a run directory");
    json_decref(j);
}
END_TEST

START_TEST(test_infer_json)
{
    char args[1024];
    snprintf(args, sizeof args, "--config '%s' --steps 2 --warmup 1 --batch 3 --mode infer --json", demo);
    json_t *j = run_json(args);
    check_keys(j, "infer", 3, 2);
    ck_assert(split(j, "conv") > 0.0);
    ck_assert(split(j, "loss") == 0.0 && split(j, "optimizer") == 0.0);
    json_decref(j);
}
END_TEST

/* A segmentation head gets one-hot [B, C, H, W] masks. */
START_TEST(test_segmentation_train)
{
    char args[1024];
    snprintf(args, sizeof args, "--config '%s/tests/core/benchmark_segmentation.yaml' --steps 1 --warmup 1 --json",
             LT_SOURCE_ROOT);
    json_t *j = run_json(args);
    ck_assert_str_eq(str(j, "workload"), "bench_segmentation");
    ck_assert_int_eq(num(j, "batch"), 2); /* trainer.batch_size */
    ck_assert(split(j, "conv") > 0.0 && split(j, "loss") > 0.0 && split(j, "optimizer") > 0.0);
    json_decref(j);
}
END_TEST

/* fwd FLOPs per image equal torch's hook count, at several image sizes and
 * channel counts (so H, W and C all reach the model as the config says),
 * for a classification and a segmentation (transposed conv) model. */
START_TEST(test_flops_match_torch)
{
    json_error_t e;
    json_t *fx = json_load_file(LT_SOURCE_ROOT "/tests/fixtures/benchmark_flops.json", 0, &e);
    ck_assert_msg(fx, "benchmark_flops.json: %s", e.text);
    size_t i;
    json_t *c;
    json_array_foreach(json_object_get(fx, "cases"), i, c) {
        char args[1024];
        int len = snprintf(args, sizeof args, "--config '%s/%s' --steps 1 --warmup 0 --batch 1 --mode infer --json",
                           LT_SOURCE_ROOT, json_string_value(json_object_get(c, "config")));
        size_t k;
        json_t *ov;
        json_array_foreach(json_object_get(c, "overrides"), k, ov)
            len += snprintf(args + len, sizeof args - (size_t)len, " '%s'", json_string_value(ov));
        json_t *j = run_json(args);
        const char *name = json_string_value(json_object_get(c, "name"));
        ck_assert_msg(num(j, "fwd_flop_per_img") == num(c, "fwd_flop_per_img"), "%s: fwd FLOPs %.0f, torch %.0f",
                      name, num(j, "fwd_flop_per_img"), num(c, "fwd_flop_per_img"));
        ck_assert_double_eq_tol(num(j, "fwd_gflop_per_img"), num(c, "fwd_flop_per_img") / 1e9, 1e-9);
        ck_assert_msg(json_equal(json_object_get(j, "input"), json_object_get(c, "input")), "%s: input differs", name);
        json_decref(j);
    }
    ck_assert_int_eq(i, 5);
    json_decref(fx);
}
END_TEST

START_TEST(test_text_report)
{
    char args[1024], *out, *err;
    snprintf(args, sizeof args, "--config '%s' --steps 1 --warmup 0 --batch 2", demo);
    ck_assert_int_eq(run(args, &out, &err), 0);
    for (const char *const *w = (const char *const[]){"demo_classification, train, batch 2, input 3x32x32", "conv ",
                                                       "ms/step", "images/s", "GFLOP/s", "peak RSS", NULL};
         *w; w++)
        ck_assert_msg(strstr(out, *w), "text report lacks '%s':\n%s", *w, out);
    for (int k = 0; k < N_KINDS; k++) {
        char row[32];
        snprintf(row, sizeof row, "\n  %s ", kinds[k]);
        ck_assert_msg(strstr(out, row), "no row for %s:\n%s", kinds[k], out);
    }
    free(out);
    free(err);
}
END_TEST

/* Bad command lines: exit status 2 and a message naming the problem. */
START_TEST(test_usage_errors)
{
    static const struct {
        const char *args, *want;
    } cases[] = {
        {"--steps 2", "--config FILE is required"},
        {"--config C --steps 0", "--steps must be a positive integer, not '0'"},
        {"--config C --warmup -1", "--warmup must be a non-negative integer, not '-1'"},
        {"--config C --batch x", "--batch must be a positive integer, not 'x'"},
        {"--config C --threads 2x", "--threads must be a positive integer, not '2x'"},
        {"--config C --mode fit", "--mode must be train or infer, not 'fit'"},
        {"--config C --jsn", "unknown option '--jsn'"},
        {"--config C --steps", "option '--steps' needs a value"},
        {"--config C trainer.epochs", "override 'trainer.epochs' has no value"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *out, *err;
        ck_assert_int_eq(run(cases[i].args, &out, &err), 2);
        ck_assert_msg(strstr(err, cases[i].want), "'%s': stderr lacks '%s': %s", cases[i].args, cases[i].want, err);
        ck_assert_str_eq(out, "");
        free(out);
        free(err);
    }
    char *out, *err;
    ck_assert_int_eq(run("--help", &out, &err), 0);
    ck_assert_ptr_nonnull(strstr(out, "Usage: ltrain benchmark"));
    free(out);
    free(err);
    ck_assert_int_eq(run("--config /nonexistent.yaml", &out, &err), 1);
    ck_assert_ptr_nonnull(strstr(err, "/nonexistent.yaml"));
    free(out);
    free(err);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("core_benchmark");
    TCase *tc = tcase_create("benchmark");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 600);
    tcase_add_test(tc, test_train_json);
    tcase_add_test(tc, test_infer_json);
    tcase_add_test(tc, test_flops_match_torch);
    tcase_add_test(tc, test_segmentation_train);
    tcase_add_test(tc, test_text_report);
    tcase_add_test(tc, test_usage_errors);
    suite_add_tcase(s, tc);
    return fx_run_suite(s);
}

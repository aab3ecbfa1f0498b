/* Weights into a model built from a config (core/weights.h): torchvision's
 * resnet18 state_dict, written as safetensors by
 * tests/reference/resnet_reference.py, loads through the node `weights`
 * param and --weights, and ResNet-18 + ClassificationHead then gives
 * torchvision's eval-mode logits (1e-4); unused tensors are reported (or
 * fail under strict_weights_loading); downloads, shape mismatches and
 * ambiguous names fail naming the file and tensor. */
#define _POSIX_C_SOURCE 200809L
#include "fixture.h"

#include "config/config.h"
#include "core_fixture.h"
#include "model.h"
#include "trainer.h"
#include "weights.h"

#include <ltrain/context.h>

#include <check.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define FIXTURE(name) LT_SOURCE_ROOT "/tests/fixtures/" name
#define TORCHVISION FIXTURE("resnet18_torchvision.safetensors")
#define HEAD FIXTURE("resnet18_head.safetensors")

/* ResNet-18 "backbone" -> ClassificationHead "head" (n_classes, no
 * dropout), each with the given params.weights (NULL: none), on 32x32
 * images; `extra` is more YAML for the model (indented by 2: more nodes) and
 * the trainer (indented by 2). */
static lt_config *config_with(const char *backbone_weights, const char *head_weights, int n_classes,
                              const char *model_extra, const char *trainer_extra)
{
    char yaml[4096];
    snprintf(yaml, sizeof yaml,
             "model:\n  name: tv\n  nodes:\n"
             "    - name: ResNet\n      alias: backbone\n      variant: \"18\"\n      params: {weights: %s}\n"
             "    - name: ClassificationHead\n      alias: head\n      inputs: [backbone]\n"
             "      params: {dropout_rate: 0.0, n_classes: %d, weights: %s}\n%s"
             "loader:\n  params: {dataset_type: generated, image_size: 32, n_classes: 3, n_train: 4, n_val: 2, "
             "n_test: 2}\n"
             "trainer:\n  preprocessing: {train_image_size: [32, 32], keep_aspect_ratio: false}\n"
             "  batch_size: 2\n  n_workers: 0\n%s",
             backbone_weights ? backbone_weights : "null", n_classes, head_weights ? head_weights : "null",
             model_extra ? model_extra : "", trainer_extra ? trainer_extra : "");
    lt_config *c = lt_config_parse(yaml, "tv.yaml", NULL, 0);
    ck_assert_msg(c != NULL, "config: %s", lt_last_error());
    return c;
}

static lt_config *config(const char *backbone_weights, const char *head_weights, const char *trainer_extra)
{
    return config_with(backbone_weights, head_weights, 5, NULL, trainer_extra);
}

/* The model of an evaluation-only trainer (as ltrain test / infer build
 * it) with --weights `weights`; NULL with the error kept. */
static lt_trainer *open_model(const lt_config *c, const char *weights)
{
    return lt_trainer_new(c, &(lt_trainer_options){.registry = fx_env.reg, .weights = weights, .no_run_dir = true});
}

/* Eval-mode logits on the fixture's input equal torchvision's (1e-4). */
static void check_logits(lt_trainer *t)
{
    lt_model *m = lt_trainer_model(t);
    lt_ctx *prev = lt_ctx_use(lt_trainer_ctx(t));
    char path[1024];
    snprintf(path, sizeof path, "%s", FIXTURE("resnet_reference.json"));
    json_error_t err;
    json_t *root = json_load_file(path, 0, &err);
    ck_assert_msg(root != NULL, "%s: %s", path, err.text);
    json_t *ref = json_object_get(root, "logits");
    json_t *shape = json_object_get(ref, "input_shape"), *input = json_object_get(ref, "input");
    int64_t in_shape[4];
    for (int d = 0; d < 4; d++) in_shape[d] = json_integer_value(json_array_get(shape, (size_t)d));
    lt_tensor *x = lt_empty(LT_F32, 4, in_shape);
    ck_assert_int_eq((int)x->numel, (int)json_array_size(input));
    for (int64_t i = 0; i < x->numel; i++) lt_f32(x)[i] = (float)json_number_value(json_array_get(input, (size_t)i));
    ck_assert_msg(lt_model_forward(m, x, LT_MODE_EVAL) == 0, "forward: %s", lt_last_error());
    const lt_value *v = lt_packet_get(lt_model_packet(m, lt_model_find_node(m, "head")), "classification");
    ck_assert(v && v->kind == LT_VALUE_TENSOR);
    const lt_tensor *logits = v->tensor;
    json_t *want = json_object_get(ref, "logits");
    ck_assert_int_eq((int)logits->numel, (int)json_array_size(want));
    ck_assert_int_eq((int)logits->shape[1], (int)json_integer_value(json_object_get(ref, "n_classes")));
    for (int64_t i = 0; i < logits->numel; i++) {
        const double w = json_number_value(json_array_get(want, (size_t)i));
        ck_assert_msg(fabs(lt_f32(logits)[i] - w) <= 1e-4 * (1.0 + fabs(w)), "logit %lld: %.7g vs torchvision %.7g",
                      (long long)i, lt_f32(logits)[i], w);
    }
    json_decref(root);
    lt_ctx_use(prev);
}

START_TEST(test_node_weights_give_torchvision_logits)
{
    lt_config *c = config(TORCHVISION, HEAD, NULL);
    lt_trainer *t = open_model(c, NULL);
    ck_assert_msg(t != NULL, "open: %s", lt_last_error());
    check_logits(t);

    /* Loading again reports torchvision's fc.* as unused (not an error). */
    char *text = NULL;
    size_t size = 0;
    FILE *log = open_memstream(&text, &size);
    ck_assert_int_eq(lt_model_load_node_weights(lt_trainer_model(t), &(lt_weights_options){.log = log}), 0);
    fclose(log);
    ck_assert_msg(strstr(text, "node 'backbone': 2 tensors not used: 'fc.weight', 'fc.bias'") != NULL, "log: %s",
                  text);
    ck_assert_msg(!strstr(text, "not in the file"), "log: %s", text);
    free(text);
    lt_trainer_free(t);
    lt_config_free(c);
}
END_TEST

START_TEST(test_bare_state_dict_through_weights_option)
{
    /* --weights with torchvision's bare names: "conv1.weight" is the one
     * node name "backbone.conv1.weight"; the head keeps its own file. */
    lt_config *c = config(NULL, HEAD, NULL);
    lt_trainer *t = open_model(c, TORCHVISION);
    ck_assert_msg(t != NULL, "open: %s", lt_last_error());
    check_logits(t);
    lt_trainer_free(t);
    lt_config_free(c);
}
END_TEST

START_TEST(test_strict_weights_loading)
{
    lt_config *c = config(TORCHVISION, HEAD, "  strict_weights_loading: true\n");
    ck_assert_ptr_null(open_model(c, NULL));
    const char *e = lt_last_error();
    ck_assert_msg(strstr(e, "resnet18_torchvision.safetensors' do not match node 'backbone'") &&
                      strstr(e, "2 in the file unused ('fc.weight', 'fc.bias')") &&
                      strstr(e, "strict_weights_loading false"),
                  "error: %s", e);
    lt_config_free(c);

    /* The whole model from a file that lacks the head: missing tensors. */
    c = config(NULL, NULL, "  strict_weights_loading: true\n");
    ck_assert_ptr_null(open_model(c, TORCHVISION));
    e = lt_last_error();
    ck_assert_msg(strstr(e, "do not match the model: 2 missing from the file ('head.head.3.weight', "
                            "'head.head.3.bias')") &&
                      strstr(e, "2 in the file unused ('fc.weight', 'fc.bias')"),
                  "error: %s", e);
    lt_config_free(c);

    /* Strict and exact: the head's file holds exactly the head. */
    c = config(NULL, HEAD, "  strict_weights_loading: true\n");
    lt_trainer *t = open_model(c, NULL);
    ck_assert_msg(t != NULL, "open: %s", lt_last_error());
    lt_trainer_free(t);
    lt_config_free(c);
}
END_TEST

static void expect_open_error(const lt_config *c, const char *weights, const char *want1, const char *want2)
{
    ck_assert_ptr_null(open_model(c, weights));
    const char *e = lt_last_error();
    ck_assert_msg(strstr(e, want1) && (!want2 || strstr(e, want2)), "error: %s\n(expected '%s' and '%s')", e, want1,
                  want2 ? want2 : "");
}

static void expect_node_error(const char *backbone, const char *head, const char *want1, const char *want2)
{
    lt_config *c = config(backbone, head, NULL);
    expect_open_error(c, NULL, want1, want2);
    lt_config_free(c);
}

START_TEST(test_downloads_are_refused)
{
    expect_node_error("download", NULL, "node 'backbone' (ResNet)", "ltrain does not download weights");
    expect_node_error(NULL, "yolo", "'yolo' needs a download", "pass the file path");
    expect_node_error("https://example.com/r18.safetensors", NULL, "needs a download", NULL);
    expect_node_error("[1, 2]", NULL, "param 'weights'", "a .safetensors path");
}
END_TEST

START_TEST(test_none_and_errors_naming_tensors)
{
    /* "none" loads nothing. */
    lt_config *c = config("none", "None", NULL);
    lt_trainer *t = open_model(c, NULL);
    ck_assert_msg(t != NULL, "open: %s", lt_last_error());
    lt_trainer_free(t);
    lt_config_free(c);

    /* The head's file into the backbone: nothing matches. */
    expect_node_error(HEAD, NULL, "none of its tensors matches node 'backbone'", "e.g. 'conv1.weight'");
    /* A missing file. */
    expect_node_error(FIXTURE("no_such.safetensors"), NULL, "node 'backbone': params.weights", "no_such");

    /* A head of 4 classes: the file's [5,512] is named with both shapes. */
    c = config_with(NULL, HEAD, 4, NULL, NULL);
    expect_open_error(c, NULL, "resnet18_head.safetensors", "'head.head.3.weight'");
    expect_open_error(c, NULL, "the file has [5,512], the model [4,512]", NULL);
    lt_config_free(c);

    /* A bare name two nodes have is ambiguous. */
    c = config_with(NULL, NULL, 5, "    - name: ResNet\n      alias: second\n      variant: \"18\"\n", NULL);
    expect_open_error(c, TORCHVISION, "could be 'backbone.conv1.weight' or 'second.conv1.weight'", NULL);
    lt_config_free(c);
}
END_TEST

START_TEST(test_luxonis_train_names)
{
    /* The head's tensors named as in a luxonis-train state_dict
     * ("nodes.<node>.module.<name>", "nodes.<node>.<name>") load by --weights;
     * torchvision's file goes through the backbone's param. */
    lt_safetensors *head = lt_safetensors_load(HEAD);
    ck_assert_ptr_nonnull(head);
    char path[] = "/tmp/ltrain_test_weights_XXXXXX";
    const int fd = mkstemp(path);
    ck_assert_int_ge(fd, 0);
    close(fd);
    const lt_named_tensor renamed[] = {
        {"nodes.head.module.head.3.weight", (lt_tensor *)lt_safetensors_find(head, "head.3.weight")},
        {"nodes.head.head.3.bias", (lt_tensor *)lt_safetensors_find(head, "head.3.bias")},
    };
    ck_assert_msg(lt_safetensors_save(path, renamed, 2, NULL, 0) == 0, "save: %s", lt_last_error());
    lt_safetensors_free(head);
    lt_config *c = config(TORCHVISION, NULL, NULL);
    lt_trainer *t = open_model(c, path);
    ck_assert_msg(t != NULL, "open: %s", lt_last_error());
    check_logits(t);
    lt_trainer_free(t);
    lt_config_free(c);
    unlink(path);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("core_weights");
    TCase *tc = tcase_create("weights");
    tcase_add_checked_fixture(tc, fx_core_setup, fx_core_teardown);
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, test_node_weights_give_torchvision_logits);
    tcase_add_test(tc, test_bare_state_dict_through_weights_option);
    tcase_add_test(tc, test_strict_weights_loading);
    tcase_add_test(tc, test_downloads_are_refused);
    tcase_add_test(tc, test_none_and_errors_naming_tensors);
    tcase_add_test(tc, test_luxonis_train_names);
    suite_add_tcase(s, tc);
    return fx_run_suite(s);
}

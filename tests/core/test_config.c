/* Config (issue 4 point 1): the schema's keys and defaults, every error
 * kind with its exact message, --verbose defaults, overrides of every
 * form, predefined model expansion, the reference's validators, the
 * shipped configs, and save/reload identity. */
#include "fixture.h"
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config/config.h"

#define N(a) ((int)(sizeof(a) / sizeof((a)[0])))

static const char *str_or(const lt_cfg *v) { return v && v->text ? v->text : ""; }
static const lt_cfg *at(const lt_cfg *map, const char *a, const char *b) { return lt_cfg_peek(lt_cfg_peek(map, a), b); }

static lt_config *parse_ok(const char *text, const char *const *ov, int n_ov)
{
    lt_config *c = lt_config_parse(text, "t.yaml", ov, n_ov);
    ck_assert_msg(c, "config failed: %s", lt_last_error());
    return c;
}

static void parse_fails(const char *text, const char *const *ov, int n_ov, const char *want)
{
    lt_config *c = lt_config_parse(text, "t.yaml", ov, n_ov);
    ck_assert_msg(!c, "config should fail with: %s", want);
    ck_assert_str_eq(lt_last_error(), want);
}

static bool has_line(char **lines, int n, const char *want)
{
    for (int i = 0; i < n; i++)
        if (!strcmp(lines[i], want)) return true;
    return false;
}

static bool has_prefix(char **lines, int n, const char *want)
{
    for (int i = 0; i < n; i++)
        if (!strncmp(lines[i], want, strlen(want))) return true;
    return false;
}

static const char *full_config =
    "model:\n"
    "  name: my_model\n"
    "  nodes:\n"
    "    - name: ResNet\n"
    "      variant: '34'\n"
    "      params: {zero_init_residual: true}\n"
    "      freezing: {active: true, unfreeze_after: 0.5, lr_after_unfreeze: 0.001}\n"
    "    - name: ClassificationHead\n"
    "      alias: head\n"
    "      inputs: [ResNet]\n"
    "      params: {dropout_rate: 0.2}\n"
    "      task_name: animals\n"
    "      losses:\n"
    "        - name: CrossEntropyLoss\n"
    "          weight: 2\n"
    "          params: {label_smoothing: 0.1}\n"
    "      metrics:\n"
    "        - name: Accuracy\n"
    "        - name: F1Score\n"
    "          is_main_metric: true\n"
    "      visualizers:\n"
    "        - name: ClassificationVisualizer\n"
    "loader:\n"
    "  train_view: train\n"
    "  params: {dataset_dir: data/x, dataset_type: CLSDIR}\n"
    "tracker:\n"
    "  project_name: proj\n"
    "  save_directory: runs\n"
    "trainer:\n"
    "  batch_size: 16\n"
    "  epochs: 12\n"
    "  seed: 42\n"
    "  validation_interval: 3\n"
    "  n_log_images: 2\n"
    "  skip_last_batch: false\n"
    "  accumulate_grad_batches: 2\n"
    "  gradient_clip_val: 1.5\n"
    "  n_validation_batches: -1\n"
    "  n_workers: 2\n"
    "  resume_training: true\n"
    "  preprocessing:\n"
    "    train_image_size: [64, 96]\n"
    "    keep_aspect_ratio: false\n"
    "    color_space: BGR\n"
    "    normalize: {active: false}\n"
    "    augmentations:\n"
    "      - name: HorizontalFlip\n"
    "        params: {p: 0.5}\n"
    "      - name: ColorJitter\n"
    "        active: false\n"
    "  optimizer: {name: SGD, params: {lr: 0.1, momentum: 0.9}}\n"
    "  scheduler: {name: CosineAnnealingLR}\n"
    "  callbacks:\n"
    "    - name: EarlyStopping\n"
    "      params: {patience: 3}\n"
    "    - name: TestOnTrainEnd\n"
    "    - name: UploadCheckpoint\n"
    "    - name: ConvertOnTrainEnd\n"
    "      active: false\n";

START_TEST(test_full_config)
{
    lt_config *c = parse_ok(full_config, NULL, 0);
    ck_assert_str_eq(c->model.name, "my_model");
    ck_assert_int_eq(c->model.n_nodes, 2);
    const lt_node_config *b = &c->model.nodes[0], *h = &c->model.nodes[1];
    ck_assert_str_eq(b->name, "ResNet");
    ck_assert_str_eq(b->variant, "34");
    ck_assert_int_eq(b->n_inputs, 0);
    ck_assert_ptr_nonnull(lt_cfg_peek(b->params, "zero_init_residual"));
    const lt_config_freezing *f = &c->model.node_info[0].freezing;
    ck_assert(f->active && f->has_unfreeze_after && f->unfreeze_is_fraction && f->has_lr_after_unfreeze);
    ck_assert_double_eq(f->unfreeze_after, 0.5);
    ck_assert_double_eq(f->lr_after_unfreeze, 0.001);
    ck_assert_str_eq(h->alias, "head");
    ck_assert_str_eq(h->variant, "default");
    ck_assert_int_eq(h->n_inputs, 1);
    ck_assert_str_eq(h->inputs[0], "ResNet");
    ck_assert_str_eq(c->model.node_info[1].task_name, "animals");
    ck_assert_int_eq(h->n_losses, 1);
    ck_assert_str_eq(h->losses[0].name, "CrossEntropyLoss");
    ck_assert_float_eq(h->losses[0].weight, 2.0f);
    ck_assert_str_eq(h->losses[0].where, "t.yaml:14:11: model.nodes[1].losses[0]");
    ck_assert_int_eq(h->n_metrics, 2);
    ck_assert(!h->metrics[0].is_main_metric && h->metrics[1].is_main_metric);
    ck_assert_int_eq(h->n_visualizers, 1);
    ck_assert_int_eq(c->model.n_outputs, 1);
    ck_assert_str_eq(c->model.outputs[0], "head");
    ck_assert_ptr_null(c->model.predefined.name);

    ck_assert_str_eq(c->loader.name, "LuxonisLoaderTorch");
    ck_assert_int_eq(c->loader.train_view.n, 1);
    ck_assert_str_eq(c->loader.train_view.names[0], "train");
    ck_assert_str_eq(c->loader.val_view.names[0], "val");
    ck_assert_str_eq(str_or(lt_cfg_peek(c->loader.params, "dataset_type")), "clsdir"); /* lower-cased */

    const lt_config_trainer *t = &c->trainer;
    ck_assert_int_eq(t->batch_size, 16);
    ck_assert_int_eq(t->epochs, 12);
    ck_assert(t->has_seed && t->seed == 42);
    ck_assert_int_eq(t->deterministic, 1); /* forced by the seed */
    ck_assert_int_eq(t->validation_interval, 3);
    ck_assert_int_eq(t->n_log_images, 2);
    ck_assert(!t->skip_last_batch && t->resume_training);
    ck_assert(t->has_accumulate_grad_batches && t->accumulate_grad_batches == 2);
    ck_assert(t->has_gradient_clip_val && t->gradient_clip_val == 1.5);
    ck_assert(t->has_n_validation_batches && t->n_validation_batches == -1);
    ck_assert_int_eq(t->n_workers, 2);
    ck_assert_int_eq(t->preprocessing.train_image_size[0], 64);
    ck_assert_int_eq(t->preprocessing.train_image_size[1], 96);
    ck_assert(!t->preprocessing.keep_aspect_ratio && !t->preprocessing.normalize_active);
    ck_assert_str_eq(t->preprocessing.color_space, "BGR");
    ck_assert_int_eq(t->preprocessing.n_augmentations, 2);
    ck_assert(t->preprocessing.augmentations[0].active && !t->preprocessing.augmentations[1].active);
    ck_assert_str_eq(t->preprocessing.augmentations[0].apply_on_stages.names[0], "train");
    ck_assert_str_eq(t->optimizer.name, "SGD");
    ck_assert_ptr_nonnull(lt_cfg_peek(t->optimizer.params, "momentum"));
    ck_assert_str_eq(t->scheduler.name, "CosineAnnealingLR");
    ck_assert_int_eq(lt_cfg_peek(t->scheduler.params, "T_max") == NULL, 1);
    ck_assert_ptr_null(t->training_strategy.name);
    /* The user's four callbacks; all three smart defaults were present. */
    ck_assert_int_eq(t->n_callbacks, 4);
    ck_assert_str_eq(t->callbacks[0].name, "EarlyStopping");
    ck_assert(t->callbacks[0].active && !t->callbacks[3].active);
    ck_assert_str_eq(c->tracker.project_name, "proj");
    ck_assert_str_eq(c->tracker.save_directory, "runs");
    ck_assert_ptr_null(c->tracker.run_name);
    ck_assert(c->rich_logging);
    lt_config_free(c);
}
END_TEST

START_TEST(test_defaults_and_verbose_list)
{
    lt_config *c = parse_ok("", NULL, 0);
    const lt_config_trainer *t = &c->trainer;
    ck_assert_int_eq(t->batch_size, 32);
    ck_assert_int_eq(t->epochs, 100);
    ck_assert_int_eq(t->validation_interval, 5);
    ck_assert_int_eq(t->n_log_images, 4);
    ck_assert_int_eq(t->n_workers, 4);
    ck_assert_int_eq(t->save_top_k, 3);
    ck_assert(t->skip_last_batch && !t->resume_training && !t->has_seed && t->deterministic == -1);
    ck_assert(!t->has_accumulate_grad_batches && !t->has_gradient_clip_val && !t->has_n_validation_batches);
    ck_assert_str_eq(t->precision, "32");
    ck_assert_str_eq(t->optimizer.name, "Adam");
    ck_assert_str_eq(t->scheduler.name, "ConstantLR");
    ck_assert_int_eq(t->preprocessing.train_image_size[0], 256);
    ck_assert_int_eq(t->preprocessing.train_image_size[1], 256);
    ck_assert(t->preprocessing.keep_aspect_ratio && t->preprocessing.normalize_active);
    ck_assert_str_eq(t->preprocessing.color_space, "RGB");
    const lt_cfg *mean = lt_cfg_peek(t->preprocessing.normalize_params, "mean");
    ck_assert_int_eq(mean->n, 3);
    ck_assert_str_eq(mean->items[0]->text, "0.485");
    ck_assert_str_eq(c->model.name, "model");
    ck_assert_int_eq(c->model.n_nodes, 0);
    ck_assert_str_eq(c->loader.image_source, "image");
    ck_assert_str_eq(c->tracker.save_directory, "output");
    ck_assert_str_eq(str_or(at(c->exporter, "onnx", "opset_version")), "16"); /* the code's 16, not the docs' 12 */
    ck_assert_ptr_null(c->tuner);
    /* smart_cfg_auto_populate adds these three. */
    ck_assert_int_eq(t->n_callbacks, 3);
    ck_assert_str_eq(t->callbacks[0].name, "UploadCheckpoint");
    ck_assert_str_eq(t->callbacks[1].name, "TestOnTrainEnd");
    ck_assert_str_eq(t->callbacks[2].name, "ConvertOnTrainEnd");

    char **d = c->defaults;
    int n = c->n_defaults;
    ck_assert(has_line(d, n, "rich_logging = true"));
    ck_assert(has_line(d, n, "model.name = model"));
    ck_assert(has_line(d, n, "model.nodes = []"));
    ck_assert(has_line(d, n, "loader.train_view = [train]"));
    ck_assert(has_line(d, n, "trainer.batch_size = 32"));
    ck_assert(has_line(d, n, "trainer.epochs = 100"));
    ck_assert(has_line(d, n, "trainer.seed = ~"));
    ck_assert(has_line(d, n, "trainer.precision = '32'"));
    ck_assert(has_line(d, n, "trainer.preprocessing.train_image_size = [256, 256]"));
    ck_assert(has_line(d, n, "trainer.preprocessing.normalize.active = true"));
    ck_assert(has_line(d, n, "trainer.preprocessing.normalize.params = {mean: [0.485, 0.456, 0.406], "
                             "std: [0.229, 0.224, 0.225]}"));
    ck_assert(has_line(d, n, "trainer.optimizer = {name: Adam, params: {}}"));
    ck_assert(has_line(d, n, "tracker.save_directory = output"));
    ck_assert(has_line(d, n, "exporter.onnx.opset_version = 16"));
    ck_assert(has_line(d, n, "trainer.callbacks += TestOnTrainEnd (smart_cfg_auto_populate)"));
    /* Empty maps with their own keys are listed key by key, never whole. */
    ck_assert(!has_prefix(d, n, "trainer = "));
    ck_assert(!has_prefix(d, n, "trainer.preprocessing = "));
    /* Given keys are not defaults. */
    lt_config_free(c);
    c = parse_ok("trainer: {batch_size: 8}\n", NULL, 0);
    ck_assert(!has_prefix(c->defaults, c->n_defaults, "trainer.batch_size"));
    ck_assert(has_line(c->defaults, c->n_defaults, "trainer.epochs = 100"));
    lt_config_free(c);
}
END_TEST

START_TEST(test_unknown_keys)
{
    parse_fails("trainer:\n  bach_size: 8\n", NULL, 0,
                "t.yaml:2:14: trainer.bach_size: unknown key (did you mean 'batch_size'?)");
    parse_fails("modle:\n  name: x\n", NULL, 0, "t.yaml:2:3: modle: unknown key (did you mean 'model'?)");
    parse_fails("model:\n  nodes:\n    - name: A\n      lossses: []\n", NULL, 0,
                "t.yaml:4:16: model.nodes[0].lossses: unknown key (did you mean 'losses'?)");
    parse_fails("trainer:\n  preprocessing:\n    normalize: {activ: true}\n", NULL, 0,
                "t.yaml:3:24: trainer.preprocessing.normalize.activ: unknown key (did you mean 'active'?)");
    /* Nothing close: small tables list their keys. */
    parse_fails("trainer:\n  optimizer: {name: SGD, zzz: 1}\n", NULL, 0,
                "t.yaml:2:31: trainer.optimizer.zzz: unknown key (valid keys: name, params)");
    parse_fails("trainer:\n  qqqqqqqq: 1\n", NULL, 0, "t.yaml:2:13: trainer.qqqqqqqq: unknown key");
}
END_TEST

START_TEST(test_wrong_types)
{
    parse_fails("trainer:\n  epochs: ten\n", NULL, 0, "t.yaml:2:11: trainer.epochs: expected an integer, got 'ten'");
    parse_fails("trainer:\n  epochs: '5'\n", NULL, 0,
                "t.yaml:2:11: trainer.epochs: expected an integer, got '5' (quoted, so a string)");
    parse_fails("trainer:\n  gradient_clip_val: big\n", NULL, 0,
                "t.yaml:2:22: trainer.gradient_clip_val: expected a number, got 'big'");
    parse_fails("trainer:\n  skip_last_batch: yes\n", NULL, 0,
                "t.yaml:2:20: trainer.skip_last_batch: expected a boolean (true or false), got 'yes'");
    parse_fails("model: 5\n", NULL, 0, "t.yaml:1:8: model: expected a map, got '5'");
    parse_fails("model:\n  nodes: {name: A}\n", NULL, 0,
                "t.yaml:2:10: model.nodes: expected a list of maps, got a map");
    parse_fails("model:\n  nodes: [ResNet]\n", NULL, 0, "t.yaml:2:11: model.nodes[0]: expected a map, got 'ResNet'");
    parse_fails("trainer:\n  preprocessing:\n    train_image_size: [64, x]\n", NULL, 0,
                "t.yaml:3:28: trainer.preprocessing.train_image_size[1]: expected an integer, got 'x'");
    parse_fails("trainer:\n  preprocessing:\n    train_image_size: 64\n", NULL, 0,
                "t.yaml:3:23: trainer.preprocessing.train_image_size: expected a list of integers, got '64'");
    parse_fails("trainer:\n  preprocessing:\n    color_space: HSV\n", NULL, 0,
                "t.yaml:3:18: trainer.preprocessing.color_space: expected one of RGB, BGR, GRAY, got 'HSV'");
    parse_fails("trainer:\n  batch_size: null\n", NULL, 0, "t.yaml:2:15: trainer.batch_size: expected an integer, got null");
    parse_fails("trainer:\n  deterministic: maybe\n", NULL, 0,
                "t.yaml:2:18: trainer.deterministic: expected true, false or 'warn', got 'maybe'");
    parse_fails("loader:\n  val_view: [val, 3, [x]]\n", NULL, 0,
                "t.yaml:2:22: loader.val_view[2]: expected a string, got a list");
    parse_fails("model:\n  nodes:\n    - alias: a\n", NULL, 0,
                "t.yaml:3:7: model.nodes[0]: missing required key 'name'");
    parse_fails("- a\n", NULL, 0, "t.yaml:1:1: expected a map of sections (model, loader, trainer, ...), got a list");
    /* Deterministic "warn" and null nullable values are fine. */
    lt_config *c = parse_ok("trainer: {deterministic: warn, seed: null}\n", NULL, 0);
    ck_assert_int_eq(c->trainer.deterministic, 2);
    lt_config_free(c);
}
END_TEST

START_TEST(test_value_rules)
{
    parse_fails("trainer:\n  batch_size: 0\n", NULL, 0, "t.yaml:2:15: trainer.batch_size: expected an integer >= 1, got 0");
    parse_fails("trainer:\n  validation_interval: -2\n", NULL, 0,
                "t.yaml:2:24: trainer.validation_interval: expected -1 or an integer >= 1, got -2");
    parse_fails("trainer:\n  preprocessing: {train_image_size: [1, 2, 3]}\n", NULL, 0,
                "t.yaml:2:37: trainer.preprocessing.train_image_size: expected [height, width], got 3 values");
    parse_fails("trainer:\n  callbacks:\n    - name: EarlyStoping\n", NULL, 0,
                "t.yaml:3:13: trainer.callbacks[0].name: unknown callback 'EarlyStoping' (did you mean 'EarlyStopping'?)");
    parse_fails("trainer:\n  optimizer: {name: Adamw}\n", NULL, 0,
                "t.yaml:2:21: trainer.optimizer.name: unknown optimizer 'Adamw' (did you mean 'AdamW'?)");
    parse_fails("trainer:\n  scheduler: {name: StepLr}\n", NULL, 0,
                "t.yaml:2:21: trainer.scheduler.name: unknown scheduler 'StepLr' (did you mean 'StepLR'?)");
    parse_fails("model:\n  nodes:\n    - name: H\n      metrics:\n        - {name: A, is_main_metric: true}\n"
                "        - {name: B, is_main_metric: true}\n",
                NULL, 0,
                "t.yaml:6:37: multiple main metrics: 'A' and 'B'; only one can have is_main_metric: true");
    parse_fails("model:\n  nodes:\n    - name: H\n      alias: a/b\n", NULL, 0,
                "t.yaml:4:14: model.nodes[0]: the alias 'a/b' contains a '/', which is not allowed");
    parse_fails("model:\n  nodes:\n    - name: H\n      metrics: [{name: A}, {name: x/y}]\n", NULL, 0,
                "t.yaml:4:35: model.nodes[0].metrics[1]: the name 'x/y' contains a '/', which is not allowed");
    parse_fails("model:\n  nodes:\n    - name: H\n      losses: [{name: L, weight: -1}]\n", NULL, 0,
                "t.yaml:4:34: model.nodes[0].losses[0].weight: expected a number >= 0, got -1");
    parse_fails("model:\n  nodes:\n    - name: H\n      metrics: [{name: ConfusionMatrix}]\n", NULL, 0,
                "model: no main metric can be set because all the metrics are confusion matrices");
}
END_TEST

START_TEST(test_validators)
{
    lt_config *c = parse_ok("model:\n  nodes:\n"
                            "    - name: ResNet\n"
                            "    - name: Neck\n"
                            "    - name: ClassificationHead\n"
                            "      metrics: [{name: ConfusionMatrix}, {name: Accuracy}]\n"
                            "      losses: [{name: L, weight: 0}, {name: L}]\n"
                            "    - name: OtherHead\n"
                            "trainer:\n"
                            "  epochs: 4\n"
                            "  validation_interval: 10\n"
                            "  seed: 1\n"
                            "  deterministic: false\n"
                            "  callbacks: [{name: TestOnTrainEnd}, {name: EMACallback}, {name: ExportOnTrainEnd},\n"
                            "              {name: ConvertOnTrainEnd}]\n"
                            "  preprocessing:\n"
                            "    augmentations: [{name: Normalize, params: {mean: [0.5], std: [0.5]}},\n"
                            "                    {name: Mosaic4}]\n"
                            "loader: {train_view: train, val_view: [train], test_view: train}\n",
                            NULL, 0);
    const lt_config_model *m = &c->model;
    ck_assert_int_eq(m->n_nodes, 4);
    /* Linear multi-head topology: before the first head, the previous node;
     * from there on, the node before the first head. */
    ck_assert_int_eq(m->nodes[0].n_inputs, 0);
    ck_assert_str_eq(m->nodes[1].inputs[0], "ResNet");
    ck_assert_str_eq(m->nodes[2].inputs[0], "Neck");
    ck_assert_str_eq(m->nodes[3].inputs[0], "Neck");
    ck_assert(has_line(c->defaults, c->n_defaults, "model.nodes[3].inputs = [Neck]"));
    ck_assert_int_eq(m->n_outputs, 2);
    ck_assert_str_eq(m->outputs[0], "ClassificationHead");
    ck_assert_str_eq(m->outputs[1], "OtherHead");
    /* The first metric that is not a confusion matrix becomes the main one. */
    ck_assert(!m->nodes[2].metrics[0].is_main_metric && m->nodes[2].metrics[1].is_main_metric);
    ck_assert(has_line(c->warnings, c->n_warnings, "no main metric specified: using 'Accuracy'"));
    ck_assert(has_line(c->warnings, c->n_warnings, "loss 'L' has weight 0: it will not contribute to the training"));
    /* Duplicate module names get "{name}_{node alias}" (None without one). */
    ck_assert_ptr_null(m->nodes[2].losses[0].alias);
    ck_assert_str_eq(m->nodes[2].losses[1].alias, "L_None");

    const lt_config_trainer *t = &c->trainer;
    ck_assert_int_eq(t->validation_interval, 4); /* capped at epochs */
    ck_assert_int_eq(t->deterministic, 0);       /* given, so the seed does not force it */
    ck_assert_str_eq(t->callbacks[0].name, "EMACallback");
    ck_assert_str_eq(t->callbacks[1].name, "TestOnTrainEnd");
    ck_assert_str_eq(t->callbacks[2].name, "ExportOnTrainEnd");
    ck_assert(!t->callbacks[2].active); /* ConvertOnTrainEnd is active */
    ck_assert_int_eq(t->n_callbacks, 5); /* + UploadCheckpoint */
    /* The Normalize augmentation moved into normalize.params. */
    ck_assert_int_eq(t->preprocessing.n_augmentations, 1);
    ck_assert_str_eq(lt_cfg_peek(t->preprocessing.normalize_params, "mean")->items[0]->text, "0.5");
    /* Mosaic4 gets out_width = height, out_height = width (the reference's order). */
    ck_assert_str_eq(str_or(lt_cfg_peek(t->preprocessing.augmentations[0].params, "out_width")), "256");
    /* Same views: 10 validation batches. */
    ck_assert(t->has_n_validation_batches && t->n_validation_batches == 10);
    lt_config_free(c);

    /* A third duplicate finds "L_head" taken and gets "_0". */
    c = parse_ok("model:\n  nodes:\n    - name: H\n      alias: head\n"
                 "      losses: [{name: L}, {name: L}, {name: L}]\n",
                 NULL, 0);
    ck_assert_ptr_null(c->model.nodes[0].losses[0].alias);
    ck_assert_str_eq(c->model.nodes[0].losses[1].alias, "L_head");
    ck_assert_str_eq(c->model.nodes[0].losses[2].alias, "L_head_0");
    lt_config_free(c);

    /* smart_cfg_auto_populate off: nothing added. */
    c = parse_ok("trainer: {smart_cfg_auto_populate: false}\n", NULL, 0);
    ck_assert_int_eq(c->trainer.n_callbacks, 0);
    lt_config_free(c);
    /* ENVIRON is warned about and left out of the saved config. */
    c = parse_ok("ENVIRON: {AWS_ACCESS_KEY_ID: x}\n", NULL, 0);
    ck_assert(has_prefix(c->warnings, c->n_warnings, "ENVIRON in the config file is not recommended"));
    char *y = lt_config_to_yaml(c);
    ck_assert_ptr_null(strstr(y, "ENVIRON"));
    free(y);
    lt_config_free(c);
    /* Old spellings are upgraded. */
    c = parse_ok("model:\n  nodes: [{name: ResNet, params: {variant: '50'}}]\n"
                 "trainer: {preprocessing: {train_rgb: false}}\n",
                 NULL, 0);
    ck_assert_str_eq(c->model.nodes[0].variant, "50");
    ck_assert_str_eq(c->trainer.preprocessing.color_space, "BGR");
    lt_config_free(c);
}
END_TEST

START_TEST(test_overrides)
{
    const char *base = "model:\n  nodes:\n    - name: ResNet\n      params: {x: 1}\n"
                       "trainer:\n  epochs: 3\n  callbacks: [{name: TestOnTrainEnd}]\n";
    const char *ov[] = {
        "trainer.epochs", "5",
        "loader.params.dataset_dir", "/data/my set",
        "trainer.preprocessing.train_image_size", "[64, 48]",
        "model.nodes.0.params.x", "3",
        "model.nodes.0.params.y", "[1, {a: 2}]",
        "model.nodes.1.name", "ClassificationHead",         /* index == length appends */
        "model.nodes.+.name", "OtherHead",                  /* "+" appends */
        "model.nodes.9.name", "LastHead",                   /* so does an index past the end */
        "loader.params.deep.new.key", "0.25",               /* missing maps are created */
        "tracker.run_name", "'123'",                        /* quoted: the string 123 */
        "trainer.seed", "None",                             /* Python's None */
        "trainer.optimizer", "{'name': 'SGD', 'params': {'lr': 0.5}}",
        "trainer.callbacks.0.active", "False",
        "loader.params.split_list.0", "a",                  /* a new list for an index */
        "loader.params.text", "[unclosed",                  /* not flow YAML: a string */
    };
    lt_config *c = parse_ok(base, ov, N(ov));
    ck_assert_int_eq(c->trainer.epochs, 5);
    ck_assert_str_eq(str_or(lt_cfg_peek(c->loader.params, "dataset_dir")), "/data/my set");
    ck_assert_int_eq(c->trainer.preprocessing.train_image_size[0], 64);
    ck_assert_int_eq(c->trainer.preprocessing.train_image_size[1], 48);
    ck_assert_int_eq(c->model.n_nodes, 4);
    ck_assert_str_eq(c->model.nodes[3].name, "LastHead");
    ck_assert_str_eq(str_or(lt_cfg_peek(c->model.nodes[0].params, "x")), "3");
    const lt_cfg *y = lt_cfg_peek(c->model.nodes[0].params, "y");
    ck_assert_int_eq(y->n, 2);
    ck_assert_str_eq(str_or(lt_cfg_peek(y->items[1], "a")), "2");
    ck_assert_str_eq(c->model.nodes[1].name, "ClassificationHead");
    ck_assert_str_eq(c->model.nodes[2].name, "OtherHead");
    ck_assert_str_eq(c->model.nodes[1].inputs[0], "ResNet"); /* linear topology applies to them too */
    ck_assert_str_eq(str_or(lt_cfg_peek(at(c->loader.params, "deep", "new"), "key")), "0.25");
    ck_assert_str_eq(c->tracker.run_name, "123");
    ck_assert(!c->trainer.has_seed);
    ck_assert_str_eq(c->trainer.optimizer.name, "SGD");
    ck_assert_str_eq(str_or(lt_cfg_peek(c->trainer.optimizer.params, "lr")), "0.5");
    ck_assert(!c->trainer.callbacks[0].active);
    ck_assert_int_eq(lt_cfg_peek(c->loader.params, "split_list")->type, LT_CFG_LIST);
    ck_assert_str_eq(str_or(lt_cfg_peek(c->loader.params, "text")), "[unclosed");
    lt_config_free(c);
}
END_TEST

START_TEST(test_bad_overrides)
{
    const char *base = "trainer:\n  epochs: 3\nmodel:\n  nodes: [{name: A}]\n";
    const char *odd[] = {"trainer.epochs", "5", "trainer.batch_size"};
    parse_fails(base, odd, N(odd), "overrides: expected 'key value' pairs, but 'trainer.batch_size' has no value");
    const char *type[] = {"trainer.epochs", "ten"};
    parse_fails(base, type, N(type), "override 'trainer.epochs ten': trainer.epochs: expected an integer, got 'ten'");
    const char *unknown[] = {"trainer.epoch", "4"};
    parse_fails(base, unknown, N(unknown),
                "override 'trainer.epoch 4': trainer.epoch: unknown key (did you mean 'epochs'?)");
    const char *into_value[] = {"trainer.epochs.x", "1"};
    parse_fails(base, into_value, N(into_value),
                "override 'trainer.epochs.x 1': trainer.epochs is a value ('3'), not a map or a list");
    const char *not_index[] = {"model.nodes.first.name", "B"};
    parse_fails(base, not_index, N(not_index),
                "override 'model.nodes.first.name B': model.nodes.first: 'first' is not a list index or '+' "
                "(the parent is a list)");
    const char *empty[] = {"trainer..epochs", "1"};
    parse_fails(base, empty, N(empty), "override 'trainer..epochs 1': empty segment in key 'trainer..epochs'");
    const char *list_type[] = {"trainer.preprocessing.train_image_size", "[64, big]"};
    parse_fails(base, list_type, N(list_type),
                "override 'trainer.preprocessing.train_image_size [64, big]':1:6: "
                "trainer.preprocessing.train_image_size[1]: expected an integer, got 'big'");
}
END_TEST

START_TEST(test_predefined_model)
{
    lt_config *c = parse_ok("model:\n  name: cls\n  nodes: [{name: Extra}]\n"
                            "  predefined_model:\n    name: ClassificationModel\n"
                            "trainer: {batch_size: 8}\n",
                            NULL, 0);
    const lt_config_model *m = &c->model;
    ck_assert_str_eq(m->predefined.name, "ClassificationModel");
    ck_assert_str_eq(m->predefined.variant, "default");
    ck_assert_int_eq(m->n_nodes, 3);
    ck_assert_str_eq(m->nodes[0].name, "Extra"); /* the user's nodes come first */
    const lt_node_config *b = &m->nodes[1], *h = &m->nodes[2];
    ck_assert_str_eq(b->name, "ResNet");
    ck_assert_str_eq(b->variant, "18"); /* light */
    ck_assert_int_eq(b->n_inputs, 0);
    ck_assert_str_eq(h->name, "ClassificationHead");
    ck_assert_str_eq(h->variant, "default");
    ck_assert_int_eq(h->n_inputs, 1);
    ck_assert_str_eq(h->inputs[0], "ResNet");
    ck_assert_int_eq(h->n_losses, 1);
    ck_assert_str_eq(h->losses[0].name, "CrossEntropyLoss");
    ck_assert_float_eq(h->losses[0].weight, 1.0f);
    ck_assert_int_eq(h->n_metrics, 4);
    const char *metrics[] = {"F1Score", "Accuracy", "Recall", "ConfusionMatrix"};
    for (int i = 0; i < 4; i++) {
        ck_assert_str_eq(h->metrics[i].name, metrics[i]);
        ck_assert(h->metrics[i].is_main_metric == (i == 0));
    }
    ck_assert_int_eq(h->n_visualizers, 1);
    ck_assert_str_eq(h->visualizers[0].name, "ClassificationVisualizer");
    ck_assert_int_eq(c->trainer.accumulate_grad_batches, 8); /* int(64 / batch_size) */
    ck_assert(has_line(c->defaults, c->n_defaults,
                       "model.nodes[1..2] = the nodes of ClassificationModel (variant light)"));
    lt_config_free(c);

    c = parse_ok("model:\n  predefined_model:\n    name: ClassificationModel\n    variant: heavy\n"
                 "    include_metrics: false\n    include_visualizers: false\n"
                 "    params:\n      backbone_params: {freezing: {unfreeze_after: 2}}\n"
                 "      head_params: {dropout_rate: 0.3}\n      loss_params: {label_smoothing: 0.1}\n"
                 "      task_name: animals\n",
                 NULL, 0);
    m = &c->model;
    ck_assert_int_eq(m->n_nodes, 2);
    ck_assert_str_eq(m->nodes[0].variant, "50");
    ck_assert(m->node_info[0].freezing.active && m->node_info[0].freezing.unfreeze_after == 2);
    ck_assert(!m->node_info[0].freezing.unfreeze_is_fraction);
    ck_assert_ptr_null(lt_cfg_peek(m->nodes[0].params, "freezing"));
    ck_assert_str_eq(str_or(lt_cfg_peek(m->nodes[1].params, "dropout_rate")), "0.3");
    ck_assert_str_eq(str_or(lt_cfg_peek(m->nodes[1].losses[0].params, "label_smoothing")), "0.1");
    ck_assert_str_eq(m->node_info[1].task_name, "animals");
    ck_assert_int_eq(m->nodes[1].n_metrics, 0);
    ck_assert_int_eq(m->nodes[1].n_visualizers, 0);
    ck_assert_int_eq(m->nodes[1].n_losses, 1);
    lt_config_free(c);

    /* The old spelling params.variant still works. */
    c = parse_ok("model: {predefined_model: {name: ClassificationModel, params: {variant: heavy}}}\n", NULL, 0);
    ck_assert_str_eq(c->model.nodes[0].variant, "50");
    lt_config_free(c);

    parse_fails("model:\n  predefined_model:\n    name: ClasificationModel\n", NULL, 0,
                "t.yaml:3:11: model.predefined_model.name: unknown predefined model 'ClasificationModel' "
                "(did you mean 'ClassificationModel'?)");
    parse_fails("model:\n  predefined_model:\n    name: ClassificationModel\n    variant: medium\n", NULL, 0,
                "t.yaml:4:14: model.predefined_model.variant: unknown variant 'medium' of ClassificationModel "
                "(valid: light, heavy)");
    parse_fails("model:\n  predefined_model:\n    name: ClassificationModel\n    params: {backbone_param: {}}\n",
                NULL, 0,
                "t.yaml:4:30: model.predefined_model.params.backbone_param: unknown key "
                "(did you mean 'backbone_params'?)");
}
END_TEST

/* Saved, reloaded and saved again: the same text, and reloading applies
 * no defaults but the keys dumps leave out. */
static void check_identity(const char *text, const char *const *ov, int n_ov)
{
    lt_config *a = parse_ok(text, ov, n_ov);
    char path[] = "/tmp/ltrain_cfg_XXXXXX";
    int fd = mkstemp(path);
    ck_assert_int_ge(fd, 0);
    close(fd);
    ck_assert_msg(lt_config_save(a, path) == 0, "%s", lt_last_error());
    lt_config *b = lt_config_load(path, NULL, 0);
    ck_assert_msg(b, "reload failed: %s", lt_last_error());
    char *ya = lt_config_to_yaml(a), *yb = lt_config_to_yaml(b);
    ck_assert_str_eq(ya, yb);
    for (int i = 0; i < b->n_defaults; i++)
        ck_assert_msg(!strcmp(b->defaults[i], "model.weights = ~") ||
                          !strcmp(b->defaults[i], "tracker.save_directory = output"),
                      "reload applied %s", b->defaults[i]);
    ck_assert_int_eq(a->model.n_nodes, b->model.n_nodes);
    for (int i = 0; i < a->model.n_nodes; i++) {
        ck_assert_str_eq(a->model.nodes[i].name, b->model.nodes[i].name);
        ck_assert_int_eq(a->model.nodes[i].n_inputs, b->model.nodes[i].n_inputs);
        ck_assert_int_eq(a->model.nodes[i].n_metrics, b->model.nodes[i].n_metrics);
    }
    ck_assert_int_eq(a->trainer.n_callbacks, b->trainer.n_callbacks);
    ck_assert_int_eq(a->trainer.deterministic, b->trainer.deterministic);
    ck_assert_int_eq(a->trainer.accumulate_grad_batches, b->trainer.accumulate_grad_batches);
    /* The dump leaves out predefined_model (its nodes are in model.nodes). */
    ck_assert_ptr_null(strstr(ya, "predefined_model"));
    ck_assert_ptr_null(strstr(ya, "save_directory"));
    free(ya);
    free(yb);
    lt_config_free(a);
    lt_config_free(b);
    unlink(path);
}

START_TEST(test_save_reload_identity)
{
    check_identity(full_config, NULL, 0);
    check_identity("", NULL, 0);
    check_identity("model: {predefined_model: {name: ClassificationModel, variant: heavy}}\n"
                   "tuner: {params: {trainer.optimizer.params.lr_float: [0.0001, 0.1]}}\n",
                   NULL, 0);
    const char *ov[] = {"loader.params.dataset_dir", "weird: 'path' # not a comment", "model.name", "yes",
                        "tracker.run_name", "007"};
    check_identity("model: {nodes: [{name: A}, {name: BHead}]}\n", ov, N(ov));
}
END_TEST

START_TEST(test_shipped_configs)
{
    const char *files[] = {"classification_light_model.yaml", "classification_heavy_model.yaml"};
    const char *variants[] = {"18", "50"};
    for (int i = 0; i < 2; i++) {
        char path[1024];
        snprintf(path, sizeof path, "%s/configs/%s", LT_SOURCE_ROOT, files[i]);
        const char *ov[] = {"loader.params.dataset_dir", "/tmp/somewhere"};
        lt_config *c = lt_config_load(path, ov, N(ov));
        ck_assert_msg(c, "%s: %s", files[i], lt_last_error());
        ck_assert_str_eq(c->model.predefined.name, "ClassificationModel");
        ck_assert_int_eq(c->model.n_nodes, 2);
        ck_assert_str_eq(c->model.nodes[0].variant, variants[i]);
        ck_assert_int_eq(c->trainer.batch_size, 8);
        ck_assert_int_eq(c->trainer.epochs, 200);
        ck_assert_int_eq(c->trainer.validation_interval, 10);
        ck_assert_int_eq(c->trainer.n_log_images, 8);
        ck_assert_int_eq(c->trainer.preprocessing.train_image_size[0], 384);
        ck_assert_int_eq(c->trainer.preprocessing.train_image_size[1], 512);
        ck_assert_str_eq(c->trainer.optimizer.name, "Adam");
        ck_assert_str_eq(c->trainer.scheduler.name, "ConstantLR");
        ck_assert_str_eq(str_or(lt_cfg_peek(c->loader.params, "dataset_dir")), "/tmp/somewhere");
        lt_config_free(c);
    }
    lt_config *c = lt_config_load("/nonexistent/x.yaml", NULL, 0);
    ck_assert_ptr_null(c);
    ck_assert_ptr_nonnull(strstr(lt_last_error(), "/nonexistent/x.yaml"));
    /* YAML syntax errors keep the parser's place. */
    ck_assert_ptr_null(lt_config_parse("trainer: [1, 2\n", "bad.yaml", NULL, 0));
    ck_assert_msg(!strncmp(lt_last_error(), "bad.yaml:", 9), "%s", lt_last_error());
    ck_assert_ptr_null(lt_config_from_tree(NULL, NULL, 0));
    /* Saving where nothing can be written fails cleanly. */
    c = parse_ok("", NULL, 0);
    ck_assert_int_eq(lt_config_save(c, "/nonexistent/dir/training_config.yaml"), -1);
    ck_assert_str_eq(lt_last_error(),
                     "lt_config_save: cannot write /nonexistent/dir/training_config.yaml.tmp: No such file or directory");
    lt_config_free(c);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("config");
    TCase *tc = tcase_create("config");
    tcase_add_test(tc, test_full_config);
    tcase_add_test(tc, test_defaults_and_verbose_list);
    tcase_add_test(tc, test_unknown_keys);
    tcase_add_test(tc, test_wrong_types);
    tcase_add_test(tc, test_value_rules);
    tcase_add_test(tc, test_validators);
    tcase_add_test(tc, test_overrides);
    tcase_add_test(tc, test_bad_overrides);
    tcase_add_test(tc, test_predefined_model);
    tcase_add_test(tc, test_save_reload_identity);
    tcase_add_test(tc, test_shipped_configs);
    suite_add_tcase(s, tc);
    return fx_run_suite(s);
}

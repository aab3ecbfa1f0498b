/* The config schema (reference §2): one table per section, and the walk
 * that checks a tree against a table and fills its defaults. Names and
 * defaults follow luxonis-train's code where its docs differ (§2.12). */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../registry.h"

/* ---------------------------------------------------------------- tables */

#define END {0}
/* Shorthands keep the tables one key a line. */
#define STR(k, d, doc) {k, LT_ST_STR, d, doc, NULL, 0, 0, NULL}
#define STRC(k, d, doc, choices) {k, LT_ST_STR, d, doc, NULL, 0, 0, choices}
#define INT(k, d, doc) {k, LT_ST_INT, d, doc, NULL, 0, 0, NULL}
#define FLT(k, d, doc) {k, LT_ST_FLOAT, d, doc, NULL, 0, 0, NULL}
#define BOOL(k, d, doc) {k, LT_ST_BOOL, d, doc, NULL, 0, 0, NULL}
#define ANY(k, d, doc) {k, LT_ST_ANY, d, doc, NULL, 0, 0, NULL}
#define PARAMS(k, d, doc) {k, LT_ST_MAP, d, doc, NULL, 0, 0, NULL}
#define MAP(k, d, doc, ch) {k, LT_ST_MAP, d, doc, ch, 0, 0, NULL}
#define LIST_OF(k, d, doc, item) {k, LT_ST_LIST, d, doc, NULL, 0, item, NULL}
#define LIST_MAPS(k, d, doc, ch) {k, LT_ST_LIST, d, doc, ch, 0, 0, NULL}
#define REQ_STR(k, doc) {k, LT_ST_STR, NULL, doc, NULL, LT_SK_REQUIRED, 0, NULL}

static const char *const color_spaces[] = {"RGB", "BGR", "GRAY", NULL};
static const char *const precisions[] = {"16-mixed", "32", NULL};
static const char *const strategies[] = {"auto", "ddp", NULL};
static const char *const accelerators[] = {"auto", "cpu", "gpu", "tpu", NULL};
static const char *const profilers[] = {"simple", "advanced", NULL};
static const char *const matmul_precisions[] = {"medium", "high", "highest", NULL};
static const char *const clip_algorithms[] = {"norm", "value", NULL};
static const char *const quantization_modes[] = {"INT8_STANDARD", "INT8_ACCURACY_FOCUSED", "INT8_INT16_MIXED",
                                                 "INT8_INT16_MIXED_ACCURACY_FOCUSED", "FP16_STANDARD",
                                                 "FP32_STANDARD", "FP16", "FP32", NULL};
static const char *const blob_versions[] = {"2021.2", "2021.3", "2021.4", "2022.1", "2022.3_RVC3", NULL};
static const char *const hubai_platforms[] = {"rvc2", "rvc3", "rvc4", "hailo", NULL};
static const char *const aimet_data_types[] = {"int", "float", NULL};
static const char *const aimet_schemes[] = {"min_max", "tf", "tf_enhanced", NULL};
static const char *const tuner_monitors[] = {"loss", "metric", NULL};
static const char *const tuner_backends[] = {"sqlite", "postgresql", NULL};

/* `ConfigItem`: {name, params}. */
static const lt_schema_key item_keys[] = {
    REQ_STR("name", "registry name"),
    PARAMS("params", "{}", "keyword arguments"),
    END,
};

static const lt_schema_key module_keys[] = {
    REQ_STR("name", "registry name"),
    STR("alias", "~", "identifier in logs (default: the name)"),
    PARAMS("params", "{}", "constructor parameters"),
    END,
};

static const lt_schema_key loss_keys[] = {
    REQ_STR("name", "registry name"),
    STR("alias", "~", "identifier in logs (default: the name)"),
    PARAMS("params", "{}", "constructor parameters"),
    FLT("weight", "1.0", "weight in the summed loss (>= 0)"),
    END,
};

static const lt_schema_key metric_keys[] = {
    REQ_STR("name", "registry name"),
    STR("alias", "~", "identifier in logs (default: the name)"),
    PARAMS("params", "{}", "constructor parameters"),
    BOOL("is_main_metric", "false", "selects the best checkpoint"),
    END,
};

static const lt_schema_key freezing_keys[] = {
    BOOL("active", "false", "freeze the node's parameters"),
    FLT("unfreeze_after", "~", "epoch (int) or fraction of epochs (float) to unfreeze at"),
    FLT("lr_after_unfreeze", "~", "learning rate of the node's group once unfrozen"),
    END,
};

static const lt_schema_key node_keys[] = {
    REQ_STR("name", "registry name of the node"),
    STR("alias", "~", "identifier in the graph, logs and weights"),
    PARAMS("params", "{}", "constructor parameters"),
    {"variant", LT_ST_STR, "default", "node variant ('default': its default one)", NULL, LT_SK_NULLABLE, 0, NULL},
    LIST_OF("inputs", "[]", "identifiers of the input nodes", LT_ST_STR),
    LIST_OF("input_sources", "[]", "loader inputs the node reads", LT_ST_STR),
    STR("task_name", "~", "dataset task group of a head"),
    {"metadata_task_override", LT_ST_STR_OR_MAP, "~", "renames metadata labels", NULL, 0, 0, NULL},
    BOOL("remove_on_export", "false", "skip the node in export mode"),
    LIST_MAPS("losses", "[]", "losses attached to the node", loss_keys),
    LIST_MAPS("metrics", "[]", "metrics attached to the node", metric_keys),
    LIST_MAPS("visualizers", "[]", "visualizers attached to the node", module_keys),
    MAP("freezing", "{}", "freezing schedule", freezing_keys),
    ANY("finetuning", "[]", "per-parameter optimizer groups"),
    END,
};

static const lt_schema_key predefined_keys[] = {
    REQ_STR("name", "predefined model name"),
    STR("variant", "default", "model variant"),
    PARAMS("params", "{}", "model parameters"),
    BOOL("include_losses", "true", "keep the model's losses"),
    BOOL("include_metrics", "true", "keep the model's metrics"),
    BOOL("include_visualizers", "true", "keep the model's visualizers"),
    END,
};

static const lt_schema_key model_keys[] = {
    STR("name", "model", "model name, used in file names"),
    {"predefined_model", LT_ST_MAP, NULL, "nodes appended after `nodes`", predefined_keys,
     LT_SK_NULLABLE | LT_SK_NO_DUMP, 0, NULL},
    {"weights", LT_ST_STR, "~", "checkpoint to load", NULL, LT_SK_NO_DUMP, 0, NULL},
    LIST_MAPS("nodes", "[]", "the graph's nodes", node_keys),
    LIST_OF("outputs", "[]", "output nodes (default: nodes nobody consumes)", LT_ST_STR),
    END,
};

static const lt_schema_key loader_keys[] = {
    STR("name", "LuxonisLoaderTorch", "loader name"),
    STR("image_source", "image", "name of the image input"),
    {"train_view", LT_ST_STR_LIST, "[train]", "split(s) to train on", NULL, 0, 0, NULL},
    {"val_view", LT_ST_STR_LIST, "[val]", "split(s) to validate on", NULL, 0, 0, NULL},
    {"test_view", LT_ST_STR_LIST, "[test]", "split(s) to test on", NULL, 0, 0, NULL},
    PARAMS("params", "{}", "loader parameters (dataset_dir, dataset_type, ...)"),
    END,
};

static const lt_schema_key augmentation_keys[] = {
    REQ_STR("name", "augmentation name"),
    PARAMS("params", "{}", "augmentation parameters"),
    BOOL("active", "true", "use the augmentation"),
    BOOL("use_for_resizing", "false", "resizes to train_image_size"),
    {"apply_on_stages", LT_ST_STR_LIST, "[train]", "stages it runs on", NULL, 0, 0, NULL},
    END,
};

static const lt_schema_key normalize_keys[] = {
    BOOL("active", "true", "normalize the input images"),
    PARAMS("params", "{mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225]}", "mean and std per channel"),
    END,
};

static const lt_schema_key preprocessing_keys[] = {
    LIST_OF("train_image_size", "[256, 256]", "[height, width] of the model input", LT_ST_INT),
    BOOL("keep_aspect_ratio", "true", "letterbox instead of stretching"),
    STRC("color_space", "RGB", "RGB, BGR or GRAY", color_spaces),
    MAP("normalize", "{}", "input normalization", normalize_keys),
    LIST_MAPS("augmentations", "[]", "augmentations by name", augmentation_keys),
    END,
};

static const lt_schema_key callback_keys[] = {
    REQ_STR("name", "callback name"),
    BOOL("active", "true", "use the callback"),
    PARAMS("params", "{}", "callback parameters"),
    END,
};

static const lt_schema_key trainer_keys[] = {
    MAP("preprocessing", "{}", "image preprocessing", preprocessing_keys),
    STRC("precision", "'32'", "\"32\" or \"16-mixed\"", precisions),
    STRC("accelerator", "auto", "auto, cpu, gpu or tpu", accelerators),
    ANY("devices", "auto", "devices to use"),
    STRC("strategy", "auto", "auto or ddp", strategies),
    INT("n_sanity_val_steps", "2", "validation steps before training"),
    STRC("profiler", "~", "simple or advanced", profilers),
    STRC("matmul_precision", "~", "medium, high or highest", matmul_precisions),
    INT("seed", "~", "random seed (makes the run deterministic)"),
    {"deterministic", LT_ST_BOOL_OR_STR, "~", "true, false or \"warn\"", NULL, 0, 0, NULL},
    BOOL("smart_cfg_auto_populate", "true", "fill related settings automatically"),
    INT("batch_size", "32", "samples per step"),
    INT("accumulate_grad_batches", "~", "batches per optimizer step"),
    FLT("gradient_clip_val", "~", "gradient clipping threshold"),
    STRC("gradient_clip_algorithm", "~", "norm or value", clip_algorithms),
    BOOL("use_weighted_sampler", "false", "sample by class weight"),
    INT("epochs", "100", "training epochs"),
    INT("overfit_batches", "0", "train on this many batches only"),
    BOOL("resume_training", "false", "resume from the weights' checkpoint"),
    BOOL("strict_weights_loading", "false", "fail on missing or extra weights"),
    INT("n_workers", "4", "data loading threads"),
    INT("validation_interval", "5", "validate every N epochs (-1: at the end)"),
    BOOL("run_validation_after_first_epoch", "false", "also validate after epoch 1"),
    INT("n_log_images", "4", "images visualized per head"),
    BOOL("skip_last_batch", "true", "drop the last incomplete training batch"),
    INT("n_validation_batches", "~", "validation batches per run (-1: all)"),
    BOOL("pin_memory", "true", "pin loader memory"),
    BOOL("log_sub_metrics", "true", "log per-class sub-metrics"),
    BOOL("log_sub_losses", "true", "log sub-losses"),
    INT("save_top_k", "3", "best checkpoints kept (-1: all)"),
    LIST_MAPS("callbacks", "[]", "callbacks by name", callback_keys),
    MAP("optimizer", "{name: Adam, params: {}}", "optimizer", item_keys),
    MAP("scheduler", "{name: ConstantLR, params: {}}", "learning rate scheduler", item_keys),
    {"training_strategy", LT_ST_MAP, "~", "replaces optimizer and scheduler", item_keys, LT_SK_NULLABLE, 0, NULL},
    END,
};

static const lt_schema_key tracker_keys[] = {
    STR("project_name", "~", "project name"),
    STR("project_id", "~", "project id"),
    STR("run_name", "~", "run name (default: generated)"),
    STR("run_id", "~", "run id"),
    {"save_directory", LT_ST_STR, "output", "where runs are written", NULL, LT_SK_NO_DUMP, 0, NULL},
    BOOL("is_tensorboard", "true", "log to TensorBoard"),
    BOOL("is_wandb", "false", "log to Weights & Biases"),
    STR("wandb_entity", "~", "W&B entity"),
    BOOL("is_mlflow", "false", "log to MLflow"),
    END,
};

static const lt_schema_key archiver_keys[] = {
    STR("name", "~", "archive name"),
    BOOL("upload_to_run", "true", "upload the archive to the run"),
    STR("upload_url", "~", "upload destination"),
    END,
};

static const lt_schema_key onnx_keys[] = {
    INT("opset_version", "16", "ONNX opset"),
    ANY("dynamic_axes", "~", "dynamic axes"),
    BOOL("disable_onnx_simplification", "false", "skip onnxsim"),
    BOOL("unique_onnx_initializers", "false", "deduplicate initializers"),
    END,
};

static const lt_schema_key blobconverter_keys[] = {
    BOOL("active", "false", "convert to a blob"),
    INT("shaves", "6", "shaves"),
    STRC("version", "'2022.1'", "OpenVINO version", blob_versions),
    END,
};

static const lt_schema_key hubai_keys[] = {
    BOOL("active", "false", "convert on HubAI"),
    STRC("platform", "~", "rvc2, rvc3, rvc4 or hailo", hubai_platforms),
    PARAMS("params", "{}", "conversion parameters"),
    BOOL("delete_remote_model", "false", "delete the uploaded model"),
    END,
};

static const lt_schema_key adaround_keys[] = {
    BOOL("active", "false", "use AdaRound"),
    INT("default_num_iterations", "~", "iterations"),
    FLT("default_reg_param", "0.01", "regularization"),
    LIST_OF("default_beta_range", "[20, 2]", "beta range", LT_ST_FLOAT),
    FLT("default_warm_start", "0.2", "warm start"),
    END,
};

static const lt_schema_key aimet_keys[] = {
    BOOL("active", "false", "quantize with AIMET"),
    INT("default_output_bw", "8", "output bit width"),
    INT("default_param_bw", "8", "parameter bit width (4, 8 or 16)"),
    STRC("default_data_type", "int", "int or float", aimet_data_types),
    STRC("quant_scheme", "min_max", "min_max, tf or tf_enhanced", aimet_schemes),
    ANY("config", "~", "quantizer config (map or JSON path)"),
    INT("max_calibration_images", "~", "calibration images"),
    BOOL("fold_batch_norms", "false", "fold batch norms"),
    BOOL("cross_layer_equalization", "false", "cross-layer equalization"),
    BOOL("batch_norm_reestimation", "false", "re-estimate batch norms"),
    BOOL("sequential_mse", "false", "sequential MSE"),
    MAP("adaround", "{}", "AdaRound", adaround_keys),
    INT("epochs", "20", "QAT epochs"),
    MAP("optimizer", "{name: SGD, params: {lr: 1.0e-05}}", "QAT optimizer", item_keys),
    MAP("scheduler", "{name: StepLR, params: {step_size: 5, gamma: 0.1}}", "QAT scheduler", item_keys),
    END,
};

static const lt_schema_key exporter_keys[] = {
    STR("name", "~", "export name"),
    BOOL("upload_to_run", "true", "upload the export to the run"),
    STR("upload_url", "~", "upload destination"),
    ANY("input_shape", "~", "unused by the reference"),
    STRC("quantization_mode", "INT8_STANDARD", "quantization mode", quantization_modes),
    BOOL("reverse_input_channels", "~", "default: color_space == RGB"),
    ANY("scale_values", "~", "default: normalize std x 255"),
    ANY("mean_values", "~", "default: normalize mean x 255"),
    MAP("onnx", "{}", "ONNX export", onnx_keys),
    MAP("blobconverter", "{}", "blob conversion", blobconverter_keys),
    MAP("hubai", "{}", "HubAI conversion", hubai_keys),
    MAP("aimet", "{}", "AIMET quantization", aimet_keys),
    END,
};

static const lt_schema_key storage_keys[] = {
    BOOL("active", "true", "store the study"),
    STRC("backend", "sqlite", "sqlite or postgresql", tuner_backends),
    STR("username", "~", "database user"),
    STR("password", "~", "database password"),
    STR("host", "~", "database host"),
    INT("port", "~", "database port"),
    STR("database", "~", "database name"),
    END,
};

static const lt_schema_key tuner_keys[] = {
    STR("study_name", "test-study", "study name"),
    BOOL("continue_existing_study", "true", "continue a study with that name"),
    BOOL("use_pruner", "true", "MedianPruner (else none)"),
    {"n_trials", LT_ST_INT, "15", "trials", NULL, LT_SK_NULLABLE, 0, NULL},
    INT("timeout", "~", "seconds"),
    STRC("monitor", "loss", "loss or metric", tuner_monitors),
    MAP("storage", "{}", "study storage", storage_keys),
    PARAMS("params", "{}", "\"dotted.key_<type>\": [...]"),
    END,
};

const lt_schema_key lt_config_schema[] = {
    BOOL("rich_logging", "true", "progress bar and colored logs"),
    MAP("model", "{}", "the model", model_keys),
    MAP("loader", "{}", "the data loader", loader_keys),
    MAP("tracker", "{}", "logging and run directory", tracker_keys),
    MAP("trainer", "{}", "training", trainer_keys),
    MAP("exporter", "{}", "export", exporter_keys),
    MAP("archiver", "{}", "NN archive", archiver_keys),
    {"tuner", LT_ST_MAP, NULL, "hyperparameter tuning", tuner_keys, LT_SK_NULLABLE, 0, NULL},
    STR("version", "'0.1.0'", "config version"),
    {"ENVIRON", LT_ST_ANY, NULL, "environment (ignored, with a warning)", NULL, LT_SK_NO_DUMP, 0, NULL},
    END,
};

const char *const lt_config_callback_names[] = {
    "EarlyStopping", "LearningRateMonitor", "ModelCheckpoint", "DeviceStatsMonitor", "GradientAccumulationScheduler",
    "StochasticWeightAveraging", "Timer", "ModelPruning", "GPUStatsMonitor", "LuxonisModelSummary",
    "LuxonisRichProgressBar", "LuxonisTQDMProgressBar", "TrainingManager", "GracefulInterruptCallback",
    "FailOnNoTrainBatches", "ExportOnTrainEnd", "ArchiveOnTrainEnd", "ConvertOnTrainEnd", "TestOnTrainEnd",
    "AIMETCallback", "UploadCheckpoint", "MetadataLogger", "GradCamCallback", "EMACallback",
    "TrainingProgressCallback", NULL,
};

const char *const lt_config_optimizer_names[] = {
    "Adadelta", "Adagrad", "Adam", "AdamW", "SparseAdam", "Adamax", "ASGD", "LBFGS", "NAdam", "RAdam", "RMSprop", "SGD",
    NULL,
};

const char *const lt_config_scheduler_names[] = {
    "LambdaLR", "MultiplicativeLR", "StepLR", "MultiStepLR", "ConstantLR", "LinearLR", "ExponentialLR",
    "PolynomialLR", "CosineAnnealingLR", "ChainedScheduler", "SequentialLR", "ReduceLROnPlateau", "CyclicLR",
    "OneCycleLR", "CosineAnnealingWarmRestarts", NULL,
};

/* ------------------------------------------------------------------ walk */

typedef struct walk {
    lt_schema_note_fn note;
    void *ctx;
} walk;

const lt_schema_key *lt_schema_find(const lt_schema_key *table, const char *key)
{
    for (const lt_schema_key *k = table; k && k->key; k++)
        if (!strcmp(k->key, key)) return k;
    return NULL;
}

/* "a.b" / "a[3]" / "b" at the top. */
/* Paths longer than the buffer are cut; they only name places in messages. */
static void child_path(char *out, size_t size, const char *path, const char *key)
{
    if (snprintf(out, size, "%s%s%s", path, *path ? "." : "", key) >= (int)size) out[size - 1] = '\0';
}

static void item_path(char *out, size_t size, const char *path, int i)
{
    if (snprintf(out, size, "%s[%d]", path, i) >= (int)size) out[size - 1] = '\0';
}

/* Says what a value is, for "expected X, got Y". */
static const char *describe(const lt_cfg *c, char *buf, size_t size)
{
    if (c->type == LT_CFG_MAP) return "a map";
    if (c->type == LT_CFG_LIST) return "a list";
    if (lt_cfg_is_null(c)) return "null";
    const lt_cfg plain = {.type = LT_CFG_SCALAR, .text = c->text};
    const bool looks_typed = c->quoted && (lt_cfg_is_number(&plain) || lt_cfg_is_bool(&plain));
    snprintf(buf, size, "'%.60s%s'%s", c->text, strlen(c->text) > 60 ? "..." : "",
             looks_typed ? " (quoted, so a string)" : "");
    return buf;
}

static const char *type_phrase(lt_schema_type t)
{
    switch (t) {
    case LT_ST_STR: return "a string";
    case LT_ST_INT: return "an integer";
    case LT_ST_FLOAT: return "a number";
    case LT_ST_BOOL: return "a boolean (true or false)";
    case LT_ST_MAP: return "a map";
    case LT_ST_LIST: return "a list";
    case LT_ST_STR_LIST: return "a string or a list of strings";
    case LT_ST_BOOL_OR_STR: return "true, false or 'warn'";
    case LT_ST_STR_OR_MAP: return "a string or a map";
    case LT_ST_ANY: break;
    }
    return "anything";
}

static const char *list_phrase(lt_schema_type item)
{
    switch (item) {
    case LT_ST_STR: return "a list of strings";
    case LT_ST_INT: return "a list of integers";
    case LT_ST_FLOAT: return "a list of numbers";
    default: return "a list";
    }
}

static int type_error(const lt_cfg *v, const char *path, const char *expected)
{
    char buf[96];
    return lt_set_error("%s: %s: expected %s, got %s", lt_cfg_where(v), path, expected, describe(v, buf, sizeof buf));
}

static bool is_string(const lt_cfg *v) { return v->type == LT_CFG_SCALAR && !lt_cfg_is_null(v); }

static int check_choice(const lt_schema_key *k, const lt_cfg *v, const char *path)
{
    if (!k->choices) return 0;
    for (int i = 0; k->choices[i]; i++)
        if (!strcmp(k->choices[i], v->text)) return 0;
    char valid[320] = "one of ";
    size_t len = strlen(valid);
    for (int i = 0; k->choices[i] && len < sizeof valid; i++)
        len += (size_t)snprintf(valid + len, sizeof valid - len, "%s%s", i ? ", " : "", k->choices[i]);
    return type_error(v, path, valid);
}

static int apply_table(const walk *w, const lt_schema_key *table, lt_cfg *map, const char *path);

/* A scalar-typed value (also list items). */
static int check_scalar(lt_schema_type type, const lt_cfg *v, const char *path)
{
    bool ok = true;
    switch (type) {
    case LT_ST_STR: ok = is_string(v); break;
    case LT_ST_INT: ok = lt_cfg_is_int(v); break;
    case LT_ST_FLOAT: ok = lt_cfg_is_number(v); break;
    case LT_ST_BOOL: ok = lt_cfg_is_bool(v); break;
    default: break;
    }
    return ok ? 0 : type_error(v, path, type_phrase(type));
}

static int check_list(const walk *w, const lt_schema_key *k, lt_cfg *v, const char *path)
{
    if (v->type != LT_CFG_LIST) return type_error(v, path, k->children ? "a list of maps" : list_phrase(k->item));
    char sub[512];
    for (int i = 0; i < v->n; i++) {
        item_path(sub, sizeof sub, path, i);
        lt_cfg *item = v->items[i];
        if (k->children) {
            if (item->type != LT_CFG_MAP) return type_error(item, sub, "a map");
            if (apply_table(w, k->children, item, sub)) return -1;
        } else if (k->item != LT_ST_ANY && check_scalar(k->item, item, sub)) {
            return -1;
        }
    }
    return 0;
}

static int check_value(const walk *w, const lt_schema_key *k, lt_cfg *v, const char *path)
{
    const bool nullable = (k->flags & LT_SK_NULLABLE) || (k->def && !strcmp(k->def, "~"));
    if (lt_cfg_is_null(v) && v->type != LT_CFG_MAP && v->type != LT_CFG_LIST) {
        if (nullable || k->type == LT_ST_ANY) return 0;
        return type_error(v, path, type_phrase(k->type));
    }
    switch (k->type) {
    case LT_ST_ANY: return 0;
    case LT_ST_STR:
        if (!is_string(v)) return type_error(v, path, type_phrase(k->type));
        return check_choice(k, v, path);
    case LT_ST_INT:
    case LT_ST_FLOAT:
    case LT_ST_BOOL: return check_scalar(k->type, v, path);
    case LT_ST_MAP:
        if (v->type != LT_CFG_MAP) return type_error(v, path, "a map");
        return k->children ? apply_table(w, k->children, v, path) : 0;
    case LT_ST_LIST: return check_list(w, k, v, path);
    case LT_ST_STR_LIST:
        if (is_string(v)) return 0;
        if (v->type != LT_CFG_LIST) return type_error(v, path, type_phrase(k->type));
        for (int i = 0; i < v->n; i++)
            if (!is_string(v->items[i])) {
                char sub[512];
                item_path(sub, sizeof sub, path, i);
                return type_error(v->items[i], sub, "a string");
            }
        return 0;
    case LT_ST_BOOL_OR_STR:
        if (lt_cfg_is_bool(v) || (is_string(v) && !strcmp(v->text, "warn"))) return 0;
        return type_error(v, path, type_phrase(k->type));
    case LT_ST_STR_OR_MAP:
        if (is_string(v) || v->type == LT_CFG_MAP) return 0;
        return type_error(v, path, type_phrase(k->type));
    }
    return 0;
}

/* " (did you mean 'batch_size'?)", or the valid keys of a small table. */
static void suggest(const lt_schema_key *table, const char *key, char *out, size_t size)
{
    const lt_schema_key *best = NULL;
    int best_d = 1 << 30, n = 0;
    for (const lt_schema_key *k = table; k->key; k++, n++) {
        int d = lt_edit_distance(key, k->key);
        if (d < best_d) best_d = d, best = k;
    }
    out[0] = '\0';
    if (best) {
        size_t la = strlen(key), lb = strlen(best->key);
        int limit = (int)((la > lb ? la : lb) / 3);
        if (limit < 2) limit = 2;
        if (best_d <= limit) {
            snprintf(out, size, " (did you mean '%s'?)", best->key);
            return;
        }
    }
    if (n > 12) return;
    size_t len = (size_t)snprintf(out, size, " (valid keys: ");
    for (const lt_schema_key *k = table; k->key && len < size; k++)
        len += (size_t)snprintf(out + len, size - len, "%s%s", k == table ? "" : ", ", k->key);
    if (len < size) snprintf(out + len, size - len, ")");
}

static int fill_default(const walk *w, const lt_schema_key *k, lt_cfg *map, const char *path)
{
    lt_cfg *v = lt_cfg_parse_yaml(k->def, strlen(k->def), NULL);
    if (!v) return lt_set_error("schema: bad default '%s' of %s: %s", k->def, path, lt_last_error());
    /* An empty map with its own keys is noted key by key below. */
    const bool expanded = k->children && v->type == LT_CFG_MAP && v->n == 0;
    if (w->note && !expanded) {
        char text[640];
        snprintf(text, sizeof text, "%s = %s", path, k->def);
        w->note(w->ctx, text);
    }
    if (lt_cfg_set(map, k->key, v)) return -1;
    lt_cfg *placed = lt_cfg_peek(map, k->key);
    if (k->type == LT_ST_MAP && k->children && placed->type == LT_CFG_MAP) return apply_table(w, k->children, placed, path);
    return 0;
}

static int apply_table(const walk *w, const lt_schema_key *table, lt_cfg *map, const char *path)
{
    char sub[512];
    for (int i = 0; i < map->n; i++) {
        child_path(sub, sizeof sub, path, map->keys[i]);
        const lt_schema_key *k = lt_schema_find(table, map->keys[i]);
        if (!k) {
            char hint[400];
            suggest(table, map->keys[i], hint, sizeof hint);
            return lt_set_error("%s: %s: unknown key%s", lt_cfg_where(map->items[i]), sub, hint);
        }
        map->used[i] = true;
        if (check_value(w, k, map->items[i], sub)) return -1;
    }
    for (const lt_schema_key *k = table; k->key; k++) {
        if (lt_cfg_peek(map, k->key)) continue;
        child_path(sub, sizeof sub, path, k->key);
        if (k->flags & LT_SK_REQUIRED)
            return lt_set_error("%s: %s: missing required key '%s'", lt_cfg_where(map), *path ? path : "config", k->key);
        if (k->def && fill_default(w, k, map, sub)) return -1;
    }
    return 0;
}

int lt_schema_apply(const lt_schema_key *table, lt_cfg *map, const char *path, lt_schema_note_fn note, void *ctx)
{
    if (!table || !map) return lt_set_error("lt_schema_apply: NULL table or map");
    const char *p = path ? path : "";
    if (map->type != LT_CFG_MAP) {
        char buf[96];
        return lt_set_error("%s: %s: expected a map, got %s", lt_cfg_where(map), *p ? p : "config",
                            describe(map, buf, sizeof buf));
    }
    const walk w = {note, ctx};
    return apply_table(&w, table, map, p);
}

/* The training config: luxonis-train's schema (reference §2) read from
 * YAML, CLI overrides applied, validated, defaults filled, predefined
 * models expanded, and handed to the trainer both as typed structs and as
 * the resolved lt_cfg tree.
 *
 *   lt_config *c = lt_config_load("configs/x.yaml", argv_pairs, n, NULL);
 *   if (!c) { fprintf(stderr, "%s\n", lt_last_error()); ... }
 *   for (int i = 0; i < c->n_defaults; i++) puts(c->defaults[i]);  // --verbose
 *   lt_model_build(reg, c->model.nodes, c->model.n_nodes, ...);
 *   lt_config_free(c);
 *
 * Every string and params map in the structs is borrowed from c->resolved
 * and lives as long as c. Errors name the place and the dotted path:
 *   "x.yaml:12:3: trainer.bach_size: unknown key (did you mean 'batch_size'?)"
 *   "x.yaml:4:11: trainer.epochs: expected an integer, got 'ten'"
 *   "override 'trainer.epochs ten': trainer.epochs: expected an integer, got 'ten'"
 */
#ifndef LTRAIN_CORE_CONFIG_H
#define LTRAIN_CORE_CONFIG_H

#include <ltrain/cfg.h>

#include "../model.h"

/* ================================================================ schema */

typedef enum lt_schema_type {
    LT_ST_ANY = 0,   /* anything (free-form, checked by whoever reads it) */
    LT_ST_STR,       /* a non-null scalar (numbers read as their spelling) */
    LT_ST_INT,
    LT_ST_FLOAT,     /* an int or a float */
    LT_ST_BOOL,
    LT_ST_MAP,       /* children: its keys (unknown keys rejected); no children: free-form */
    LT_ST_LIST,      /* children: every item is a map with those keys; else items of `item` type */
    LT_ST_STR_LIST,  /* a string or a list of strings (loader views) */
    LT_ST_BOOL_OR_STR, /* trainer.deterministic: true, false or "warn" */
    LT_ST_STR_OR_MAP,  /* node.metadata_task_override */
} lt_schema_type;

enum {
    LT_SK_REQUIRED = 1u << 0, /* must be present */
    LT_SK_NO_DUMP = 1u << 1,  /* left out of the saved config (reference: excluded from dumps) */
    LT_SK_NULLABLE = 1u << 2, /* null accepted (implied by a "~" default) */
};

typedef struct lt_schema_key lt_schema_key;
struct lt_schema_key {
    const char *key;
    lt_schema_type type;
    const char *def;              /* default as YAML text; NULL: none (stays absent) */
    const char *doc;
    const lt_schema_key *children; /* map keys / list item keys; {NULL}-terminated */
    unsigned flags;
    lt_schema_type item;          /* LT_ST_LIST without children: the items' type */
    const char *const *choices;   /* accepted string values (case-sensitive), NULL-terminated */
};

/* The top-level keys of a config (reference §2.1). */
extern const lt_schema_key lt_config_schema[];

/* Names the schema checks (reference §3.7, §3.8): NULL-terminated. */
extern const char *const lt_config_callback_names[];
extern const char *const lt_config_optimizer_names[];
extern const char *const lt_config_scheduler_names[];

/* Key `key` of a {NULL}-terminated table, or NULL. */
const lt_schema_key *lt_schema_find(const lt_schema_key *table, const char *key);

/* Checks `map` against `table` (path: the map's dotted path, "" at the
 * top): unknown keys (with the closest valid key), types, choices,
 * required keys; fills absent keys that have a default, recursing into
 * maps and lists of maps. Each default applied is reported to note(ctx,
 * "path = value"). 0, or -1 with an error. */
typedef void (*lt_schema_note_fn)(void *ctx, const char *text);
int lt_schema_apply(const lt_schema_key *table, lt_cfg *map, const char *path, lt_schema_note_fn note, void *ctx);

/* ============================================================= overrides */

/* Applies `key value` pairs (reference §2.9) to the tree: dotted keys,
 * integer segments index lists (index == length appends, so does "+"),
 * missing keys are created (a list when the next segment is an integer,
 * else a map). A value that starts with '[' or '{' is parsed as flow YAML,
 * one in matching quotes is that string, anything else is a plain YAML
 * scalar ("5", "true", "null", "0.5", "text"). New values carry the file
 * name "override 'KEY VALUE'", so later errors name the override; those
 * names are kept in *labels (free with lt_config_free_labels after the tree
 * has been cloned or freed). `tokens` alternate key, value; an odd count
 * fails. 0, or -1 with an error naming the override. */
typedef struct lt_override_labels {
    char **names;
    int n;
} lt_override_labels;
int lt_config_apply_overrides(lt_cfg *root, const char *const *tokens, int n_tokens, lt_override_labels *labels);
void lt_config_free_labels(lt_override_labels *labels);

/* ============================================================ the config */

typedef struct lt_config_item {
    const char *name;
    const lt_cfg *params; /* map (borrowed) */
} lt_config_item;

typedef struct lt_config_freezing {
    bool active;
    bool has_unfreeze_after;
    double unfreeze_after;     /* an epoch, or a fraction of epochs when unfreeze_is_fraction */
    bool unfreeze_is_fraction; /* written as a float: epoch = (int)(f * epochs) */
    bool has_lr_after_unfreeze;
    double lr_after_unfreeze;
} lt_config_freezing;

/* What a node has beyond the graph wiring of lt_node_config. */
typedef struct lt_config_node {
    const char *const *input_sources;
    int n_input_sources;
    const char *task_name;                 /* or NULL */
    const lt_cfg *metadata_task_override;  /* string, map or NULL */
    bool remove_on_export;
    lt_config_freezing freezing;
    const lt_cfg *finetuning;              /* map or list (possibly empty) */
    const lt_cfg *cfg;                     /* the node's resolved map */
} lt_config_node;

typedef struct lt_config_predefined {
    const char *name; /* NULL when the config has no predefined_model */
    const char *variant;
    const lt_cfg *params;
    bool include_losses, include_metrics, include_visualizers;
} lt_config_predefined;

typedef struct lt_config_model {
    const char *name;
    const char *weights;            /* or NULL */
    lt_config_predefined predefined;
    lt_node_config *nodes;          /* the user's nodes, then the predefined model's */
    lt_config_node *node_info;      /* parallel to nodes */
    int n_nodes;
    const char *const *outputs;
    int n_outputs;
} lt_config_model;

typedef struct lt_config_views {
    const char *const *names;
    int n;
} lt_config_views;

typedef struct lt_config_loader {
    const char *name;
    const char *image_source;
    lt_config_views train_view, val_view, test_view;
    const lt_cfg *params;
} lt_config_loader;

typedef struct lt_config_augmentation {
    const char *name;
    const lt_cfg *params;
    bool active;
    bool use_for_resizing;
    lt_config_views apply_on_stages;
    const char *where;
} lt_config_augmentation;

typedef struct lt_config_preprocessing {
    int64_t train_image_size[2]; /* [H, W] */
    bool keep_aspect_ratio;
    const char *color_space;     /* "RGB", "BGR" or "GRAY" */
    bool normalize_active;
    const lt_cfg *normalize_params;
    lt_config_augmentation *augmentations;
    int n_augmentations;
} lt_config_preprocessing;

typedef struct lt_config_callback {
    const char *name;
    bool active;
    const lt_cfg *params;
    const char *where;
} lt_config_callback;

/* Optional values: has_* is false where the reference's default is None. */
typedef struct lt_config_trainer {
    lt_config_preprocessing preprocessing;
    const char *precision, *accelerator, *devices, *strategy;
    int64_t n_sanity_val_steps;
    const char *profiler, *matmul_precision; /* or NULL */
    bool has_seed;
    int64_t seed;
    int deterministic;      /* -1 unset (None), 0, 1, 2 = "warn" */
    bool smart_cfg_auto_populate;
    int64_t batch_size;
    bool has_accumulate_grad_batches;
    int64_t accumulate_grad_batches;
    bool has_gradient_clip_val;
    double gradient_clip_val;
    const char *gradient_clip_algorithm; /* "norm", "value" or NULL */
    bool use_weighted_sampler;
    int64_t epochs;
    int64_t overfit_batches;
    bool resume_training;
    bool strict_weights_loading;
    int64_t n_workers;
    int64_t validation_interval;
    bool run_validation_after_first_epoch;
    int64_t n_log_images;
    bool skip_last_batch;
    bool has_n_validation_batches;
    int64_t n_validation_batches;
    bool pin_memory, log_sub_metrics, log_sub_losses;
    int64_t save_top_k;
    lt_config_callback *callbacks;
    int n_callbacks;
    lt_config_item optimizer, scheduler;
    lt_config_item training_strategy; /* name NULL when absent */
} lt_config_trainer;

typedef struct lt_config_tracker {
    const char *project_name, *project_id, *run_name, *run_id; /* or NULL */
    const char *save_directory;
    bool is_tensorboard, is_wandb, is_mlflow;
    const char *wandb_entity;
} lt_config_tracker;

typedef struct lt_config {
    lt_cfg *resolved;         /* the whole config after overrides, validation and defaults */
    bool rich_logging;
    const char *version;
    lt_config_model model;
    lt_config_loader loader;
    lt_config_trainer trainer;
    lt_config_tracker tracker;
    const lt_cfg *exporter, *archiver, *tuner; /* resolved maps */
    char **defaults;          /* "trainer.batch_size = 32", one per default applied (--verbose) */
    int n_defaults;
    char **warnings;          /* what the reference logs as warnings (ENVIRON, main metric, ...) */
    int n_warnings;
    void **blocks_;           /* private: arrays behind the structs */
    int n_blocks_;
} lt_config;

/* Reads a YAML file, applies `overrides` (key, value, key, value...),
 * validates and resolves it. NULL with an error. */
lt_config *lt_config_load(const char *path, const char *const *overrides, int n_overrides);
/* The same from YAML text (file_name used in messages). */
lt_config *lt_config_parse(const char *text, const char *file_name, const char *const *overrides, int n_overrides);
/* The same from a tree, which it takes (freed on failure too). */
lt_config *lt_config_from_tree(lt_cfg *tree, const char *const *overrides, int n_overrides);
void lt_config_free(lt_config *c);

/* The resolved config as YAML, without the keys the reference leaves out
 * of dumps (predefined_model — its nodes are in model.nodes —, weights,
 * tracker.save_directory, ENVIRON). Loading it gives the same config.
 * malloc'd, or NULL with an error. */
char *lt_config_to_yaml(const lt_config *c);
/* Writes lt_config_to_yaml to path (through a temporary file and a
 * rename). 0, or -1 with an error. */
int lt_config_save(const lt_config *c, const char *path);

/* ===================================================== predefined models */

/* Appends a predefined model's node maps to `nodes` (a list), given its
 * validated predefined_model map and the variant chosen ("default"
 * resolved). The config then validates the new nodes and fills their
 * defaults. 0, or -1 with an error. */
typedef int (*lt_predefined_fn)(const lt_cfg *predefined, const char *variant, lt_cfg *nodes);
typedef struct lt_predefined_model {
    const char *name;
    const char *const *variants; /* default first, NULL-terminated */
    lt_predefined_fn append_nodes;
} lt_predefined_model;
extern const lt_predefined_model lt_predefined_models[];
extern const int lt_n_predefined_models;

#endif

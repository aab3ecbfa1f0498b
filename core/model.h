/* The model graph: nodes built from plugins, wired by their inputs, run in
 * topological order, each producing a packet. */
#ifndef LTRAIN_CORE_MODEL_H
#define LTRAIN_CORE_MODEL_H

#include <ltrain/cfg.h>
#include <ltrain/plugin.h>

#include "registry.h"
#include "tasks.h"

/* A loss / metric / visualizer entry of a node's config. */
typedef struct lt_module_config {
    const char *name;     /* registry name */
    const char *alias;    /* or NULL */
    const lt_cfg *params; /* map or NULL (borrowed) */
    float weight;         /* losses: 1.0 by default */
    bool is_main_metric;  /* metrics */
    const char *where;    /* "file:line:col: model.nodes[0].losses[1]" for messages, or NULL */
} lt_module_config;

typedef struct lt_node_config {
    const char *name;          /* registry name of the node */
    const char *alias;         /* or NULL; identifier = alias or name */
    const char *variant;       /* or NULL = the node's default variant */
    const char *const *inputs; /* identifiers of input nodes; n_inputs == 0: the model input image */
    int n_inputs;
    const lt_cfg *params;      /* map or NULL (borrowed); "attach_index" here overrides the node's */
    const lt_module_config *losses;
    int n_losses;
    const lt_module_config *metrics;
    int n_metrics;
    const lt_module_config *visualizers;
    int n_visualizers;
    const char *where;         /* location for messages, or NULL */
} lt_node_config;

/* What the dataset tells the nodes. */
typedef struct lt_dataset_info {
    int n_classes;
    int n_keypoints;
    const char *const *class_names; /* n_classes entries, or NULL */
    int64_t input_shape[4];         /* [B,C,H,W] of the model input */
} lt_dataset_info;

typedef struct lt_model lt_model;
struct lt_attached;

/* Builds every node (init with params and input shapes found by running a
 * shape-probe forward on a zero image of input_shape), then binds the
 * attached modules (core/modules.h). Rejects unknown names (did you mean),
 * cycles and dangling inputs (naming the nodes), attach_index /
 * input-kind incompatibilities (naming both nodes) and module/task
 * mismatches. NULL with an error. The registry must outlive the model. */
lt_model *lt_model_build(const lt_registry *r, const lt_node_config *nodes, int n_nodes, const lt_dataset_info *ds,
                         uint64_t seed);
void lt_model_free(lt_model *m);

lt_params *lt_model_params(lt_model *m);

/* Runs every node on images [B,C,H,W] in the given mode (in the current
 * step context); packets stay valid until the context is reset. */
int lt_model_forward(lt_model *m, lt_tensor *images, lt_mode mode);

int lt_model_n_nodes(const lt_model *m);
/* Node by identifier (alias or name), or -1. */
int lt_model_find_node(const lt_model *m, const char *identifier);
const char *lt_model_node_identifier(const lt_model *m, int i);
const lt_node_desc *lt_model_node_desc(const lt_model *m, int i);
/* Resolved task of a node (NULL for backbones/necks). */
const lt_task_info *lt_model_node_task(const lt_model *m, int i);
/* The packet the node produced in the last forward (NULL before one). */
const lt_packet *lt_model_packet(const lt_model *m, int i);
/* True for nodes no other node consumes (the model's outputs). */
bool lt_model_node_is_output(const lt_model *m, int i);

/* Resolved variant of node i (NULL when the node has none). */
const char *lt_model_node_variant(const lt_model *m, int i);
/* Node i's params.weights: the safetensors file to load into it (its own
 * state_dict names, e.g. torchvision's), or NULL ("none" or absent).
 * Loaded by lt_model_load_node_weights (core/weights.h), not by the build. */
const char *lt_model_node_weights(const lt_model *m, int i);
/* The attach_index node i uses: its config's params, else its descriptor's,
 * else inferred (never LT_ATTACH_UNSET). */
lt_attach_index lt_model_node_attach_index(const lt_model *m, int i);
/* Input nodes of node i, in config order (0 inputs: the model input). */
int lt_model_node_n_inputs(const lt_model *m, int i);
int lt_model_node_input(const lt_model *m, int i, int k);
/* The k-th node in execution (topological) order. */
int lt_model_order(const lt_model *m, int k);
/* NN Archive head metadata of node i: the JSON object text its
 * custom_head_config returns (step memory or static), "{}" when it has
 * none; NULL with an error when the callback fails. */
const char *lt_model_node_head_config(lt_model *m, int i);

/* Attached modules of node i by kind (LT_DESC_LOSS / METRIC / VISUALIZER). */
int lt_model_n_attached(const lt_model *m, int node, lt_desc_kind kind);
struct lt_attached *lt_model_attached(const lt_model *m, int node, lt_desc_kind kind, int k);

/* Weighted sum of every loss for the last forward and these labels: a
 * scalar step tensor, or NULL with an error. */
lt_tensor *lt_model_loss(lt_model *m, const lt_labels *labels);

#endif

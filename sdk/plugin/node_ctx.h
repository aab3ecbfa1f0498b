/* Private: what a node sees of the model (struct lt_node_ctx of plugin.h).
 * Shared by the SDK, which implements the lt_node_* accessors plugins call,
 * and the core, which fills one per node (core/model.c). Not installed. */
#ifndef LTRAIN_SDK_PLUGIN_NODE_CTX_H
#define LTRAIN_SDK_PLUGIN_NODE_CTX_H

#include <ltrain/cfg.h>
#include <ltrain/plugin.h>

/* Shape of one attached input (what the node's attach_index selects from
 * its first input node's "features"). */
typedef struct lt_node_input_shape {
    int ndim;
    int64_t shape[LT_MAX_DIMS];
} lt_node_input_shape;

#define LT_NODE_PARAM_ERROR_MAX 512

struct lt_node_ctx {
    /* Identity, for accessors and for messages. */
    const char *name;      /* identifier: alias or registry name */
    const char *type_name; /* registry name ("ResNet") */
    const char *variant;   /* resolved variant or NULL */
    const char *prefix;    /* state_dict prefix of the node's parameters */
    lt_mode mode;

    lt_params *params; /* the model's store (borrowed) */
    lt_rng *rng;       /* the node's initialisation stream (borrowed) */

    /* The node's `params:` map, or NULL: the model's own copy, so strings
     * read from it stay valid while the model lives. Reads mark keys used
     * (the core rejects keys nobody read). */
    const lt_cfg *cfg;

    /* Inputs: n_inputs shapes (borrowed); 0 when the core could not apply
     * the default rule (a custom unwrap over packets without "features"). */
    int n_inputs;
    const lt_node_input_shape *inputs;

    /* Dataset facts. class_names has n_classes entries or is NULL. */
    int n_classes, n_keypoints;
    const char *const *class_names;
    int64_t original_in_shape[4];

    /* The first wrongly typed param read (the readers return the default,
     * so the core checks this after init and fails the build with it). */
    bool param_failed;
    char param_error[LT_NODE_PARAM_ERROR_MAX];
};

#endif

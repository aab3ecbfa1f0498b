/* Loading weights into a built model (luxonis-train's node `weights` param
 * and --weights / model.weights), on the SDK's state-dict loader
 * (<ltrain/safetensors.h>).
 *
 * Node files: a node's params.weights names a safetensors file holding that
 * node's own state_dict (torchvision's names for ResNet: conv1.weight,
 * layer1.0.bn1.running_mean, ...); it loads under the node's prefix
 * "<identifier>." and touches no other node.
 *
 * Model files: an ltrain checkpoint ("<identifier>.<name>"), a luxonis-train
 * state_dict ("nodes.<identifier>.[module.]<name>") or a bare torch
 * state_dict whose names match the model's after the node prefix
 * ("conv1.weight" loads into the one node with a "conv1.weight"; a name two
 * nodes have is an error naming both). "optimizer.*" entries are skipped.
 *
 * strict (trainer.strict_weights_loading): a model tensor the file lacks or
 * a file tensor that matches nothing is an error naming them; otherwise both
 * are reported to `log` (torchvision's fc.* in a backbone's file: unused) and
 * the matching tensors load. A shape or dtype mismatch is always an error
 * naming the tensor, the file and both shapes. */
#ifndef LTRAIN_CORE_WEIGHTS_H
#define LTRAIN_CORE_WEIGHTS_H

#include <stdio.h>

#include <ltrain/safetensors.h>

#include "model.h"

typedef struct lt_weights_options {
    bool strict; /* trainer.strict_weights_loading */
    FILE *log;   /* unused and missing tensors of a non-strict load; NULL: silent */
} lt_weights_options;

/* Loads every node's params.weights file (nodes without one are skipped). */
int lt_model_load_node_weights(lt_model *m, const lt_weights_options *o);

/* Loads a model file (see above). */
int lt_model_load_weights(lt_model *m, const lt_safetensors *f, const lt_weights_options *o);
int lt_model_load_weights_file(lt_model *m, const char *path, const lt_weights_options *o);

#endif

/* Attached modules bound to a node: argument names resolved once to slots,
 * a libffi call interface prepared once, each step only filling slots. */
#ifndef LTRAIN_CORE_MODULES_H
#define LTRAIN_CORE_MODULES_H

#include <ltrain/plugin.h>

#include "model.h"
#include "registry.h"
#include "tasks.h"

typedef struct lt_attached lt_attached;

/* The node a module is attached to. */
typedef struct lt_attach_target {
    const char *node_identifier;   /* alias or name */
    const char *node_name;         /* registry name of the node (for the `node` check) */
    const lt_task_info *task;      /* NULL when the node has no task */
    int n_classes;
    const char *const *class_names;
} lt_attach_target;

/* Builds one module of `kind` from its config: registry lookup (did you
 * mean), supported_tasks and node checks, argument resolution (the seed's
 * rules; `target` on a multi-label task is an error telling the author to
 * use target_<label>), ffi_prep_cif, metric states, init. NULL with an error
 * naming the module. */
lt_attached *lt_attached_build(const lt_registry *r, lt_desc_kind kind, const lt_module_config *cfg,
                               const lt_attach_target *target);
void lt_attached_free(lt_attached *a);

lt_desc_kind lt_attached_kind(const lt_attached *a);
const char *lt_attached_identifier(const lt_attached *a); /* alias or name */
float lt_attached_weight(const lt_attached *a);
bool lt_attached_is_main_metric(const lt_attached *a);

/* Loss: a scalar step tensor (NULL + error naming the module and argument
 * on a missing required key or kind mismatch, listing every available key). */
lt_tensor *lt_attached_loss(lt_attached *a, const lt_packet *packet, const lt_labels *labels);
/* Sub-losses reported by the last loss call. */
int lt_attached_n_sublosses(const lt_attached *a);
const char *lt_attached_subloss_name(const lt_attached *a, int i);
lt_tensor *lt_attached_subloss(const lt_attached *a, int i);

/* Metric. compute fills *out (owned by the module until the next compute or
 * reset); has_main tells whether it can be the main metric. */
int lt_attached_metric_update(lt_attached *a, const lt_packet *packet, const lt_labels *labels);
int lt_attached_metric_compute(lt_attached *a, const lt_metric_result **out);
void lt_attached_metric_reset(lt_attached *a);
bool lt_metric_result_has_main(const lt_metric_result *r);
float lt_metric_result_main(const lt_metric_result *r);
int lt_metric_result_count(const lt_metric_result *r);
const char *lt_metric_result_name(const lt_metric_result *r, int i);
float lt_metric_result_value(const lt_metric_result *r, int i);
/* Metric states for reduction across processes: count, name, kind, value. */
int lt_attached_n_states(const lt_attached *a);
const lt_state_spec *lt_attached_state_spec(const lt_attached *a, int i);

/* Visualizer: an lt_vis_output (LT_VIS_ERROR with an error). */
int lt_attached_visualize(lt_attached *a, lt_tensor *prediction_canvas, lt_tensor *target_canvas,
                          const lt_packet *packet, const lt_labels *labels);

#endif

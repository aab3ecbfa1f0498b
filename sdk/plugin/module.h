/* Private to ltrain (sdk and core, never installed): the attached-module
 * handle a loss, metric or visualizer receives (plugin.h's opaque
 * lt_module), its metric states and its metric results.
 *
 * The sdk owns the handle's lifetime and everything a plugin reaches through
 * plugin.h's lt_module_* / lt_metric_* functions; the core (core/modules.c)
 * creates one per attached module with lt__module_new(), binds and calls it,
 * and reads sub-losses and results through the fields and readers below.
 * Functions here carry LT_API because libltrain hides every other symbol. */
#ifndef LTRAIN_SDK_PLUGIN_MODULE_H
#define LTRAIN_SDK_PLUGIN_MODULE_H

#include <ltrain/cfg.h>
#include <ltrain/plugin.h>

/* One named value of a metric result: a float, or a tensor (owned copy) for
 * non-scalar results such as a confusion matrix. */
typedef struct lt_metric_entry {
    char *name;        /* owned */
    float value;       /* NaN for a non-scalar tensor entry */
    lt_tensor *tensor; /* owned clone, or NULL for a plain float */
} lt_metric_entry;

struct lt_metric_result {
    const char *owner; /* module identifier, for messages (borrowed from the module) */
    bool has_main;
    float main;
    int n, cap;
    lt_metric_entry *entries;
};

/* A metric state created from its lt_state_spec. */
typedef struct lt_metric_state_slot {
    lt_state_spec spec;  /* resolved copy: reduce filled in, -1 dims = n_classes; name borrowed */
    lt_tensor *tensor;   /* LT_STATE_TENSOR: owned float32 of spec's shape */
    lt_tensor_list list; /* LT_STATE_LIST: owned clones */
    int list_cap;
} lt_metric_state_slot;

/* A sub-loss reported by lt_module_log_loss() during the current call. */
typedef struct lt_subloss {
    const char *name; /* step memory (copied at report time) */
    lt_tensor *value; /* step tensor, one element */
} lt_subloss;

struct lt_module {
    lt_desc_kind kind;
    char *identifier;      /* alias or name (owned) */
    char *node_identifier; /* owned */
    const char *task;      /* borrowed task name, or NULL */
    int n_classes;
    const char *const *class_names; /* borrowed, n_classes entries or NULL */
    const lt_cfg *params;  /* borrowed map, or NULL */
    const char *where;     /* borrowed config location for messages, or NULL */
    void *state;           /* state_size zeroed bytes (NULL when 0) */
    char *param_error;     /* first failed lt_module_param_* message (owned), or NULL */

    int n_sublosses, cap_sublosses;
    lt_subloss *sublosses;

    int n_states;
    lt_metric_state_slot *states;

    lt_metric_result result;
};

/* What the core knows about a module when it creates its handle. Strings
 * are copied except task, class_names, params and where, which must outlive
 * the handle. */
typedef struct lt_module_setup {
    lt_desc_kind kind;              /* LT_DESC_LOSS / METRIC / VISUALIZER */
    const char *identifier;         /* alias or registry name */
    const char *node_identifier;
    const char *task;               /* NULL when the module has no task */
    int n_classes;
    const char *const *class_names;
    const lt_cfg *params;
    const char *where;
    size_t state_size;
    const lt_state_spec *states;    /* {0}-terminated, metrics only; NULL = none */
} lt_module_setup;

/* New handle: state allocated and zeroed, metric states created from their
 * specs at their defaults. NULL with an error naming the module and the
 * state (bad kind, shape, reduce, duplicate name, -1 dim without classes). */
LT_API lt_module *lt__module_new(const lt_module_setup *s);
/* Frees the handle, its states, sub-losses and result (not the task or params). */
LT_API void lt__module_free(lt_module *m);

/* Starts a forward/update/visualize call: forgets the last call's sub-losses. */
LT_API void lt__module_begin_call(lt_module *m);
/* Restores every metric state to its default and clears the result. */
LT_API void lt__module_reset_states(lt_module *m);
/* The first lt_module_param_* type error since creation, or NULL. The
 * accessors return their default on such an error (a plugin cannot fail
 * from a getter), so the core checks this after init and after each call. */
LT_API const char *lt__module_param_error(const lt_module *m);

/* Empties a result (keeps its capacity). */
LT_API void lt__metric_result_clear(lt_metric_result *r);
/* The tensor of entry i when it was set with lt_metric_result_set_tensor, else NULL. */
LT_API const lt_tensor *lt_metric_result_tensor(const lt_metric_result *r, int i);

/* Readers the core uses (also declared in core/modules.h). */
LT_API bool lt_metric_result_has_main(const lt_metric_result *r);
LT_API float lt_metric_result_main(const lt_metric_result *r);
LT_API int lt_metric_result_count(const lt_metric_result *r);
LT_API const char *lt_metric_result_name(const lt_metric_result *r, int i);
LT_API float lt_metric_result_value(const lt_metric_result *r, int i);

#endif

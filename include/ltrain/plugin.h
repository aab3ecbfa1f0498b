/* ltrain plugin ABI — how a shared object adds nodes, tasks, losses, metrics
 * and visualizers to ltrain.
 *
 * A plugin is a `.so` that exports exactly one symbol, `lt_plugin_entry`,
 * written by the LT_PLUGIN() macro at the end of the plugin's source. It
 * returns a table of *descriptors*: constant structs that name a component
 * and hold pointers to its functions. The loader (core/) reads each
 * descriptor's ABI version before anything else, skips descriptors and
 * plugins it cannot use with one message naming the file, the symbol and the
 * reason, and registers the rest by name.
 *
 * Python's luxonis-train discovers everything by introspection: class
 * attributes, type hints of `forward`, `Annotated[..., MetricState]`. C has
 * no introspection, so each of those facts is *declared* in the descriptor:
 *
 *   Python                                   C (this header)
 *   ------------------------------------     --------------------------------------------
 *   class MyHead(BaseHead)                   lt_node_desc with .role = LT_NODE_HEAD
 *   attach_index = -1 / (0, 3) / "all"       .attach_index = LT_ATTACH_AT(-1) / LT_ATTACH_SLICE(0, 3, 1) / LT_ATTACH_ALL
 *   forward(self, x: Tensor) annotation      .input_kind = LT_VALUE_TENSOR (LT_VALUE_LIST for list[Tensor])
 *   in_channels: int   (class hint)          .input_kind again: a tensor input sees one channel count
 *   task = Tasks.SEGMENTATION                .task = "segmentation"
 *   parser = "SegmentationParser"            .parser = "SegmentationParser"
 *   get_custom_head_config()                 .custom_head_config
 *   wrap / unwrap overrides                  .wrap / .unwrap (NULL = the defaults)
 *   self (the nn.Module instance)            `state`: state_size zeroed bytes the core allocates
 *   __init__(**kwargs) with node.params      .init(state, lt_node_ctx *) + lt_node_param_*()
 *   class MyTask(Task) / Metadata(...)       lt_task_desc with lt_label_spec entries
 *   forward(self, predictions, target)       .args = {{"predictions", LT_ARG_TENSOR}, {"target", LT_ARG_TENSOR}}
 *     + Optional[...] annotation               and LT_ARG_OPTIONAL in the flags
 *   return loss, {"sub": t}                  return loss; lt_module_log_loss(m, "sub", t) for sub-losses
 *   MetricState(default=0) annotations       .states = {{"total", LT_STATE_TENSOR}, ...}
 *   supported_tasks = [Tasks.X]              .supported_tasks = (const char *[]){"x", NULL}
 *   node: SomeHead  (class hint)             .node = "SomeHead"
 *   run(packet, labels) override             .run / .run_update (raw hooks)
 *
 * Calling convention of attached modules. A loss's `forward`, a metric's
 * `update` and a visualizer's `forward` are ordinary C functions whose
 * parameters are the module handle followed by one pointer per declared
 * argument, in declaration order:
 *
 *     static lt_tensor *bce_forward(lt_module *m, lt_tensor *predictions, lt_tensor *target);
 *     .args = (const lt_arg_spec[]){{"predictions", LT_ARG_TENSOR}, {"target", LT_ARG_TENSOR}, {0}},
 *     .forward = LT_FN(bce_forward),
 *
 * The core resolves every argument by name once, at model build (see
 * "Argument binding" below), prepares a libffi call interface for exactly
 * that signature, and at each step only fills the argument slots and calls.
 * Argument pointer types by kind:
 *     LT_ARG_TENSOR      lt_tensor *
 *     LT_ARG_LIST        const lt_tensor_list *
 *     LT_ARG_METADATA    const lt_metadata *
 *     LT_ARG_CANVAS      lt_tensor *   (visualizers only; uint8 [B,3,H,W])
 * An optional argument that is not available is passed as NULL.
 *
 * Argument binding (the seed document's rules):
 *   predictions, preds, pred, prediction  -> the node's packet at the task's main output key
 *   pred_<key>                           -> the node's packet at <key>
 *   target, targets                       -> the task's single required label; if the task
 *                                            requires several, model build fails and tells the
 *                                            author to use target_<label>
 *   target_<label>                        -> that label (metadata labels by their name)
 *   prediction_canvas, target_canvas      -> visualizer canvases
 *   anything else                         -> the node's packet at that key
 * A required argument that cannot be found fails at the first step naming the
 * module, the argument and every available key; a kind mismatch (tensor vs
 * list) fails naming expected and actual kind.
 *
 * Lifetimes: descriptors are static constants of the plugin and must stay
 * valid while the plugin is loaded. Tensors passed to forward/update are step
 * tensors (see tensor.h) borrowed for the call. Per-instance state lives from
 * init to fini.
 */
#ifndef LTRAIN_PLUGIN_H
#define LTRAIN_PLUGIN_H

#include "ltrain.h"

#include <assert.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Bumped whenever a descriptor layout changes incompatibly. Descriptors only
 * grow at the end (their `size` field tells the loader which members the
 * plugin knows), so adding members does not bump it. */
#define LT_PLUGIN_ABI_VERSION 1u

/* The one exported symbol of a plugin. */
#define LT_PLUGIN_ENTRY_SYMBOL "lt_plugin_entry"

/* A function pointer of any signature (attached-module entry points are
 * called through libffi with the declared arguments). */
typedef void (*lt_generic_fn)(void);
#define LT_FN(f) ((lt_generic_fn)(f))

/* ------------------------------------------------------------------ */
/* Values passed between nodes and to attached modules                 */
/* ------------------------------------------------------------------ */

typedef enum lt_value_kind {
    LT_VALUE_NONE = 0,
    LT_VALUE_TENSOR, /* one tensor */
    LT_VALUE_LIST,   /* a list of tensors (feature maps, per-image boxes) */
} lt_value_kind;

typedef struct lt_tensor_list {
    int n;
    lt_tensor **items;
} lt_tensor_list;

typedef struct lt_value {
    lt_value_kind kind;
    lt_tensor *tensor;   /* kind == LT_VALUE_TENSOR */
    lt_tensor_list list; /* kind == LT_VALUE_LIST */
} lt_value;

static inline lt_value lt_value_tensor(lt_tensor *t)
{
    lt_value v = {LT_VALUE_TENSOR, t, {0, NULL}};
    return v;
}
static inline lt_value lt_value_list(int n, lt_tensor **items)
{
    lt_value v = {LT_VALUE_LIST, NULL, {n, items}};
    return v;
}
LT_API const char *lt_value_kind_name(lt_value_kind kind);

/* A step list of n tensors (arena memory; items start NULL). */
LT_API lt_tensor_list *lt_tensor_list_new(int n);

/* Metadata label types; a label spec accepts a union (bitwise or). */
typedef enum lt_meta_type {
    LT_META_STR = 1u << 0,
    LT_META_INT = 1u << 1,
    LT_META_FLOAT = 1u << 2,
    LT_META_CATEGORY = 1u << 3,
} lt_meta_type;

/* One metadata label for a batch: values[i] is image i's value. */
typedef struct lt_metadata {
    const char *name;            /* "distance" */
    lt_meta_type type;           /* the type the dataset stores */
    lt_tensor *values;           /* [B]: LT_F32 for float, LT_I32 for int and category index */
    const char *const *strings;  /* [B] for str; category names for category; else NULL */
} lt_metadata;

/* ------------------------------------------------------------------ */
/* Packets and labels                                                  */
/* ------------------------------------------------------------------ */

/* A node's output: an ordered map from key to value (luxonis-train's
 * Packet[Tensor]). Step memory; keys are copied. */
typedef struct lt_packet lt_packet;

LT_API lt_packet *lt_packet_new(void);
/* Sets (or replaces) key. */
LT_API int lt_packet_set(lt_packet *p, const char *key, lt_value value);
/* The value at key, or NULL. */
LT_API const lt_value *lt_packet_get(const lt_packet *p, const char *key);
LT_API int lt_packet_count(const lt_packet *p);
LT_API const char *lt_packet_key_at(const lt_packet *p, int i);
/* "features, class_scores" — for error messages (step memory). */
LT_API const char *lt_packet_keys_str(const lt_packet *p);

/* A batch's labels: label name ("classification", "boundingbox",
 * "segmentation", "keypoints", ...) to a value, plus metadata by name. */
typedef struct lt_labels lt_labels;

LT_API lt_labels *lt_labels_new(void);
LT_API int lt_labels_set(lt_labels *l, const char *label, lt_value value);
LT_API int lt_labels_set_metadata(lt_labels *l, const lt_metadata *meta);
LT_API const lt_value *lt_labels_get(const lt_labels *l, const char *label);
LT_API const lt_metadata *lt_labels_get_metadata(const lt_labels *l, const char *name);
LT_API const char *lt_labels_keys_str(const lt_labels *l);

/* ------------------------------------------------------------------ */
/* Descriptors                                                         */
/* ------------------------------------------------------------------ */

typedef enum lt_desc_kind {
    LT_DESC_NODE = 1,
    LT_DESC_TASK,
    LT_DESC_LOSS,
    LT_DESC_METRIC,
    LT_DESC_VISUALIZER,
    LT_DESC_KIND_COUNT
} lt_desc_kind;

/* First member of every descriptor. abi_version comes first and is checked
 * before anything else is read. */
typedef struct lt_desc_header {
    uint32_t abi_version; /* LT_PLUGIN_ABI_VERSION the plugin was built with */
    uint32_t size;        /* sizeof the whole descriptor as the plugin knows it */
    lt_desc_kind kind;
    const char *name;     /* registry name used in configs, e.g. "ResNet" */
    const char *summary;  /* one line for `ltrain plugins`, may be NULL */
} lt_desc_header;

#define LT_DESC_HEADER(KIND, TYPE, NAME) \
    {.abi_version = LT_PLUGIN_ABI_VERSION, .size = sizeof(TYPE), .kind = (KIND), .name = (NAME)}

LT_API const char *lt_desc_kind_name(lt_desc_kind kind);

/* ---------------- tasks ---------------- */

/* A required label: a label type (metadata_types == 0), or a metadata label
 * of the given name accepting any of the types in the mask. */
typedef struct lt_label_spec {
    const char *name;
    uint32_t metadata_types;
} lt_label_spec;

#define LT_LABEL(NAME) {.name = (NAME), .metadata_types = 0}
#define LT_METADATA(NAME, TYPES) {.name = (NAME), .metadata_types = (TYPES)}

typedef struct lt_task_desc {
    lt_desc_header header;        /* header.name: the task's name ("classification") */
    const char *main_output;      /* prediction key; NULL = the base's, else the name */
    const char *extends;          /* a task whose required labels this one adds to, or NULL */
    const lt_label_spec *required_labels; /* terminated by an entry with name NULL */
} lt_task_desc;

/* ---------------- nodes ---------------- */

typedef enum lt_node_role { LT_NODE_BACKBONE = 1, LT_NODE_NECK, LT_NODE_HEAD } lt_node_role;

typedef enum lt_attach_kind {
    LT_ATTACH_UNSET = 0, /* infer: tensor input -> -1, list input -> all; heads -> -1 */
    LT_ATTACH_INDEX,     /* one output, negative counts from the end */
    LT_ATTACH_SLICE,     /* outputs [start, stop) by step, Python slice rules */
    LT_ATTACH_EVERY,     /* "all" */
} lt_attach_kind;

typedef struct lt_attach_index {
    lt_attach_kind kind;
    int start, stop, step; /* INDEX uses start */
} lt_attach_index;

#define LT_ATTACH_AT(I) ((lt_attach_index){.kind = LT_ATTACH_INDEX, .start = (I)})
#define LT_ATTACH_SLICE(A, B, S) ((lt_attach_index){.kind = LT_ATTACH_SLICE, .start = (A), .stop = (B), .step = (S)})
#define LT_ATTACH_ALL ((lt_attach_index){.kind = LT_ATTACH_EVERY})

typedef enum lt_mode { LT_MODE_TRAIN = 0, LT_MODE_EVAL, LT_MODE_EXPORT } lt_mode;

/* What a node sees of the model at init and during calls (opaque, owned by
 * the core). */
typedef struct lt_node_ctx lt_node_ctx;

typedef struct lt_node_desc {
    lt_desc_header header;
    lt_node_role role;
    const char *task;               /* task name (heads); NULL for backbones and necks */
    const char *parser;             /* NN Archive parser of a head, or NULL */
    lt_attach_index attach_index;   /* LT_ATTACH_UNSET: inferred (see lt_attach_kind) */
    lt_value_kind input_kind;       /* what forward takes: one tensor or a list */
    lt_value_kind output_kind;      /* what forward returns */
    const char *const *variants;    /* NULL-terminated, first = default; NULL = none */
    size_t state_size;              /* bytes of zeroed per-instance state */

    /* Builds the node: read params (lt_node_param_*), input shapes
     * (lt_node_in_channels, ...), register parameters in lt_node_params()
     * under lt_node_prefix(). 0 or -1 with lt_set_error(). */
    int (*init)(void *state, lt_node_ctx *nc);
    /* Releases what init allocated outside the parameter store (may be NULL). */
    void (*fini)(void *state);
    /* The forward pass: `in` is what unwrap produced (kind input_kind); set
     * *out (kind output_kind) to step tensors. 0 or -1. */
    int (*forward)(void *state, lt_node_ctx *nc, const lt_value *in, lt_value *out);
    /* Packs forward's output into the node's packet; NULL = default:
     * {task.main_output: out} for heads with a task, {"features": out}
     * otherwise. lt_node_mode() tells train / eval / export. */
    int (*wrap)(void *state, lt_node_ctx *nc, const lt_value *out, lt_packet *packet);
    /* Builds forward's input from the packets of the input nodes (one per
     * input node, in `inputs` order); NULL = default:
     * inputs[0]["features"][attach_index]. */
    int (*unwrap)(void *state, lt_node_ctx *nc, const lt_packet *const *inputs, int n_inputs, lt_value *in);
    /* Heads: JSON object text for the NN Archive head metadata (step
     * memory or static); NULL = "{}". */
    const char *(*custom_head_config)(void *state, lt_node_ctx *nc);
} lt_node_desc;

/* ---- what a node may ask of its context ---- */

/* Typed parameters from the config's `params:`; a present key of the wrong
 * type fails model build with the node, key and expected type. */
LT_API int64_t lt_node_param_int(lt_node_ctx *nc, const char *key, int64_t def);
LT_API double lt_node_param_float(lt_node_ctx *nc, const char *key, double def);
LT_API bool lt_node_param_bool(lt_node_ctx *nc, const char *key, bool def);
LT_API const char *lt_node_param_str(lt_node_ctx *nc, const char *key, const char *def);
LT_API bool lt_node_has_param(lt_node_ctx *nc, const char *key);
/* Number of int entries of a list param (writes up to max into out); -1 when absent. */
LT_API int lt_node_param_ints(lt_node_ctx *nc, const char *key, int64_t *out, int max);

LT_API const char *lt_node_name(const lt_node_ctx *nc);    /* alias or name */
LT_API const char *lt_node_variant(const lt_node_ctx *nc); /* resolved variant or NULL */
LT_API lt_mode lt_node_mode(const lt_node_ctx *nc);
/* State-dict prefix of this node's parameters ("backbone"). */
LT_API const char *lt_node_prefix(const lt_node_ctx *nc);
LT_API lt_params *lt_node_params(lt_node_ctx *nc);
LT_API lt_rng *lt_node_rng(lt_node_ctx *nc);

/* Number of attached inputs (1 for a single tensor input, the list length
 * otherwise) and their channels / heights / widths. */
LT_API int lt_node_n_inputs(const lt_node_ctx *nc);
LT_API int64_t lt_node_in_channels(const lt_node_ctx *nc, int i);
LT_API int64_t lt_node_in_height(const lt_node_ctx *nc, int i);
LT_API int64_t lt_node_in_width(const lt_node_ctx *nc, int i);
/* Dataset facts: classes (0 when unknown), keypoints, class names, and the
 * model's input shape [B,C,H,W]. */
LT_API int lt_node_n_classes(const lt_node_ctx *nc);
LT_API int lt_node_n_keypoints(const lt_node_ctx *nc);
LT_API const char *lt_node_class_name(const lt_node_ctx *nc, int i);
LT_API const int64_t *lt_node_original_in_shape(const lt_node_ctx *nc);

/* ---------------- attached modules ---------------- */

typedef enum lt_arg_kind {
    LT_ARG_TENSOR = 1,
    LT_ARG_LIST,
    LT_ARG_METADATA,
    LT_ARG_CANVAS,
} lt_arg_kind;

enum { LT_ARG_OPTIONAL = 1u << 0 };

/* One declared argument of forward/update; arrays end with {0}. */
typedef struct lt_arg_spec {
    const char *name;
    lt_arg_kind kind;
    uint32_t flags; /* LT_ARG_OPTIONAL */
} lt_arg_spec;

LT_API const char *lt_arg_kind_name(lt_arg_kind kind);

/* The handle an attached module receives first in every call (opaque, owned
 * by the core). */
typedef struct lt_module lt_module;

/* Per-instance state (state_size zeroed bytes). */
LT_API void *lt_module_state(lt_module *m);
LT_API const char *lt_module_name(const lt_module *m); /* alias or name */
LT_API const char *lt_module_node_name(const lt_module *m);
LT_API const char *lt_module_task(const lt_module *m);
LT_API int lt_module_n_classes(const lt_module *m);
LT_API const char *lt_module_class_name(const lt_module *m, int i);
/* Typed params of the module's config entry (as lt_node_param_*). */
LT_API int64_t lt_module_param_int(lt_module *m, const char *key, int64_t def);
LT_API double lt_module_param_float(lt_module *m, const char *key, double def);
LT_API bool lt_module_param_bool(lt_module *m, const char *key, bool def);
LT_API const char *lt_module_param_str(lt_module *m, const char *key, const char *def);
LT_API int lt_module_param_floats(lt_module *m, const char *key, double *out, int max);

/* Common part of the three attached-module descriptors. */
#define LT_MODULE_COMMON                                                                 \
    const char *const *supported_tasks; /* NULL-terminated task names; NULL = any */     \
    const char *node;                   /* the only node name it works with, or NULL */  \
    size_t state_size;                                                                   \
    int (*init)(lt_module *m);          /* read params into state; may be NULL */        \
    void (*fini)(lt_module *m);         /* may be NULL */                                \
    const lt_arg_spec *args             /* declared arguments, {0}-terminated */

typedef struct lt_loss_desc {
    lt_desc_header header;
    LT_MODULE_COMMON;
    /* lt_tensor *forward(lt_module *m, <args>): a scalar loss (step tensor)
     * or NULL with an error. Sub-losses for logging: lt_module_log_loss(). */
    lt_generic_fn forward;
    /* Raw hook used instead of forward when set: the whole packet and all labels. */
    lt_tensor *(*run)(lt_module *m, const lt_packet *packet, const lt_labels *labels);
} lt_loss_desc;

/* Reports a named sub-loss of the current forward call (logging only). */
LT_API int lt_module_log_loss(lt_module *m, const char *name, lt_tensor *value);

/* Metric states: declared so the core can create, reset and (later)
 * all-reduce them across processes. */
typedef enum lt_state_kind { LT_STATE_TENSOR = 1, LT_STATE_LIST } lt_state_kind;
typedef enum lt_state_reduce {
    LT_REDUCE_DEFAULT = 0, /* sum for tensors, cat for lists */
    LT_REDUCE_SUM,
    LT_REDUCE_MEAN,
    LT_REDUCE_MIN,
    LT_REDUCE_MAX,
    LT_REDUCE_CAT,
} lt_state_reduce;

typedef struct lt_state_spec {
    const char *name;
    lt_state_kind kind;
    int ndim;                   /* tensor states: shape (0 = scalar) */
    int64_t shape[4];           /* a dimension of -1 means n_classes */
    float default_value;        /* tensor states: initial fill (0.0 when unset) */
    lt_state_reduce reduce;
} lt_state_spec;

/* Results of compute(): a main value, named sub-metrics, or both. */
typedef struct lt_metric_result lt_metric_result;
LT_API int lt_metric_result_set_main(lt_metric_result *r, float value);
LT_API int lt_metric_result_set(lt_metric_result *r, const char *name, float value);
/* A non-scalar result (confusion matrix) logged as a matrix. */
LT_API int lt_metric_result_set_tensor(lt_metric_result *r, const char *name, const lt_tensor *value);

typedef struct lt_metric_desc {
    lt_desc_header header;
    LT_MODULE_COMMON;
    /* int update(lt_module *m, <args>): 0 or -1. */
    lt_generic_fn update;
    /* Fills r from the states; 0 or -1. A result without a main value
     * cannot be the model's main metric. */
    int (*compute)(lt_module *m, lt_metric_result *r);
    const lt_state_spec *states; /* {0}-terminated */
    /* Raw hook used instead of update when set. */
    int (*run_update)(lt_module *m, const lt_packet *packet, const lt_labels *labels);
} lt_metric_desc;

/* Owned state tensor (float32, shape from the spec) — modify in update. */
LT_API lt_tensor *lt_metric_state(lt_module *m, const char *name);
/* List state: its items (owned by the state), and append (copies t). */
LT_API const lt_tensor_list *lt_metric_state_list(lt_module *m, const char *name);
LT_API int lt_metric_state_append(lt_module *m, const char *name, const lt_tensor *t);

/* What a visualizer's forward returns. */
typedef enum lt_vis_output {
    LT_VIS_ERROR = -1,
    LT_VIS_PREDICTION = 1, /* one image: the prediction canvas */
    LT_VIS_PAIR = 2,       /* target canvas and prediction canvas */
} lt_vis_output;

typedef struct lt_visualizer_desc {
    lt_desc_header header;
    LT_MODULE_COMMON;
    /* int forward(lt_module *m, lt_tensor *prediction_canvas, lt_tensor *target_canvas, <args>):
     * draws on the canvases in place and returns an lt_vis_output. The two
     * canvas arguments are always passed first and are not listed in args. */
    lt_generic_fn forward;
    int (*run)(lt_module *m, lt_tensor *prediction_canvas, lt_tensor *target_canvas, const lt_packet *packet,
               const lt_labels *labels);
} lt_visualizer_desc;

/* ------------------------------------------------------------------ */
/* The plugin table                                                    */
/* ------------------------------------------------------------------ */

typedef struct lt_plugin_info {
    uint32_t abi_version;
    uint32_t size;
    const char *name;
    const char *version;
    const lt_desc_header *const *descriptors; /* NULL-terminated */
} lt_plugin_info;

typedef const lt_plugin_info *(*lt_plugin_entry_fn)(void);

/* Ends a plugin source file: LT_PLUGIN("myplugin", "1.0", &my_head.header, &my_loss.header) */
#define LT_PLUGIN(NAME, VERSION, ...)                                                      \
    static const lt_desc_header *const lt_plugin_descriptors_[] = {__VA_ARGS__, NULL};     \
    __attribute__((visibility("default"))) const lt_plugin_info *lt_plugin_entry(void);    \
    __attribute__((visibility("default"))) const lt_plugin_info *lt_plugin_entry(void)     \
    {                                                                                      \
        static const lt_plugin_info info = {.abi_version = LT_PLUGIN_ABI_VERSION,          \
                                            .size = sizeof(lt_plugin_info),                \
                                            .name = (NAME),                                \
                                            .version = (VERSION),                          \
                                            .descriptors = lt_plugin_descriptors_};        \
        return &info;                                                                      \
    }

/* Shipped layouts, pinned: a change here is an ABI break (bump the version). */
#if defined(__x86_64__) || defined(__aarch64__)
static_assert(offsetof(lt_desc_header, abi_version) == 0, "abi_version first");
static_assert(offsetof(lt_plugin_info, abi_version) == 0, "abi_version first");
static_assert(offsetof(lt_plugin_info, descriptors) == 24, "lt_plugin_info v1 layout");
static_assert(sizeof(lt_desc_header) == 32, "lt_desc_header v1 layout");
static_assert(offsetof(lt_node_desc, forward) == 112, "lt_node_desc v1 layout");
static_assert(sizeof(lt_node_desc) == 144, "lt_node_desc v1 layout");
static_assert(sizeof(lt_task_desc) == 56, "lt_task_desc v1 layout");
static_assert(offsetof(lt_loss_desc, forward) == 80, "lt_loss_desc v1 layout");
static_assert(sizeof(lt_metric_desc) == 112, "lt_metric_desc v1 layout");
static_assert(sizeof(lt_visualizer_desc) == 96, "lt_visualizer_desc v1 layout");
#endif

#ifdef __cplusplus
}
#endif
#endif

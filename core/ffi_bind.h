/* Argument binding of attached modules (private to core/modules.c and
 * core/ffi_bind.c).
 *
 * At model build every declared argument name is resolved once to a slot
 * (where its value comes from: a prediction key, a label, a metadata label
 * or a canvas) following plugin.h's "Argument binding" rules, and one libffi
 * call interface is prepared for the exact signature
 *     ret fn(lt_module *m, [lt_tensor *prediction_canvas, lt_tensor *target_canvas,] arg0, arg1, ...)
 * with every parameter a pointer. Each call then only looks the slots up in
 * the packet and labels, fills the pointer array and calls. */
#ifndef LTRAIN_CORE_FFI_BIND_H
#define LTRAIN_CORE_FFI_BIND_H

#include <ffi.h>
#include <ltrain/plugin.h>

#include "tasks.h"

typedef enum lt_slot_source {
    LT_SLOT_PREDICTION = 1,    /* the node's packet at key */
    LT_SLOT_LABEL,             /* the label named key */
    LT_SLOT_METADATA,          /* the metadata label named key */
    LT_SLOT_PREDICTION_CANVAS, /* visualizers */
    LT_SLOT_TARGET_CANVAS,
} lt_slot_source;

/* One declared argument, resolved. Strings are borrowed from the plugin's
 * descriptor or the task (both outlive the binding). */
typedef struct lt_arg_slot {
    const char *arg;
    lt_arg_kind kind;
    bool optional;
    lt_slot_source source;
    const char *key; /* packet key, label or metadata name; NULL for canvases */
} lt_arg_slot;

/* What the binder needs to know about the module. */
typedef struct lt_binding_spec {
    const char *who;          /* "loss 'X' (node 'head')", prefix of every message */
    const char *node;         /* node identifier */
    lt_desc_kind kind;        /* visualizers get the two canvases first; losses return a pointer */
    const lt_arg_spec *args;  /* {0}-terminated, or NULL for none */
    const lt_task_info *task; /* NULL: names that need a task fail */
    const char *no_task_note; /* why there is no task (appended to that error), or NULL */
} lt_binding_spec;

typedef struct lt_binding {
    const char *who;  /* borrowed from the spec */
    const char *node;
    int n_slots;
    lt_arg_slot *slots;
    int n_lead;       /* leading fixed pointers: module handle (+ 2 canvases) */
    ffi_cif cif;
    ffi_type **types; /* n_lead + n_slots entries, alive as long as cif */
    void **ptrs;      /* argument values of the next call */
    void **values;    /* values[i] = &ptrs[i], what ffi_call reads */
} lt_binding;

/* Resolves the argument names and prepares the call interface. -1 with an
 * error prefixed by spec->who (and *b left freeable) on a bad or duplicate
 * name, a kind that cannot come from its source, `target` on a task with
 * several labels, or a name that needs a task the module does not have. */
int lt_binding_build(lt_binding *b, const lt_binding_spec *spec);
void lt_binding_free(lt_binding *b);

/* Looks every slot up and fills the argument array. -1 with an error naming
 * the module, the argument and every available key when a required value is
 * missing, or expected and actual kinds on a mismatch. packet and labels may
 * be NULL (nothing available). */
int lt_binding_fill(lt_binding *b, lt_module *m, lt_tensor *prediction_canvas, lt_tensor *target_canvas,
                    const lt_packet *packet, const lt_labels *labels);

/* Calls fn with the filled arguments: for losses (pointer return) and for
 * updates / visualizer forwards (int return). */
void *lt_binding_call_ptr(lt_binding *b, lt_generic_fn fn);
int lt_binding_call_int(lt_binding *b, lt_generic_fn fn);

#endif

/* Argument binding: names resolved to slots once at build, a libffi call
 * interface prepared once, each call only filling pointers (see ffi_bind.h
 * and plugin.h's "Argument binding"). */
#include "ffi_bind.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A guard against an args array missing its {0} terminator. */
#define LT_MAX_MODULE_ARGS 64

static const char *value_kind_word(lt_value_kind kind)
{
    switch (kind) {
    case LT_VALUE_TENSOR: return "tensor";
    case LT_VALUE_LIST: return "list";
    default: return "empty value";
    }
}

static bool starts_with(const char *s, const char *prefix) { return strncmp(s, prefix, strlen(prefix)) == 0; }

static bool is_prediction_alias(const char *name)
{
    return !strcmp(name, "predictions") || !strcmp(name, "preds") || !strcmp(name, "pred") ||
           !strcmp(name, "prediction");
}

/* ------------------------------------------------------------------ */
/* Build: names to slots                                               */
/* ------------------------------------------------------------------ */

static int need_task(const lt_binding_spec *sp, const char *arg, const char *reads)
{
    if (sp->task) return 0;
    return lt_set_error("%s: argument '%s' reads %s, but node '%s' has no task%s", sp->who, arg, reads, sp->node,
                        sp->no_task_note ? sp->no_task_note : "");
}

/* The task's label spec named `name`, or NULL. */
static const lt_label_spec *task_label(const lt_task_info *t, const char *name)
{
    for (int i = 0; t && i < t->n_labels; i++)
        if (strcmp(t->labels[i].name, name) == 0) return &t->labels[i];
    return NULL;
}

/* `target` / `targets`: the task's single required label. */
static int resolve_wildcard_target(const lt_binding_spec *sp, const lt_arg_spec *a, lt_arg_slot *s)
{
    if (need_task(sp, a->name, "the task's label") != 0) return -1;
    const lt_task_info *t = sp->task;
    if (t->n_labels == 1) {
        const lt_label_spec *l = &t->labels[0];
        s->source = l->metadata_types ? LT_SLOT_METADATA : LT_SLOT_LABEL;
        s->key = l->name;
        return 0;
    }
    if (t->n_labels == 0)
        return lt_set_error("%s: argument '%s' reads the task's single label, but task '%s' requires no labels; "
                            "name the label with 'target_<label>'", sp->who, a->name, t->name);
    char names[512];
    size_t len = 0;
    for (int i = 0; i < t->n_labels && len < sizeof names; i++)
        len += (size_t)snprintf(names + len, sizeof names - len, "%s'target_%s'", i ? ", " : "", t->labels[i].name);
    return lt_set_error("%s: argument '%s' is the wildcard for the task's single label, but task '%s' requires "
                        "more than one label (%s); use 'target_<label>' instead: %s", sp->who, a->name, t->name,
                        lt_task_labels_str(t), names);
}

/* `target_<label>`: that label, or that metadata label. */
static int resolve_named_target(const lt_binding_spec *sp, const lt_arg_spec *a, lt_arg_slot *s)
{
    const char *label = a->name + strlen("target_");
    const lt_label_spec *l = task_label(sp->task, label);
    s->key = label;
    if (l && l->metadata_types) {
        if (a->kind != LT_ARG_METADATA)
            return lt_set_error("%s: argument '%s' is declared %s, but task '%s' declares '%s' a metadata label; "
                                "declare the argument LT_ARG_METADATA", sp->who, a->name, lt_arg_kind_name(a->kind),
                                sp->task->name, label);
        s->source = LT_SLOT_METADATA;
        return 0;
    }
    if (l && a->kind == LT_ARG_METADATA)
        return lt_set_error("%s: argument '%s' is declared metadata, but task '%s' declares '%s' a label, not "
                            "metadata", sp->who, a->name, sp->task->name, label);
    /* A label the task does not list is still read from the dataset, like
     * luxonis-train; the argument's kind says whether it is metadata. */
    s->source = a->kind == LT_ARG_METADATA ? LT_SLOT_METADATA : LT_SLOT_LABEL;
    return 0;
}

static int resolve_canvas(const lt_binding_spec *sp, const lt_arg_spec *a, lt_arg_slot *s)
{
    if (sp->kind != LT_DESC_VISUALIZER)
        return lt_set_error("%s: argument '%s': canvases are passed only to visualizers", sp->who, a->name);
    if (a->kind != LT_ARG_CANVAS && a->kind != LT_ARG_TENSOR)
        return lt_set_error("%s: argument '%s' is declared %s; a canvas is LT_ARG_CANVAS", sp->who, a->name,
                            lt_arg_kind_name(a->kind));
    s->source = !strcmp(a->name, "prediction_canvas") ? LT_SLOT_PREDICTION_CANVAS : LT_SLOT_TARGET_CANVAS;
    s->key = NULL;
    return 0;
}

static int resolve_slot(const lt_binding_spec *sp, const lt_arg_spec *a, lt_arg_slot *s)
{
    const char *name = a->name;
    *s = (lt_arg_slot){.arg = name, .kind = a->kind, .optional = (a->flags & LT_ARG_OPTIONAL) != 0};
    if (!name[0]) return lt_set_error("%s: an argument has an empty name", sp->who);
    if (a->kind < LT_ARG_TENSOR || a->kind > LT_ARG_CANVAS)
        return lt_set_error("%s: argument '%s' has unknown kind %d", sp->who, name, (int)a->kind);
    if (a->flags & ~(uint32_t)LT_ARG_OPTIONAL)
        return lt_set_error("%s: argument '%s' has unknown flags 0x%x", sp->who, name, (unsigned)a->flags);

    if (!strcmp(name, "prediction_canvas") || !strcmp(name, "target_canvas")) return resolve_canvas(sp, a, s);
    if (a->kind == LT_ARG_CANVAS)
        return lt_set_error("%s: argument '%s' is declared LT_ARG_CANVAS, but only 'prediction_canvas' and "
                            "'target_canvas' are canvases", sp->who, name);

    int rc = 0;
    if (is_prediction_alias(name)) {
        if (need_task(sp, name, "the task's main output") != 0) return -1;
        s->source = LT_SLOT_PREDICTION;
        s->key = sp->task->main_output ? sp->task->main_output : sp->task->name;
    } else if (starts_with(name, "pred_") && name[5]) {
        s->source = LT_SLOT_PREDICTION;
        s->key = name + 5;
    } else if (!strcmp(name, "target") || !strcmp(name, "targets")) {
        rc = resolve_wildcard_target(sp, a, s);
    } else if (starts_with(name, "target_")) {
        if (!name[7]) return lt_set_error("%s: argument 'target_' names no label", sp->who);
        rc = resolve_named_target(sp, a, s);
    } else {
        s->source = LT_SLOT_PREDICTION;
        s->key = name;
    }
    if (rc != 0) return rc;

    if (s->source == LT_SLOT_PREDICTION && a->kind == LT_ARG_METADATA)
        return lt_set_error("%s: argument '%s' is declared metadata, but reads prediction '%s'; metadata comes "
                            "from the labels: name it 'target_<name>'", sp->who, name, s->key);
    if (s->source == LT_SLOT_METADATA && a->kind != LT_ARG_METADATA)
        return lt_set_error("%s: argument '%s' is declared %s, but reads metadata label '%s'; declare it "
                            "LT_ARG_METADATA", sp->who, name, lt_arg_kind_name(a->kind), s->key);
    return 0;
}

static int count_args(const lt_binding_spec *sp)
{
    int n = 0;
    while (sp->args && sp->args[n].name) {
        if (++n > LT_MAX_MODULE_ARGS)
            return lt_set_error("%s: more than %d arguments (is the args array {0}-terminated?)", sp->who,
                                LT_MAX_MODULE_ARGS);
    }
    return n;
}

static int prepare_cif(lt_binding *b, lt_desc_kind kind)
{
    int n = b->n_lead + b->n_slots;
    b->types = calloc((size_t)n, sizeof *b->types);
    b->ptrs = calloc((size_t)n, sizeof *b->ptrs);
    b->values = calloc((size_t)n, sizeof *b->values);
    if (!b->types || !b->ptrs || !b->values) return lt_set_error("%s: out of memory binding %d arguments", b->who, n);
    for (int i = 0; i < n; i++) {
        b->types[i] = &ffi_type_pointer;
        b->values[i] = &b->ptrs[i];
    }
    ffi_type *ret = kind == LT_DESC_LOSS ? &ffi_type_pointer : &ffi_type_sint;
    ffi_status st = ffi_prep_cif(&b->cif, FFI_DEFAULT_ABI, (unsigned)n, ret, b->types);
    if (st != FFI_OK) return lt_set_error("%s: ffi_prep_cif failed (status %d) for %d arguments", b->who, (int)st, n);
    return 0;
}

int lt_binding_build(lt_binding *b, const lt_binding_spec *sp)
{
    *b = (lt_binding){.who = sp->who, .node = sp->node, .n_lead = sp->kind == LT_DESC_VISUALIZER ? 3 : 1};
    int n = count_args(sp);
    if (n < 0) return -1;
    b->slots = calloc((size_t)(n ? n : 1), sizeof *b->slots);
    if (!b->slots) return lt_set_error("%s: out of memory binding %d arguments", sp->who, n);
    for (int i = 0; i < n; i++) {
        for (int j = 0; j < i; j++)
            if (!strcmp(sp->args[j].name, sp->args[i].name))
                return lt_set_error("%s: argument '%s' is declared twice", sp->who, sp->args[i].name);
        if (resolve_slot(sp, &sp->args[i], &b->slots[i]) != 0) return -1;
        b->n_slots = i + 1;
    }
    return prepare_cif(b, sp->kind);
}

void lt_binding_free(lt_binding *b)
{
    if (!b) return;
    free(b->slots);
    free(b->types);
    free(b->ptrs);
    free(b->values);
    *b = (lt_binding){0};
}

/* ------------------------------------------------------------------ */
/* Each call: slots to pointers                                        */
/* ------------------------------------------------------------------ */

static const char *source_word(lt_slot_source s)
{
    switch (s) {
    case LT_SLOT_PREDICTION: return "prediction";
    case LT_SLOT_LABEL: return "label";
    case LT_SLOT_METADATA: return "metadata label";
    default: return "canvas";
    }
}

static int missing(const lt_binding *b, const lt_arg_slot *s, const lt_packet *packet, const lt_labels *labels)
{
    if (s->source == LT_SLOT_PREDICTION_CANVAS || s->source == LT_SLOT_TARGET_CANVAS)
        return lt_set_error("%s: argument '%s' requires the %s, but none was given", b->who, s->arg,
                            s->source == LT_SLOT_PREDICTION_CANVAS ? "prediction canvas" : "target canvas");
    const char *preds = lt_packet_keys_str(packet), *labs = lt_labels_keys_str(labels);
    const char *where = s->source == LT_SLOT_PREDICTION ? "the predictions of node" : "the labels for node";
    return lt_set_error("%s: argument '%s' requires %s '%s', but it is not present in %s '%s'. "
                        "Available predictions: %s; available labels: %s",
                        b->who, s->arg, source_word(s->source), s->key, where, b->node, preds ? preds : "?",
                        labs ? labs : "?");
}

/* The pointer for a tensor or list argument from a packet/label value. */
static int from_value(const lt_binding *b, const lt_arg_slot *s, const lt_value *v, void **out)
{
    if (s->kind == LT_ARG_LIST && v->kind == LT_VALUE_LIST) {
        *out = (void *)&v->list;
        return 0;
    }
    if (s->kind == LT_ARG_TENSOR && v->kind == LT_VALUE_TENSOR && v->tensor) {
        *out = v->tensor;
        return 0;
    }
    return lt_set_error("%s: argument '%s' must be a %s, but %s '%s' is a %s", b->who, s->arg,
                        lt_arg_kind_name(s->kind), source_word(s->source), s->key,
                        v->kind == LT_VALUE_TENSOR && !v->tensor ? "NULL tensor" : value_kind_word(v->kind));
}

int lt_binding_fill(lt_binding *b, lt_module *m, lt_tensor *prediction_canvas, lt_tensor *target_canvas,
                    const lt_packet *packet, const lt_labels *labels)
{
    b->ptrs[0] = m;
    if (b->n_lead == 3) {
        b->ptrs[1] = prediction_canvas;
        b->ptrs[2] = target_canvas;
    }
    for (int i = 0; i < b->n_slots; i++) {
        const lt_arg_slot *s = &b->slots[i];
        const lt_value *v = NULL;
        void *p = NULL;
        switch (s->source) {
        case LT_SLOT_PREDICTION: v = packet ? lt_packet_get(packet, s->key) : NULL; break;
        case LT_SLOT_LABEL: v = labels ? lt_labels_get(labels, s->key) : NULL; break;
        case LT_SLOT_METADATA: p = labels ? (void *)lt_labels_get_metadata(labels, s->key) : NULL; break;
        case LT_SLOT_PREDICTION_CANVAS: p = prediction_canvas; break;
        case LT_SLOT_TARGET_CANVAS: p = target_canvas; break;
        }
        if (v && from_value(b, s, v, &p) != 0) return -1;
        if (!p && !s->optional) return missing(b, s, packet, labels);
        b->ptrs[b->n_lead + i] = p;
    }
    return 0;
}

void *lt_binding_call_ptr(lt_binding *b, lt_generic_fn fn)
{
    union {
        ffi_arg slot; /* libffi writes at least a full ffi_arg */
        void *ptr;
    } ret = {0};
    ffi_call(&b->cif, fn, &ret, b->values);
    return ret.ptr;
}

int lt_binding_call_int(lt_binding *b, lt_generic_fn fn)
{
    ffi_sarg ret = 0; /* an int result comes back widened to a full register */
    ffi_call(&b->cif, fn, &ret, b->values);
    return (int)ret;
}

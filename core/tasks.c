/* Tasks: the predefined ones (luxonis-train's `Tasks` namespace) and custom
 * tasks from plugins, resolved by following `extends`. */
#include "tasks.h"

#include <stdio.h>
#include <string.h>

/* ------------------------------------------------------------------ */
/* Predefined tasks                                                    */
/* ------------------------------------------------------------------ */

/* A task descriptor owned by the core (static, like a plugin's). */
#define BUILTIN_TASK(NAME, SUMMARY, MAIN_OUTPUT, ...)                       \
    {                                                                       \
        .header = {.abi_version = LT_PLUGIN_ABI_VERSION,                    \
                   .size = sizeof(lt_task_desc),                            \
                   .kind = LT_DESC_TASK,                                    \
                   .name = (NAME),                                          \
                   .summary = (SUMMARY)},                                   \
        .main_output = (MAIN_OUTPUT),                                       \
        .extends = NULL,                                                    \
        .required_labels = (const lt_label_spec[]){__VA_ARGS__, {0}},       \
    }

/* Names, required labels and main outputs as luxonis-train's tasks.py. */
static const lt_task_desc builtin_tasks[] = {
    BUILTIN_TASK("classification", "class scores per image [B,C]", "classification", LT_LABEL("classification")),
    BUILTIN_TASK("segmentation", "class logits per pixel [B,C,H,W]", "segmentation", LT_LABEL("segmentation")),
    BUILTIN_TASK("boundingbox", "object detection: boxes per image", "boundingbox", LT_LABEL("boundingbox")),
    BUILTIN_TASK("instance_segmentation", "a box and a mask per object", "instance_segmentation",
                 LT_LABEL("boundingbox"), LT_LABEL("instance_segmentation")),
    BUILTIN_TASK("keypoints", "a box and keypoints per object", "keypoints", LT_LABEL("boundingbox"),
                 LT_LABEL("keypoints")),
    BUILTIN_TASK("instance_segmentation_keypoints", "a box, a mask and keypoints per object",
                 "instance_segmentation_keypoints", LT_LABEL("boundingbox"), LT_LABEL("instance_segmentation"),
                 LT_LABEL("keypoints")),
    BUILTIN_TASK("pointcloud", "keypoints without boxes (2D or 3D)", "pointcloud", LT_LABEL("keypoints")),
    BUILTIN_TASK("fomo", "object centres as a heatmap, learnt from boxes", "heatmap", LT_LABEL("boundingbox")),
    BUILTIN_TASK("embeddings", "feature vectors learnt from an id per image", "embeddings",
                 LT_METADATA("id", LT_META_INT | LT_META_CATEGORY)),
    BUILTIN_TASK("anomaly_detection", "anomaly masks learnt by reconstruction", "segmentation",
                 LT_LABEL("segmentation"), LT_LABEL("original_segmentation")),
    BUILTIN_TASK("ocr", "text recognition", "ocr", LT_METADATA("text", LT_META_STR)),
};

int lt_register_builtin_tasks(lt_registry *r)
{
    for (size_t i = 0; i < sizeof builtin_tasks / sizeof builtin_tasks[0]; i++)
        if (lt_registry_add(r, &builtin_tasks[i].header, "core", "") != 0) return -1;
    return 0;
}

/* ------------------------------------------------------------------ */
/* Resolution                                                          */
/* ------------------------------------------------------------------ */

/* Longest `extends` chain followed; deeper means a generated mess, not a
 * design, and keeps the chain on the stack. */
enum { TASK_CHAIN_MAX = 32 };

static const char *entry_origin(const lt_registry_entry *e)
{
    static _Thread_local char buf[512];
    if (!e->file || !*e->file) return "built in";
    snprintf(buf, sizeof buf, "plugin '%s', %s", e->plugin, e->file);
    return buf;
}

static bool same_label(const lt_label_spec *a, const lt_label_spec *b)
{
    /* A metadata label "x" and a label type "x" are different labels. */
    return (a->metadata_types != 0) == (b->metadata_types != 0) && strcmp(a->name, b->name) == 0;
}

/* Adds spec to out; a label already required by a base is kept once, and a
 * metadata label redeclared by a derived task takes the derived types. */
static int merge_label(lt_task_info *out, const lt_label_spec *spec, const char *task)
{
    for (int i = 0; i < out->n_labels; i++) {
        if (!same_label(&out->labels[i], spec)) continue;
        out->labels[i].metadata_types = spec->metadata_types;
        return 0;
    }
    if (out->n_labels == LT_TASK_MAX_LABELS)
        return lt_set_error("task '%s': more than %d required labels", task, LT_TASK_MAX_LABELS);
    out->labels[out->n_labels++] = *spec;
    return 0;
}

/* Follows extends from name; fills chain (chain[0] = the task itself) and
 * returns its length, or -1 with an error. */
static int follow_extends(const lt_registry *r, const char *name, const lt_registry_entry **chain)
{
    const lt_registry_entry *e = lt_registry_lookup(r, LT_DESC_TASK, name, NULL);
    if (!e) return -1;
    int n = 0;
    chain[n++] = e;
    for (;;) {
        const lt_task_desc *t = (const lt_task_desc *)e->desc;
        if (!t->extends) return n;
        for (int i = 0; i < n; i++) {
            if (strcmp(chain[i]->desc->name, t->extends) != 0) continue;
            char path[512];
            int len = 0;
            for (int k = i; k < n && len >= 0 && (size_t)len < sizeof path; k++)
                len += snprintf(path + len, sizeof path - (size_t)len, "%s -> ", chain[k]->desc->name);
            return lt_set_error("task '%s': `extends` forms a cycle: %s%s", name, path, t->extends);
        }
        if (n == TASK_CHAIN_MAX)
            return lt_set_error("task '%s': `extends` chain deeper than %d tasks", name, TASK_CHAIN_MAX);
        char ctx[768];
        snprintf(ctx, sizeof ctx, "task '%s' (%s) extends", t->header.name, entry_origin(e));
        e = lt_registry_lookup(r, LT_DESC_TASK, t->extends, ctx);
        if (!e) return -1;
        chain[n++] = e;
    }
}

int lt_task_resolve(const lt_registry *r, const char *name, lt_task_info *out)
{
    const lt_registry_entry *chain[TASK_CHAIN_MAX];
    int n = follow_extends(r, name, chain);
    if (n < 0) return -1;

    lt_task_info info = {.name = chain[0]->desc->name};
    /* Base first, so the labels read in the order a reader expects. */
    for (int i = n - 1; i >= 0; i--) {
        const lt_task_desc *t = (const lt_task_desc *)chain[i]->desc;
        for (const lt_label_spec *s = t->required_labels; s && s->name; s++)
            if (merge_label(&info, s, info.name) != 0) return -1;
    }
    /* main_output: the nearest one declared along the chain, else the name
     * of the root task (a task without a base defaults to its name). */
    info.main_output = chain[n - 1]->desc->name;
    for (int i = 0; i < n; i++) {
        const lt_task_desc *t = (const lt_task_desc *)chain[i]->desc;
        if (t->main_output) {
            info.main_output = t->main_output;
            break;
        }
    }
    *out = info;
    return 0;
}

/* ------------------------------------------------------------------ */
/* Messages                                                            */
/* ------------------------------------------------------------------ */

/* "float|int": the order Python's Metadata unions are usually written in. */
static int meta_types_str(uint32_t types, char *buf, size_t size)
{
    static const struct {
        uint32_t bit;
        const char *name;
    } order[] = {{LT_META_FLOAT, "float"}, {LT_META_INT, "int"}, {LT_META_STR, "str"}, {LT_META_CATEGORY, "category"}};
    int len = 0;
    for (size_t i = 0; i < sizeof order / sizeof order[0] && (size_t)len < size; i++)
        if (types & order[i].bit) len += snprintf(buf + len, size - (size_t)len, "%s%s", len ? "|" : "", order[i].name);
    return len;
}

const char *lt_task_labels_str(const lt_task_info *t)
{
    static _Thread_local char buf[1024];
    size_t len = 0;
    buf[0] = '\0';
    for (int i = 0; t && i < t->n_labels && len < sizeof buf; i++) {
        const lt_label_spec *s = &t->labels[i];
        const char *sep = i ? ", " : "";
        if (s->metadata_types == 0) {
            len += (size_t)snprintf(buf + len, sizeof buf - len, "%s%s", sep, s->name);
            continue;
        }
        char types[64];
        meta_types_str(s->metadata_types, types, sizeof types);
        len += (size_t)snprintf(buf + len, sizeof buf - len, "%smetadata/%s (%s)", sep, s->name, types);
    }
    return buf;
}

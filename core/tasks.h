/* Tasks: the predefined ones and custom tasks from plugins, resolved. */
#ifndef LTRAIN_CORE_TASKS_H
#define LTRAIN_CORE_TASKS_H

#include "registry.h"

#define LT_TASK_MAX_LABELS 16

/* A task with `extends` followed: its full set of required labels. */
typedef struct lt_task_info {
    const char *name;
    const char *main_output;
    int n_labels;
    lt_label_spec labels[LT_TASK_MAX_LABELS];
} lt_task_info;

/* Registers the predefined tasks (classification, segmentation,
 * boundingbox, instance_segmentation, keypoints, instance_segmentation_keypoints,
 * pointcloud, fomo, embeddings, anomaly_detection, ocr) as plugin "core". */
int lt_register_builtin_tasks(lt_registry *r);

/* Resolves a task by name (following `extends`, detecting cycles); -1 with
 * an error naming the task (and close matches) when it or a base is
 * unknown, on a cycle (naming it: "a -> b -> a"), or beyond
 * LT_TASK_MAX_LABELS. Labels: the root base's first, each label once; a
 * metadata label redeclared by a derived task takes the derived types.
 * main_output: the nearest one declared along the chain, else the root
 * task's name. Strings in *out are borrowed from the registry. */
int lt_task_resolve(const lt_registry *r, const char *name, lt_task_info *out);

/* "boundingbox, metadata/distance (float|int)" — for messages (thread-local buffer). */
const char *lt_task_labels_str(const lt_task_info *t);

#endif

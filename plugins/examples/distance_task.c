/* Example plugin: a custom task. DistanceEstimation is object detection
 * whose dataset also carries a per-image "distance" metadata label (float or
 * int): it extends the predefined boundingbox task, adds that label, and
 * keeps boundingbox as the main prediction key, as the upstream guide's
 *
 *     class DistanceEstimation(BoundingBox):
 *         required_labels = super().required_labels | {Metadata("distance", float | int)}
 *
 * A head opts in with `.task = "DistanceEstimation"`; its losses then get
 * `target_boundingbox` and `target_distance` (a const lt_metadata *).
 *
 * Written against the installed SDK only: #include <ltrain/plugin.h>. */
#include <ltrain/plugin.h>

static const lt_task_desc distance_task = {
    .header = {
        .abi_version = LT_PLUGIN_ABI_VERSION,
        .size = sizeof(lt_task_desc),
        .kind = LT_DESC_TASK,
        .name = "DistanceEstimation",
        .summary = "boundingbox detection plus a per-image distance (metadata, float or int)",
    },
    .main_output = "boundingbox",
    .extends = "boundingbox",
    .required_labels = (const lt_label_spec[]){
        LT_METADATA("distance", LT_META_FLOAT | LT_META_INT),
        {0},
    },
};

LT_PLUGIN("example_distance_task", "1.0", &distance_task.header)

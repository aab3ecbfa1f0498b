/* Tasks: the predefined table, `extends` resolution (chains, cycles,
 * unknown bases), label merging, and the seed's DistanceEstimation task
 * loaded from a test plugin. */
#include "fixture.h"
#include <check.h>
#include <string.h>

#include "loader.h"
#include "tasks.h"

#define TASK_HEADER(NAME) LT_DESC_HEADER(LT_DESC_TASK, lt_task_desc, NAME)

static lt_registry *with_builtins(void)
{
    lt_registry *r = lt_registry_new();
    ck_assert_ptr_nonnull(r);
    ck_assert_int_eq(lt_register_builtin_tasks(r), 0);
    return r;
}

static void add_task(lt_registry *r, const lt_task_desc *t)
{
    ck_assert_msg(lt_registry_add(r, &t->header, "test", "/test/tasks.so") == 0, "%s", lt_last_error());
}

static lt_task_info resolve_ok(const lt_registry *r, const char *name)
{
    lt_task_info t;
    ck_assert_msg(lt_task_resolve(r, name, &t) == 0, "%s: %s", name, lt_last_error());
    return t;
}

static void assert_error_contains(const char *want)
{
    ck_assert_msg(strstr(lt_last_error(), want), "error '%s' lacks '%s'", lt_last_error(), want);
}

/* luxonis-train tasks.py, one row per task. */
START_TEST(test_builtin_table)
{
    static const struct {
        const char *name, *main_output, *labels;
    } want[] = {
        {"classification", "classification", "classification"},
        {"segmentation", "segmentation", "segmentation"},
        {"boundingbox", "boundingbox", "boundingbox"},
        {"instance_segmentation", "instance_segmentation", "boundingbox, instance_segmentation"},
        {"keypoints", "keypoints", "boundingbox, keypoints"},
        {"instance_segmentation_keypoints", "instance_segmentation_keypoints",
         "boundingbox, instance_segmentation, keypoints"},
        {"pointcloud", "pointcloud", "keypoints"},
        {"fomo", "heatmap", "boundingbox"},
        {"embeddings", "embeddings", "metadata/id (int|category)"},
        {"anomaly_detection", "segmentation", "segmentation, original_segmentation"},
        {"ocr", "ocr", "metadata/text (str)"},
    };
    lt_registry *r = with_builtins();
    ck_assert_uint_eq(lt_registry_count(r), sizeof want / sizeof want[0]);
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        const lt_registry_entry *e = lt_registry_at(r, i);
        ck_assert_str_eq(e->desc->name, want[i].name);
        ck_assert_str_eq(e->plugin, "core");
        ck_assert_str_eq(e->file, "");
        ck_assert_ptr_nonnull(e->desc->summary);
        lt_task_info t = resolve_ok(r, want[i].name);
        ck_assert_str_eq(t.name, want[i].name);
        ck_assert_str_eq(t.main_output, want[i].main_output);
        ck_assert_str_eq(lt_task_labels_str(&t), want[i].labels);
    }
    lt_task_info t = resolve_ok(r, "embeddings");
    ck_assert_int_eq(t.n_labels, 1);
    ck_assert_str_eq(t.labels[0].name, "id");
    ck_assert_uint_eq(t.labels[0].metadata_types, LT_META_INT | LT_META_CATEGORY);
    /* Registering them twice is a duplicate. */
    ck_assert_int_eq(lt_register_builtin_tasks(r), -1);
    lt_registry_free(r);
}
END_TEST

START_TEST(test_unknown_task_did_you_mean)
{
    lt_registry *r = with_builtins();
    lt_task_info t;
    ck_assert_int_eq(lt_task_resolve(r, "segmentaton", &t), -1);
    ck_assert_str_eq(lt_last_error(), "unknown task 'segmentaton' (did you mean 'segmentation'?)");
    ck_assert_int_eq(lt_task_resolve(r, "bbox", &t), -1);
    assert_error_contains("unknown task 'bbox'");
    lt_registry_free(r);
}
END_TEST

/* DistanceEstimation as the seed writes it, both ways: extending
 * boundingbox, and spelling the labels out. */
START_TEST(test_distance_estimation_from_plugin)
{
    lt_registry *r = with_builtins();
    lt_loader *l = lt_loader_new();
    lt_load_report rep = {0};
    ck_assert_int_eq(lt_loader_load_file(l, r, LT_TEST_PLUGINS_DIR "/loader/good/loader_good.so", &rep), 0);
    ck_assert_int_eq(rep.n_messages, 0);

    for (int i = 0; i < 2; i++) {
        const char *name = i == 0 ? "distance" : "distance_spelt_out";
        lt_task_info t = resolve_ok(r, name);
        ck_assert_str_eq(t.name, name);
        ck_assert_str_eq(t.main_output, "boundingbox");
        ck_assert_int_eq(t.n_labels, 2);
        ck_assert_str_eq(t.labels[0].name, "boundingbox");
        ck_assert_uint_eq(t.labels[0].metadata_types, 0);
        ck_assert_str_eq(t.labels[1].name, "distance");
        ck_assert_uint_eq(t.labels[1].metadata_types, LT_META_FLOAT | LT_META_INT);
        ck_assert_str_eq(lt_task_labels_str(&t), "boundingbox, metadata/distance (float|int)");
    }
    /* The head that declares the task resolves it. */
    const lt_node_desc *head = (const lt_node_desc *)lt_registry_find(r, LT_DESC_NODE, "LoaderTestHead")->desc;
    lt_task_info t = resolve_ok(r, head->task);
    ck_assert_str_eq(t.name, "distance");

    lt_registry_free(r);
    lt_loader_free(l);
    lt_load_report_free(&rep);
}
END_TEST

/* main_output: the nearest declared along the chain, else the root's name;
 * labels: base first, each once; a derived metadata spec wins. */
static const lt_task_desc chain_base = {
    .header = TASK_HEADER("base"),
    .required_labels = (const lt_label_spec[]){LT_LABEL("boundingbox"), LT_METADATA("distance", LT_META_FLOAT), {0}},
};
static const lt_task_desc mid = {
    .header = TASK_HEADER("mid"),
    .extends = "base",
    .required_labels = (const lt_label_spec[]){LT_LABEL("keypoints"), LT_LABEL("boundingbox"), {0}},
};
static const lt_task_desc top = {
    .header = TASK_HEADER("top"),
    .extends = "mid",
    .main_output = "keypoints",
    .required_labels = (const lt_label_spec[]){LT_METADATA("distance", LT_META_FLOAT | LT_META_INT),
                                               LT_LABEL("distance"), {0}},
};
static const lt_task_desc leaf = {
    .header = TASK_HEADER("leaf"),
    .extends = "top",
    .required_labels = (const lt_label_spec[]){{0}},
};
static const lt_task_desc seg_plus = {
    .header = TASK_HEADER("seg_plus"),
    .extends = "segmentation",
    .required_labels = (const lt_label_spec[]){LT_METADATA("text", LT_META_STR), {0}},
};

START_TEST(test_extends_chain)
{
    lt_registry *r = with_builtins();
    add_task(r, &leaf); /* registration order does not matter */
    add_task(r, &top);
    add_task(r, &mid);
    add_task(r, &chain_base);
    add_task(r, &seg_plus);

    lt_task_info t = resolve_ok(r, "base");
    ck_assert_str_eq(t.main_output, "base");
    t = resolve_ok(r, "mid");
    ck_assert_str_eq(t.main_output, "base");
    ck_assert_str_eq(lt_task_labels_str(&t), "boundingbox, metadata/distance (float), keypoints");
    t = resolve_ok(r, "top");
    ck_assert_str_eq(t.main_output, "keypoints");
    ck_assert_str_eq(lt_task_labels_str(&t), "boundingbox, metadata/distance (float|int), keypoints, distance");
    t = resolve_ok(r, "leaf");
    ck_assert_str_eq(t.name, "leaf");
    ck_assert_str_eq(t.main_output, "keypoints");
    ck_assert_int_eq(t.n_labels, 4);
    t = resolve_ok(r, "seg_plus");
    ck_assert_str_eq(t.main_output, "segmentation");
    ck_assert_str_eq(lt_task_labels_str(&t), "segmentation, metadata/text (str)");
    lt_registry_free(r);
}
END_TEST

static const lt_label_spec no_labels[] = {{0}};

/* a -> b -> c -> a, a task leading into that cycle, one extending itself
 * and one extending a misspelt base. */
static const lt_task_desc cycle_a = {.header = TASK_HEADER("a"), .extends = "b", .required_labels = no_labels};
static const lt_task_desc cycle_b = {.header = TASK_HEADER("b"), .extends = "c", .required_labels = no_labels};
static const lt_task_desc cycle_c = {.header = TASK_HEADER("c"), .extends = "a", .required_labels = no_labels};
static const lt_task_desc into = {.header = TASK_HEADER("into"), .extends = "b",
                                  .required_labels = no_labels};
static const lt_task_desc self = {.header = TASK_HEADER("self"), .extends = "self",
                                  .required_labels = no_labels};
static const lt_task_desc orphan = {.header = TASK_HEADER("orphan"), .extends = "boundingbx",
                                    .required_labels = no_labels};

START_TEST(test_extends_cycles_and_unknown_bases)
{
    lt_registry *r = with_builtins();
    add_task(r, &cycle_a);
    add_task(r, &cycle_b);
    add_task(r, &cycle_c);
    add_task(r, &into);
    add_task(r, &self);
    add_task(r, &orphan);
    lt_task_info t;
    ck_assert_int_eq(lt_task_resolve(r, "a", &t), -1);
    ck_assert_str_eq(lt_last_error(), "task 'a': `extends` forms a cycle: a -> b -> c -> a");
    ck_assert_int_eq(lt_task_resolve(r, "into", &t), -1);
    ck_assert_str_eq(lt_last_error(), "task 'into': `extends` forms a cycle: b -> c -> a -> b");
    ck_assert_int_eq(lt_task_resolve(r, "self", &t), -1);
    ck_assert_str_eq(lt_last_error(), "task 'self': `extends` forms a cycle: self -> self");
    ck_assert_int_eq(lt_task_resolve(r, "orphan", &t), -1);
    ck_assert_str_eq(lt_last_error(), "task 'orphan' (plugin 'test', /test/tasks.so) extends: unknown task "
                                      "'boundingbx' (did you mean 'boundingbox'?)");
    lt_registry_free(r);
}
END_TEST

static const lt_task_desc many_base = {
    .header = TASK_HEADER("many_base"),
    .required_labels = (const lt_label_spec[]){LT_LABEL("l0"), LT_LABEL("l1"), LT_LABEL("l2"), LT_LABEL("l3"),
                                               LT_LABEL("l4"), LT_LABEL("l5"), LT_LABEL("l6"), LT_LABEL("l7"),
                                               LT_LABEL("l8"), LT_LABEL("l9"), {0}},
};
static const lt_task_desc many_more = {
    .header = TASK_HEADER("many"),
    .extends = "many_base",
    .required_labels = (const lt_label_spec[]){LT_LABEL("m0"), LT_LABEL("m1"), LT_LABEL("m2"), LT_LABEL("m3"),
                                               LT_LABEL("m4"), LT_LABEL("m5"), LT_LABEL("m6"), {0}},
};

START_TEST(test_too_many_labels)
{
    lt_registry *r = with_builtins();
    add_task(r, &many_base);
    add_task(r, &many_more);
    lt_task_info t = resolve_ok(r, "many_base");
    ck_assert_int_eq(t.n_labels, 10);
    ck_assert_int_eq(lt_task_resolve(r, "many", &t), -1);
    ck_assert_str_eq(lt_last_error(), "task 'many': more than 16 required labels");
    lt_registry_free(r);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("tasks");
    TCase *tc = tcase_create("tasks");
    tcase_add_test(tc, test_builtin_table);
    tcase_add_test(tc, test_unknown_task_did_you_mean);
    tcase_add_test(tc, test_distance_estimation_from_plugin);
    tcase_add_test(tc, test_extends_chain);
    tcase_add_test(tc, test_extends_cycles_and_unknown_bases);
    tcase_add_test(tc, test_too_many_labels);
    suite_add_tcase(s, tc);
    return fx_run_suite(s);
}

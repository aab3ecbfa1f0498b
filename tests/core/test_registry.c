/* Registry: order, lookup by kind and name, duplicates, did-you-mean. */
#include "fixture.h"
#include <check.h>
#include <stdio.h>
#include <string.h>

#include "registry.h"

#define DESC(KIND, NAME) \
    {.abi_version = LT_PLUGIN_ABI_VERSION, .size = sizeof(lt_desc_header), .kind = (KIND), .name = (NAME)}

static const lt_desc_header losses[] = {
    DESC(LT_DESC_LOSS, "CrossEntropyLoss"),      DESC(LT_DESC_LOSS, "BCEWithLogitsLoss"),
    DESC(LT_DESC_LOSS, "SmoothBCEWithLogitsLoss"), DESC(LT_DESC_LOSS, "SigmoidFocalLoss"),
    DESC(LT_DESC_LOSS, "SoftmaxFocalLoss"),      DESC(LT_DESC_LOSS, "OHEMLoss"),
    DESC(LT_DESC_LOSS, "CTCLoss"),               DESC(LT_DESC_LOSS, "AdaptiveDetectionLoss"),
};
static const lt_desc_header nodes[] = {
    DESC(LT_DESC_NODE, "ResNet"),       DESC(LT_DESC_NODE, "RepVGG"),        DESC(LT_DESC_NODE, "EfficientRep"),
    DESC(LT_DESC_NODE, "EfficientNet"), DESC(LT_DESC_NODE, "EfficientViT"),  DESC(LT_DESC_NODE, "MobileNetV2"),
    DESC(LT_DESC_NODE, "MicroNet"),     DESC(LT_DESC_NODE, "SegmentationHead"),
};
/* Same name as a node, other kind: both must coexist. */
static const lt_desc_header metric_resnet = DESC(LT_DESC_METRIC, "ResNet");

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

static lt_registry *filled(void)
{
    lt_registry *r = lt_registry_new();
    ck_assert_ptr_nonnull(r);
    for (size_t i = 0; i < COUNT(losses); i++)
        ck_assert_int_eq(lt_registry_add(r, &losses[i], "losses", "/p/losses.so"), 0);
    for (size_t i = 0; i < COUNT(nodes); i++)
        ck_assert_int_eq(lt_registry_add(r, &nodes[i], "nodes", "/p/nodes.so"), 0);
    return r;
}

static void assert_error_contains(const char *want)
{
    ck_assert_msg(strstr(lt_last_error(), want), "error '%s' lacks '%s'", lt_last_error(), want);
}

START_TEST(test_order_and_find)
{
    lt_registry *r = filled();
    ck_assert_int_eq(lt_registry_add(r, &metric_resnet, "metrics", ""), 0);
    ck_assert_uint_eq(lt_registry_count(r), COUNT(losses) + COUNT(nodes) + 1);
    for (size_t i = 0; i < COUNT(losses); i++) ck_assert_ptr_eq(lt_registry_at(r, i)->desc, &losses[i]);
    ck_assert_ptr_eq(lt_registry_at(r, COUNT(losses))->desc, &nodes[0]);
    ck_assert_ptr_null(lt_registry_at(r, lt_registry_count(r)));

    const lt_registry_entry *e = lt_registry_find(r, LT_DESC_NODE, "ResNet");
    ck_assert_ptr_eq(e->desc, &nodes[0]);
    ck_assert_str_eq(e->plugin, "nodes");
    ck_assert_str_eq(e->file, "/p/nodes.so");
    ck_assert_ptr_eq(lt_registry_find(r, LT_DESC_METRIC, "ResNet")->desc, &metric_resnet);
    ck_assert_str_eq(lt_registry_find(r, LT_DESC_METRIC, "ResNet")->file, "");
    /* Case matters for lookups; only suggestions ignore it. */
    ck_assert_ptr_null(lt_registry_find(r, LT_DESC_NODE, "resnet"));
    ck_assert_ptr_null(lt_registry_find(r, LT_DESC_LOSS, "ResNet"));
    ck_assert_ptr_null(lt_registry_find(r, LT_DESC_NODE, NULL));
    lt_registry_free(r);
}
END_TEST

START_TEST(test_duplicate_names_both_files)
{
    lt_registry *r = filled();
    static const lt_desc_header again = DESC(LT_DESC_LOSS, "OHEMLoss");
    lt_clear_error();
    ck_assert_int_eq(lt_registry_add(r, &again, "other", "/q/other.so"), -1);
    assert_error_contains("loss 'OHEMLoss'");
    assert_error_contains("/q/other.so");
    assert_error_contains("/p/losses.so");
    ck_assert_uint_eq(lt_registry_count(r), COUNT(losses) + COUNT(nodes));
    ck_assert_ptr_eq(lt_registry_find(r, LT_DESC_LOSS, "OHEMLoss")->desc, &losses[5]); /* the first stays */

    static const lt_desc_header bad_kind = DESC((lt_desc_kind)0, "X"), no_name = DESC(LT_DESC_LOSS, NULL);
    ck_assert_int_eq(lt_registry_add(r, &bad_kind, "p", "f"), -1);
    ck_assert_int_eq(lt_registry_add(r, &no_name, "p", "f"), -1);
    lt_registry_free(r);
}
END_TEST

START_TEST(test_lookup_did_you_mean)
{
    lt_registry *r = filled();
    ck_assert_ptr_eq(lt_registry_lookup(r, LT_DESC_LOSS, "CTCLoss", "ctx")->desc, &losses[6]);

    ck_assert_ptr_null(lt_registry_lookup(r, LT_DESC_LOSS, "BCELoss", "configs/x.yaml:7:11: model.nodes[0].losses[0]"));
    ck_assert_str_eq(lt_last_error(), "configs/x.yaml:7:11: model.nodes[0].losses[0]: unknown loss 'BCELoss' "
                                      "(did you mean 'BCEWithLogitsLoss'?)");

    /* A typo with a transposition, and case. */
    ck_assert_ptr_null(lt_registry_lookup(r, LT_DESC_NODE, "resnte", NULL));
    ck_assert_str_eq(lt_last_error(), "unknown node 'resnte' (did you mean 'ResNet'?)");

    /* Several close names: at most three, closest first. */
    ck_assert_ptr_null(lt_registry_lookup(r, LT_DESC_NODE, "EfficientRepp", NULL));
    ck_assert_str_eq(lt_last_error(),
                     "unknown node 'EfficientRepp' (did you mean 'EfficientRep', 'EfficientNet' or 'EfficientViT'?)");
    ck_assert_ptr_null(lt_registry_lookup(r, LT_DESC_LOSS, "FocalLoss", NULL));
    ck_assert_str_eq(lt_last_error(),
                     "unknown loss 'FocalLoss' (did you mean 'SigmoidFocalLoss' or 'SoftmaxFocalLoss'?)");

    /* Suggestions come only from the same kind: "ResNet" is a node. */
    ck_assert_ptr_null(lt_registry_lookup(r, LT_DESC_METRIC, "ResNet", NULL));
    assert_error_contains("no metric is registered");

    /* Nothing close. */
    ck_assert_ptr_null(lt_registry_lookup(r, LT_DESC_LOSS, "Wasserstein", NULL));
    ck_assert_str_eq(lt_last_error(), "unknown loss 'Wasserstein'; `ltrain plugins` lists the registered ones");

    ck_assert_ptr_null(lt_registry_lookup(r, LT_DESC_LOSS, "", "here"));
    ck_assert_str_eq(lt_last_error(), "here: expected a loss name, got an empty one");
    lt_registry_free(r);
}
END_TEST

START_TEST(test_edit_distance)
{
    ck_assert_int_eq(lt_edit_distance("", ""), 0);
    ck_assert_int_eq(lt_edit_distance("abc", ""), 3);
    ck_assert_int_eq(lt_edit_distance("", "abcd"), 4);
    ck_assert_int_eq(lt_edit_distance("kitten", "sitting"), 3);
    ck_assert_int_eq(lt_edit_distance("ResNet", "RESNET"), 0);
    ck_assert_int_eq(lt_edit_distance("ResNet", "ResNte"), 1); /* a transposition is one edit */
    ck_assert_int_eq(lt_edit_distance("BCELoss", "BCEWithLogitsLoss"), 10);
    ck_assert_int_eq(lt_edit_distance("abc", "abc"), 0);

    /* Names longer than the on-stack rows. */
    char a[301], b[301];
    memset(a, 'x', 300);
    memset(b, 'x', 300);
    a[300] = b[300] = '\0';
    b[150] = 'y';
    ck_assert_int_eq(lt_edit_distance(a, b), 1);
    b[299] = '\0';
    ck_assert_int_eq(lt_edit_distance(a, b), 2);
}
END_TEST

/* Many names: the hash index grows and still finds every one. */
START_TEST(test_many_entries)
{
    enum { N = 3000 };
    static lt_desc_header descs[N];
    static char names[N][16];
    lt_registry *r = lt_registry_new();
    for (int i = 0; i < N; i++) {
        snprintf(names[i], sizeof names[i], "Name%d", i);
        descs[i] = (lt_desc_header)DESC((lt_desc_kind)(LT_DESC_NODE + i % 5), names[i]);
        ck_assert_int_eq(lt_registry_add(r, &descs[i], "many", "/many.so"), 0);
    }
    ck_assert_uint_eq(lt_registry_count(r), N);
    for (int i = 0; i < N; i++) {
        ck_assert_ptr_eq(lt_registry_find(r, descs[i].kind, names[i])->desc, &descs[i]);
        ck_assert_ptr_null(lt_registry_find(r, (lt_desc_kind)(LT_DESC_NODE + (i + 1) % 5), names[i]));
        ck_assert_ptr_eq(lt_registry_at(r, (size_t)i)->desc, &descs[i]);
    }
    lt_registry_free(r);
    lt_registry_free(NULL);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("registry");
    TCase *tc = tcase_create("registry");
    tcase_add_test(tc, test_order_and_find);
    tcase_add_test(tc, test_duplicate_names_both_files);
    tcase_add_test(tc, test_lookup_did_you_mean);
    tcase_add_test(tc, test_edit_distance);
    tcase_add_test(tc, test_many_entries);
    suite_add_tcase(s, tc);
    return fx_run_suite(s);
}

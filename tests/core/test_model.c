/* The model graph (core/model.c) with real plugins: the test nodes of
 * tests/plugins/model/ and the shipped examples (ResNet backbone,
 * CustomSegmentationHead, DistanceEstimation task). Covers every
 * attach_index form, inference, incompatibility errors naming both nodes,
 * cycles, dangling inputs, unknown names, variants, params reaching init
 * (and wrongly typed ones), default and overridden wrap/unwrap, the
 * train/eval/export packets, several input nodes, attached losses, and the
 * example backbone + segmentation head end to end with torchvision's
 * state_dict names. Also the packet and label containers of plugin.h. */
#include "fixture.h"

#include <ltrain/cfg.h>
#include <ltrain/plugin.h>

#include "loader.h"
#include "model.h"
#include "modules.h"
#include "registry.h"
#include "tasks.h"

#include <check.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#ifndef LT_TEST_PLUGINS_DIR
#error "LT_TEST_PLUGINS_DIR must be defined by the build"
#endif

/* ---------------- environment ---------------- */

static lt_registry *reg;
static lt_loader *loader;
static lt_ctx *ctx;

static void load(const char *path)
{
    lt_load_report rep = {0};
    const int rc = lt_loader_load_file(loader, reg, path, &rep);
    ck_assert_msg(rc == 0, "loading %s: %s", path, lt_last_error());
    lt_load_report_free(&rep);
}

static void setup(void)
{
    reg = lt_registry_new();
    ck_assert_ptr_nonnull(reg);
    ck_assert_int_eq(lt_register_builtin_tasks(reg), 0);
    loader = lt_loader_new();
    ck_assert_ptr_nonnull(loader);
    load(LT_TEST_PLUGINS_DIR "/model/model_nodes.so");
    load(LT_TEST_PLUGINS_DIR "/model/model_modules.so");
    load(LT_BUILD_PLUGINS_DIR "/example_resnet_backbone.so");
    load(LT_BUILD_PLUGINS_DIR "/example_segmentation_head.so");
    load(LT_BUILD_PLUGINS_DIR "/example_distance_task.so");
    ctx = lt_ctx_new();
    lt_ctx_use(ctx);
}

static void teardown(void)
{
    lt_ctx_use(NULL);
    lt_ctx_free(ctx);
    lt_registry_free(reg);
    lt_loader_free(loader);
}

/* ---------------- building models from compact specs ---------------- */

enum { MAX_NODES = 16, MAX_INPUTS = 4 };

typedef struct spec {
    const char *name, *alias, *variant;
    const char *params; /* YAML map text or NULL */
    const char *inputs[MAX_INPUTS];
} spec;

static const lt_dataset_info small_ds = {.n_classes = 3, .input_shape = {2, 3, 32, 32}};

/* Builds the model and frees the parsed params right away: the model must
 * not depend on the caller's config after build. */
static lt_model *build_ds(const spec *s, int n, const lt_dataset_info *ds)
{
    ck_assert_int_le(n, MAX_NODES);
    lt_node_config cfg[MAX_NODES];
    lt_cfg *params[MAX_NODES] = {0};
    memset(cfg, 0, sizeof cfg);
    for (int i = 0; i < n; i++) {
        cfg[i].name = s[i].name;
        cfg[i].alias = s[i].alias;
        cfg[i].variant = s[i].variant;
        cfg[i].inputs = s[i].inputs;
        while (cfg[i].n_inputs < MAX_INPUTS && s[i].inputs[cfg[i].n_inputs]) cfg[i].n_inputs++;
        if (s[i].params) {
            params[i] = lt_cfg_parse_yaml(s[i].params, strlen(s[i].params), "test.yaml");
            ck_assert_msg(params[i] != NULL, "yaml: %s", lt_last_error());
            cfg[i].params = params[i];
        }
    }
    lt_model *m = lt_model_build(reg, cfg, n, ds, 42);
    for (int i = 0; i < n; i++) lt_cfg_free(params[i]);
    return m;
}

static lt_model *build(const spec *s, int n) { return build_ds(s, n, &small_ds); }

static lt_model *build_ok(const spec *s, int n)
{
    lt_model *m = build(s, n);
    ck_assert_msg(m != NULL, "build failed: %s", lt_last_error());
    return m;
}

/* Build must fail with an error containing every needle. */
static void expect_build_error(const spec *s, int n, const char *const *needles)
{
    lt_model *m = build(s, n);
    const char *err = lt_last_error();
    ck_assert_msg(m == NULL, "build succeeded, expected an error containing '%s'", needles[0]);
    for (int i = 0; needles[i]; i++)
        ck_assert_msg(strstr(err, needles[i]) != NULL, "error \"%s\" lacks \"%s\"", err, needles[i]);
}

#define NEEDLES(...) ((const char *const[]){__VA_ARGS__, NULL})

static lt_tensor *random_images(int64_t b, int64_t c, int64_t h, int64_t w, uint64_t seed)
{
    lt_tensor *x = lt_empty(LT_F32, 4, (const int64_t[]){b, c, h, w});
    ck_assert_ptr_nonnull(x);
    fx_fill_uniform(x, seed, -1, 1);
    return x;
}

static void forward_ok(lt_model *m, lt_tensor *images, lt_mode mode)
{
    ck_assert_msg(lt_model_forward(m, images, mode) == 0, "forward: %s", lt_last_error());
}

static const lt_value *packet_value(const lt_model *m, const char *node, const char *key)
{
    const int i = lt_model_find_node(m, node);
    ck_assert_msg(i >= 0, "no node '%s'", node);
    const lt_packet *p = lt_model_packet(m, i);
    ck_assert_msg(p != NULL, "node '%s' has no packet", node);
    const lt_value *v = lt_packet_get(p, key);
    ck_assert_msg(v != NULL, "node '%s' packet lacks '%s' (keys: %s)", node, key, lt_packet_keys_str(p));
    return v;
}

static void expect_close(const lt_tensor *a, const lt_tensor *b, float tol)
{
    ck_assert_msg(lt_same_shape(a, b), "shapes differ");
    for (int64_t i = 0; i < a->numel; i++)
        ck_assert_msg(fabsf(lt_f32(a)[i] - lt_f32(b)[i]) <= tol * (1 + fabsf(lt_f32(b)[i])),
                      "element %lld: %g vs %g", (long long)i, lt_f32(a)[i], lt_f32(b)[i]);
}

static lt_tensor *spatial_mean(lt_tensor *x) { return lt_mean(x, (const int[]){2, 3}, 2, false); }

/* ListBackbone on 3 channels: output k has 3*(k+1) channels. */
static int channels_to_index(int64_t c) { return (int)(c / 3) - 1; }

/* ---------------- attach_index ---------------- */

/* A TensorHead per index form; its output's channel count says which
 * feature map it received, its values that it received exactly that one. */
START_TEST(test_attach_index_int_forms)
{
    static const struct {
        const char *alias, *params;
        int expect;
    } cases[] = {
        {"i0", "attach_index: 0", 0}, {"i1", "attach_index: 1", 1},   {"i3", "attach_index: 3", 3},
        {"m1", "attach_index: -1", 3}, {"m2", "attach_index: -2", 2}, {"m4", "attach_index: -4", 0},
        {"inferred", NULL, 3},
    };
    enum { N = sizeof cases / sizeof cases[0] };
    spec s[N + 1] = {{.name = "ListBackbone", .alias = "bb"}};
    for (int i = 0; i < N; i++)
        s[i + 1] = (spec){.name = "TensorHead", .alias = cases[i].alias, .params = cases[i].params, .inputs = {"bb"}};
    lt_model *m = build_ok(s, N + 1);
    forward_ok(m, random_images(2, 3, 32, 32, 1), LT_MODE_EVAL);
    const lt_value *features = packet_value(m, "bb", "features");
    ck_assert_int_eq(features->kind, LT_VALUE_LIST);
    ck_assert_int_eq(features->list.n, 4);
    for (int i = 0; i < N; i++) {
        const lt_value *v = packet_value(m, cases[i].alias, "classification");
        ck_assert_int_eq(v->kind, LT_VALUE_TENSOR);
        ck_assert_msg(channels_to_index(v->tensor->shape[1]) == cases[i].expect, "%s: got output %d, want %d",
                      cases[i].alias, channels_to_index(v->tensor->shape[1]), cases[i].expect);
        expect_close(v->tensor, spatial_mean(features->list.items[cases[i].expect]), 1e-6f);
        const lt_attach_index a = lt_model_node_attach_index(m, lt_model_find_node(m, cases[i].alias));
        ck_assert_int_eq(a.kind, LT_ATTACH_INDEX);
    }
    ck_assert_int_eq(lt_model_node_attach_index(m, lt_model_find_node(m, "inferred")).start, -1);
    lt_model_free(m);
}
END_TEST

/* List heads: slices (2 and 3 entries, negative, reversed by default step,
 * clamped), "all", the descriptor's slice and inference from a list input. */
START_TEST(test_attach_index_slices)
{
    static const struct {
        const char *name, *alias, *params;
        int n, expect[4];
    } cases[] = {
        {"ListHead", "s13", "attach_index: [1, 3]", 2, {1, 2}},
        {"ListHead", "s042", "attach_index: [0, 4, 2]", 2, {0, 2}},
        {"ListHead", "neg", "attach_index: [-3, -1]", 2, {1, 2}},
        {"ListHead", "rev", "attach_index: [3, 0]", 3, {3, 2, 1}},
        {"ListHead", "revneg", "attach_index: [-1, -4]", 3, {3, 2, 1}},
        {"ListHead", "step", "attach_index: [3, 0, -2]", 2, {3, 1}},
        {"ListHead", "clamp", "attach_index: [0, 10]", 4, {0, 1, 2, 3}},
        {"ListHead", "all", "attach_index: all", 4, {0, 1, 2, 3}},
        {"ListHead", "inferred", NULL, 4, {0, 1, 2, 3}},
        {"SliceHead", "desc", NULL, 2, {1, 2}},
        {"SliceHead", "override", "attach_index: [2, 4]", 2, {2, 3}},
    };
    enum { N = sizeof cases / sizeof cases[0] };
    spec s[N + 1] = {{.name = "ListBackbone", .alias = "bb"}};
    for (int i = 0; i < N; i++)
        s[i + 1] = (spec){.name = cases[i].name, .alias = cases[i].alias, .params = cases[i].params, .inputs = {"bb"}};
    lt_model *m = build_ok(s, N + 1);
    forward_ok(m, random_images(2, 3, 32, 32, 2), LT_MODE_EVAL);
    const lt_value *features = packet_value(m, "bb", "features");
    for (int i = 0; i < N; i++) {
        /* No task: the default wrap uses "features". */
        const lt_value *v = packet_value(m, cases[i].alias, "features");
        ck_assert_int_eq(v->kind, LT_VALUE_LIST);
        ck_assert_msg(v->list.n == cases[i].n, "%s: %d outputs, want %d", cases[i].alias, v->list.n, cases[i].n);
        for (int k = 0; k < cases[i].n; k++) {
            ck_assert_msg(channels_to_index(v->list.items[k]->shape[1]) == cases[i].expect[k], "%s[%d]: got %d, want %d",
                          cases[i].alias, k, channels_to_index(v->list.items[k]->shape[1]), cases[i].expect[k]);
            expect_close(v->list.items[k], spatial_mean(features->list.items[cases[i].expect[k]]), 1e-6f);
        }
    }
    ck_assert_int_eq(lt_model_node_attach_index(m, lt_model_find_node(m, "all")).kind, LT_ATTACH_EVERY);
    ck_assert_int_eq(lt_model_node_attach_index(m, lt_model_find_node(m, "inferred")).kind, LT_ATTACH_EVERY);
    const lt_attach_index d = lt_model_node_attach_index(m, lt_model_find_node(m, "desc"));
    ck_assert_int_eq(d.kind, LT_ATTACH_SLICE);
    ck_assert_int_eq(d.start, 1);
    ck_assert_int_eq(d.stop, 3);
    lt_model_free(m);
}
END_TEST

START_TEST(test_attach_index_errors)
{
    const spec out_of_range[] = {{.name = "ListBackbone", .alias = "bb"},
                                 {.name = "TensorHead", .alias = "head", .params = "attach_index: 4", .inputs = {"bb"}}};
    expect_build_error(out_of_range, 2, NEEDLES("'head'", "'bb'", "attach_index 4 is out of range for the 4 outputs"));
    const spec neg_out_of_range[] = {
        {.name = "ListBackbone", .alias = "bb"},
        {.name = "TensorHead", .alias = "head", .params = "attach_index: -5", .inputs = {"bb"}}};
    expect_build_error(neg_out_of_range, 2, NEEDLES("'head'", "'bb'", "attach_index -5 is out of range"));
    const spec empty[] = {{.name = "ListBackbone", .alias = "bb"},
                          {.name = "ListHead", .alias = "head", .params = "attach_index: [2, 2]", .inputs = {"bb"}}};
    expect_build_error(empty, 2, NEEDLES("'head'", "'bb'", "attach_index [2, 2] selects none of the 4 outputs"));
    const spec bad_word[] = {{.name = "ListBackbone", .alias = "bb"},
                             {.name = "ListHead", .alias = "head", .params = "attach_index: first", .inputs = {"bb"}}};
    expect_build_error(bad_word, 2,
                       NEEDLES("test.yaml:1:", "node 'head' (ListHead)", "param 'attach_index' must be an integer, "
                               "[start, stop], [start, stop, step] or \"all\", got 'first'"));
    const spec bad_list[] = {{.name = "ListBackbone", .alias = "bb"},
                             {.name = "ListHead", .alias = "head", .params = "attach_index: [1]", .inputs = {"bb"}}};
    expect_build_error(bad_list, 2, NEEDLES("param 'attach_index' must be", "got a list of 1"));
}
END_TEST

/* A tensor input given a list and the reverse fail at build naming both nodes. */
START_TEST(test_incompatible_nodes)
{
    const spec tensor_takes_list[] = {
        {.name = "ListBackbone", .alias = "bb"},
        {.name = "TensorHead", .alias = "head", .params = "attach_index: all", .inputs = {"bb"}}};
    expect_build_error(tensor_takes_list, 2,
                       NEEDLES("node 'head' (TensorHead)", "incompatible with its input node 'bb' (ListBackbone)",
                               "'head' takes a single tensor, but attach_index \"all\" selects a list of 4 outputs "
                               "of 'bb'"));
    const spec tensor_takes_slice[] = {
        {.name = "ListBackbone", .alias = "bb"},
        {.name = "TensorHead", .alias = "head", .params = "attach_index: [0, 2]", .inputs = {"bb"}}};
    expect_build_error(tensor_takes_slice, 2, NEEDLES("'head'", "'bb'", "selects a list of 2 outputs"));
    const spec list_takes_tensor[] = {
        {.name = "ListBackbone", .alias = "bb"},
        {.name = "ListHead", .alias = "head", .params = "attach_index: -1", .inputs = {"bb"}}};
    expect_build_error(list_takes_tensor, 2,
                       NEEDLES("node 'head' (ListHead)", "input node 'bb' (ListBackbone)",
                               "'head' takes a list of tensors, but attach_index -1 selects a single tensor of 'bb'"));
    /* Indexing a node that produces one tensor. */
    const spec list_of_tensor[] = {{.name = "TensorBackbone", .alias = "tb"},
                                   {.name = "ListHead", .alias = "head", .inputs = {"tb"}}};
    expect_build_error(list_of_tensor, 2,
                       NEEDLES("node 'head' (ListHead)", "node 'tb' (TensorBackbone)",
                               "attach_index \"all\" needs a list of outputs, but 'tb' produces a single tensor"));
    const spec index_of_tensor[] = {
        {.name = "TensorBackbone", .alias = "tb"},
        {.name = "TensorHead", .alias = "head", .params = "attach_index: 2", .inputs = {"tb"}}};
    expect_build_error(index_of_tensor, 2, NEEDLES("'head'", "'tb'", "attach_index 2 needs a list of outputs"));
    /* A head's packet has no "features" for the default unwrap. */
    const spec head_on_head[] = {{.name = "ListBackbone", .alias = "bb"},
                                 {.name = "TensorHead", .alias = "h1", .inputs = {"bb"}},
                                 {.name = "TensorHead", .alias = "h2", .inputs = {"h1"}}};
    expect_build_error(head_on_head, 3,
                       NEEDLES("node 'h2' (TensorHead)", "node 'h1' (TensorHead)",
                               "'h1' has no 'features' in its packet (keys: classification)"));

    /* -1 and 0 of a single tensor are that tensor. */
    const spec tensor_ok[] = {{.name = "TensorBackbone", .alias = "tb"},
                              {.name = "TensorHead", .alias = "head", .inputs = {"tb"}},
                              {.name = "TensorHead", .alias = "zero", .params = "attach_index: 0", .inputs = {"tb"}}};
    lt_model *m = build_ok(tensor_ok, 3);
    lt_tensor *x = random_images(2, 3, 32, 32, 3);
    forward_ok(m, x, LT_MODE_EVAL);
    lt_tensor *want = spatial_mean(lt_mul_scalar(x, 2.0f));
    expect_close(packet_value(m, "head", "classification")->tensor, want, 1e-6f);
    expect_close(packet_value(m, "zero", "classification")->tensor, want, 1e-6f);
    lt_model_free(m);
}
END_TEST

/* ---------------- graph ---------------- */

START_TEST(test_cycles_and_dangling_inputs)
{
    const spec cycle[] = {{.name = "ListBackbone", .alias = "bb"},
                          {.name = "TensorHead", .alias = "a", .inputs = {"c"}},
                          {.name = "TensorHead", .alias = "b", .inputs = {"a"}},
                          {.name = "TensorHead", .alias = "c", .inputs = {"b"}}};
    expect_build_error(cycle, 4, NEEDLES("the nodes form a cycle: a -> b -> c -> a"));
    /* A node downstream of the cycle is reported through the cycle itself. */
    const spec tail[] = {{.name = "TensorHead", .alias = "t", .inputs = {"b"}},
                         {.name = "TensorHead", .alias = "a", .inputs = {"b"}},
                         {.name = "TensorHead", .alias = "b", .inputs = {"a"}}};
    expect_build_error(tail, 3, NEEDLES("cycle: b -> a -> b"));
    const spec self[] = {{.name = "TensorHead", .alias = "a", .inputs = {"a"}}};
    expect_build_error(self, 1, NEEDLES("cycle: a -> a"));
    const spec dangling[] = {{.name = "ListBackbone", .alias = "backbone"},
                             {.name = "TensorHead", .alias = "head", .inputs = {"backbon"}}};
    expect_build_error(dangling, 2,
                       NEEDLES("model.nodes[1]: node 'head' (TensorHead)",
                               "input 'backbon' is not a node of the model (did you mean 'backbone'?)",
                               "nodes: backbone, head"));
    const spec unknown[] = {{.name = "ListBackbon"}};
    expect_build_error(unknown, 1, NEEDLES("model.nodes[0]", "unknown node 'ListBackbon'", "did you mean 'ListBackbone'"));
    const spec duplicate[] = {{.name = "ListBackbone"}, {.name = "ListBackbone"}};
    expect_build_error(duplicate, 2,
                       NEEDLES("model.nodes[1]", "duplicate node identifier 'ListBackbone' (also model.nodes[0])"));
    const spec slash[] = {{.name = "ListBackbone", .alias = "a/b"}};
    expect_build_error(slash, 1, NEEDLES("'/' is not allowed"));
    const spec two_default_inputs[] = {{.name = "ListBackbone", .alias = "b1"},
                                       {.name = "ListBackbone", .alias = "b2"},
                                       {.name = "TensorHead", .alias = "head", .inputs = {"b1", "b2"}}};
    expect_build_error(two_default_inputs, 3,
                       NEEDLES("node 'head' (TensorHead)", "the default unwrap takes one input node, got 2"));
}
END_TEST

/* Outputs, order, identifiers; nodes listed before their inputs. */
START_TEST(test_topology)
{
    const spec s[] = {{.name = "TensorHead", .alias = "head", .inputs = {"neck"}},
                      {.name = "ParamsNode", .alias = "neck", .inputs = {"tb"}},
                      {.name = "TensorBackbone", .alias = "tb"},
                      {.name = "ListHead", .alias = "aux", .params = "attach_index: [0, 1]", .inputs = {"bb"}},
                      {.name = "ListBackbone", .alias = "bb"}};
    lt_model *m = build_ok(s, 5);
    ck_assert_int_eq(lt_model_n_nodes(m), 5);
    /* Stable topological order: the first ready node in config order. */
    const int want[] = {2, 1, 0, 4, 3};
    for (int k = 0; k < 5; k++) ck_assert_int_eq(lt_model_order(m, k), want[k]);
    ck_assert(lt_model_node_is_output(m, 0));
    ck_assert(!lt_model_node_is_output(m, 1));
    ck_assert(!lt_model_node_is_output(m, 2));
    ck_assert(lt_model_node_is_output(m, 3));
    ck_assert(!lt_model_node_is_output(m, 4));
    ck_assert_str_eq(lt_model_node_identifier(m, 1), "neck");
    ck_assert_str_eq(lt_model_node_desc(m, 1)->header.name, "ParamsNode");
    ck_assert_int_eq(lt_model_node_n_inputs(m, 0), 1);
    ck_assert_int_eq(lt_model_node_input(m, 0, 0), 1);
    ck_assert_int_eq(lt_model_node_n_inputs(m, 2), 0);
    ck_assert_int_eq(lt_model_find_node(m, "nope"), -1);
    ck_assert_ptr_null(lt_model_node_task(m, 1));
    ck_assert_str_eq(lt_model_node_task(m, 0)->main_output, "classification");
    ck_assert_ptr_null(lt_model_packet(m, 0)); /* no forward yet */
    ck_assert_ptr_null(lt_model_node_identifier(m, 5));
    ck_assert_ptr_nonnull(strstr(lt_last_error(), "node 5 out of range"));
    lt_model_free(m);
}
END_TEST

START_TEST(test_variants)
{
    const spec def[] = {{.name = "ListBackbone"}};
    lt_model *m = build_ok(def, 1);
    ck_assert_str_eq(lt_model_node_variant(m, 0), "small");
    lt_model_free(m);
    const spec named[] = {{.name = "ListBackbone", .variant = "large"}};
    m = build_ok(named, 1);
    ck_assert_str_eq(lt_model_node_variant(m, 0), "large");
    lt_model_free(m);
    const spec keyword[] = {{.name = "ListBackbone", .variant = "default"}};
    m = build_ok(keyword, 1);
    ck_assert_str_eq(lt_model_node_variant(m, 0), "small");
    lt_model_free(m);
    const spec unknown[] = {{.name = "ListBackbone", .alias = "bb", .variant = "medium"}};
    expect_build_error(unknown, 1, NEEDLES("node 'bb' (ListBackbone)", "unknown variant 'medium' (valid: small, large)"));
    const spec none[] = {{.name = "TensorBackbone", .variant = "x"}};
    expect_build_error(none, 1, NEEDLES("node 'TensorBackbone'", "unknown variant 'x': the node has no variants"));
    const spec resnet[] = {{.name = "ExampleResNet", .variant = "50"}};
    expect_build_error(resnet, 1, NEEDLES("unknown variant '50' (valid: 18, 34)"));
}
END_TEST

/* ---------------- params ---------------- */

START_TEST(test_params_reach_init)
{
    const spec s[] = {{.name = "TensorBackbone", .alias = "tb"},
                      {.name = "ParamsNode", .alias = "pn", .inputs = {"tb"},
                       .params = "scale: 0.5\noffset: 2\nenabled: true\nout_key: scaled\nsizes: [3, 5, 7]\n"},
                      {.name = "ParamsNode", .alias = "off", .inputs = {"tb"}, .params = "enabled: false\nscale: ~\n"},
                      {.name = "ListBackbone", .alias = "two", .params = "n_outputs: 2"}};
    lt_model *m = build_ok(s, 4);
    const lt_tensor *gain = lt_params_find(lt_model_params(m), "pn.gain");
    ck_assert_ptr_nonnull(gain);
    ck_assert_float_eq(lt_f32(gain)[0], 0.5f);
    ck_assert_float_eq(lt_f32(lt_params_find(lt_model_params(m), "off.gain"))[0], 1.0f); /* null: the default */
    lt_tensor *x = random_images(2, 3, 32, 32, 4);
    forward_ok(m, x, LT_MODE_TRAIN);
    expect_close(packet_value(m, "pn", "scaled")->tensor, lt_add_scalar(x, 2.0f), 1e-6f); /* 2x * 0.5 + 2 */
    const lt_tensor *sizes = packet_value(m, "pn", "sizes")->tensor;
    ck_assert_int_eq(sizes->numel, 3);
    ck_assert_float_eq(lt_f32(sizes)[2], 7.0f);
    expect_close(packet_value(m, "off", "features")->tensor, lt_mul_scalar(x, 2.0f), 0);
    ck_assert_ptr_null(lt_packet_get(lt_model_packet(m, 2), "sizes"));
    ck_assert_int_eq(packet_value(m, "two", "features")->list.n, 2);
    lt_model_free(m);
}
END_TEST

START_TEST(test_param_errors)
{
    const spec wrong_float[] = {{.name = "TensorBackbone", .alias = "tb"},
                                {.name = "ParamsNode", .alias = "pn", .inputs = {"tb"}, .params = "scale: abc"}};
    expect_build_error(wrong_float, 2,
                       NEEDLES("test.yaml:1:8", "node 'pn' (ParamsNode)", "param 'scale' must be a number, got 'abc'"));
    const spec wrong_int[] = {{.name = "TensorBackbone", .alias = "tb"},
                              {.name = "ParamsNode", .alias = "pn", .inputs = {"tb"}, .params = "offset: 1.5"}};
    expect_build_error(wrong_int, 2, NEEDLES("param 'offset' must be an integer, got '1.5'"));
    const spec wrong_bool[] = {{.name = "TensorBackbone", .alias = "tb"},
                               {.name = "ParamsNode", .alias = "pn", .inputs = {"tb"}, .params = "enabled: maybe"}};
    expect_build_error(wrong_bool, 2, NEEDLES("param 'enabled' must be a boolean (true or false), got 'maybe'"));
    const spec wrong_list[] = {{.name = "TensorBackbone", .alias = "tb"},
                               {.name = "ParamsNode", .alias = "pn", .inputs = {"tb"}, .params = "sizes: [1, x]"}};
    expect_build_error(wrong_list, 2, NEEDLES("test.yaml:1:12", "param 'sizes' must be a list of integers, got 'x' at index 1"));
    const spec wrong_str[] = {{.name = "TensorBackbone", .alias = "tb"},
                              {.name = "ParamsNode", .alias = "pn", .inputs = {"tb"}, .params = "out_key: {a: 1}"}};
    expect_build_error(wrong_str, 2, NEEDLES("param 'out_key' must be a string, got a map"));
    const spec unknown[] = {{.name = "TensorBackbone", .alias = "tb"},
                            {.name = "ParamsNode", .alias = "pn", .inputs = {"tb"}, .params = "scale: 2\nbogus: 1"}};
    expect_build_error(unknown, 2, NEEDLES("test.yaml:2:", "node 'pn' (ParamsNode)", "unknown param 'bogus'"));
    const spec not_map[] = {{.name = "TensorBackbone", .alias = "tb", .params = "[1, 2]"}};
    expect_build_error(not_map, 1, NEEDLES("node 'tb' (TensorBackbone)", "params must be a map, got a list"));
    const spec outside[] = {{.name = "TensorBackbone", .alias = "tb"},
                            {.name = "ParamsNode", .alias = "pn", .inputs = {"tb"}, .params = "outside: true"}};
    expect_build_error(outside, 2, NEEDLES("registered parameter 'elsewhere.gain' outside its prefix 'pn'"));
    /* The plugin's own init error, wrapped with the node. */
    const spec init_error[] = {{.name = "ListBackbone", .alias = "bb", .params = "n_outputs: 9"}};
    expect_build_error(init_error, 1, NEEDLES("node 'bb' (ListBackbone): init failed: ListBackbone: n_outputs 9"));
    /* An accessor error inside init: a [B,C] input has no height. */
    const spec no_height[] = {{.name = "ListBackbone", .alias = "b1"},
                              {.name = "ListBackbone", .alias = "b2"},
                              {.name = "PairNode", .alias = "pair", .inputs = {"b1", "b2"}},
                              {.name = "TensorHead", .alias = "th", .inputs = {"pair"}}};
    expect_build_error(no_height, 4,
                       NEEDLES("node 'th' (TensorHead): init failed", "lt_node_in_height: node 'th': input 0 has "
                               "shape [1,24], which has no height"));
}
END_TEST

/* ---------------- wrap / unwrap and modes ---------------- */

START_TEST(test_wrap_unwrap_and_modes)
{
    const spec s[] = {{.name = "ListBackbone", .alias = "bb"},
                      {.name = "TensorHead", .alias = "cls", .inputs = {"bb"}},
                      {.name = "CustomIONode", .alias = "io", .inputs = {"bb"}, .params = "attach_index: -1"}};
    lt_model *m = build_ok(s, 3);
    lt_tensor *x = random_images(2, 3, 32, 32, 5);
    const int io = lt_model_find_node(m, "io");

    forward_ok(m, x, LT_MODE_TRAIN);
    const lt_packet *p = lt_model_packet(m, io);
    ck_assert_int_eq(lt_packet_count(p), 1);
    ck_assert_str_eq(lt_packet_key_at(p, 0), "raw");
    /* The custom unwrap took the first feature map, whatever attach_index says. */
    lt_tensor *first = packet_value(m, "bb", "features")->list.items[0];
    expect_close(packet_value(m, "io", "raw")->tensor, lt_mul_scalar(first, 3.0f), 1e-6f);
    /* Default wrap of a head with a task: its main output only. */
    ck_assert_int_eq(lt_packet_count(lt_model_packet(m, lt_model_find_node(m, "cls"))), 1);
    ck_assert_ptr_nonnull(packet_value(m, "cls", "classification"));
    ck_assert(lt_is_training()); /* restored */

    lt_set_training(false);
    forward_ok(m, x, LT_MODE_EVAL);
    p = lt_model_packet(m, io);
    ck_assert_int_eq(lt_packet_count(p), 2);
    ck_assert_str_eq(lt_packet_keys_str(p), "raw, double");
    first = packet_value(m, "bb", "features")->list.items[0];
    expect_close(packet_value(m, "io", "double")->tensor, lt_mul_scalar(first, 6.0f), 1e-6f);
    ck_assert(!lt_is_training());

    forward_ok(m, x, LT_MODE_EXPORT);
    p = lt_model_packet(m, io);
    ck_assert_int_eq(lt_packet_count(p), 1);
    ck_assert_str_eq(lt_packet_key_at(p, 0), "export");

    ck_assert_str_eq(lt_model_node_head_config(m, io), "{\"custom\": true}");
    ck_assert_str_eq(lt_model_node_head_config(m, lt_model_find_node(m, "cls")), "{}");
    ck_assert_str_eq(lt_model_node_desc(m, lt_model_find_node(m, "cls"))->parser, "ClassificationParser");
    lt_model_free(m);
}
END_TEST

START_TEST(test_several_input_nodes)
{
    const spec s[] = {{.name = "ListBackbone", .alias = "b1"},
                      {.name = "ListBackbone", .alias = "b2", .params = "n_outputs: 2"},
                      {.name = "PairNode", .alias = "pair", .inputs = {"b1", "b2"}}};
    lt_model *m = build_ok(s, 3);
    ck_assert_int_eq(lt_model_node_n_inputs(m, 2), 2);
    ck_assert_int_eq(lt_model_node_input(m, 2, 1), 1);
    lt_tensor *x = random_images(2, 3, 32, 32, 6);
    forward_ok(m, x, LT_MODE_TRAIN);
    const lt_tensor *out = packet_value(m, "pair", "features")->tensor;
    ck_assert_int_eq(out->shape[0], 2);
    ck_assert_int_eq(out->shape[1], 12 + 6);
    const lt_value *f1 = packet_value(m, "b1", "features"), *f2 = packet_value(m, "b2", "features");
    lt_tensor *parts[2] = {spatial_mean(f1->list.items[3]), spatial_mean(f2->list.items[1])};
    expect_close(out, lt_concat(parts, 2, 1), 1e-6f);
    lt_model_free(m);
}
END_TEST

START_TEST(test_forward_errors)
{
    const spec s[] = {{.name = "ListBackbone", .alias = "bb"}};
    lt_model *m = build_ok(s, 1);
    ck_assert_int_eq(lt_model_forward(m, random_images(2, 4, 32, 32, 7), LT_MODE_TRAIN), -1);
    ck_assert_ptr_nonnull(strstr(lt_last_error(), "images [2,4,32,32] (float32) must be float32 [B,3,H,W]"));
    ck_assert_int_eq(lt_model_forward(m, random_images(2, 3, 32, 32, 7), (lt_mode)7), -1);
    ck_assert_ptr_null(lt_model_loss(m, NULL));
    ck_assert_ptr_nonnull(strstr(lt_last_error(), "the model has no losses"));
    lt_model_free(m);
    const lt_dataset_info bad = {.n_classes = 3, .input_shape = {2, 3, 0, 32}};
    ck_assert_ptr_null(build_ds(s, 1, &bad));
    ck_assert_ptr_nonnull(strstr(lt_last_error(), "[2,3,0,32] must be a positive [B,C,H,W]"));
}
END_TEST

/* ---------------- attached losses ---------------- */

START_TEST(test_weighted_losses)
{
    const lt_module_config losses[] = {{.name = "TestMeanLoss", .weight = 1.0f},
                                       {.name = "TestMeanLoss", .alias = "half", .weight = 0.5f}};
    const lt_node_config nodes[] = {
        {.name = "ListBackbone", .alias = "bb"},
        {.name = "TensorHead", .alias = "cls", .inputs = (const char *const[]){"bb"}, .n_inputs = 1,
         .losses = losses, .n_losses = 2},
    };
    lt_model *m = lt_model_build(reg, nodes, 2, &small_ds, 1);
    ck_assert_msg(m != NULL, "build: %s", lt_last_error());
    ck_assert_int_eq(lt_model_n_attached(m, 1, LT_DESC_LOSS), 2);
    ck_assert_int_eq(lt_model_n_attached(m, 1, LT_DESC_METRIC), 0);
    ck_assert_int_eq(lt_model_n_attached(m, 0, LT_DESC_LOSS), 0);
    ck_assert_str_eq(lt_attached_identifier(lt_model_attached(m, 1, LT_DESC_LOSS, 1)), "half");
    ck_assert_ptr_null(lt_model_attached(m, 1, LT_DESC_LOSS, 2));
    ck_assert_ptr_null(lt_model_loss(m, NULL));
    ck_assert_ptr_nonnull(strstr(lt_last_error(), "run lt_model_forward first"));
    forward_ok(m, random_images(2, 3, 32, 32, 8), LT_MODE_TRAIN);
    lt_labels *labels = lt_labels_new();
    lt_tensor *loss = lt_model_loss(m, labels);
    ck_assert_msg(loss != NULL, "loss: %s", lt_last_error());
    const float mean = lt_item(lt_mean(packet_value(m, "cls", "classification")->tensor, NULL, 0, false));
    ck_assert_float_eq_tol(lt_item(loss), 1.5f * mean, 1e-6f);
    lt_model_free(m);
}
END_TEST

/* Metrics bind to the node's packet; at most one main metric per model. */
START_TEST(test_metrics)
{
    const lt_module_config main_metric[] = {{.name = "TestCountMetric", .is_main_metric = true}};
    const lt_module_config other_main[] = {{.name = "TestCountMetric", .alias = "c2", .is_main_metric = true}};
    lt_node_config nodes[] = {
        {.name = "ListBackbone", .alias = "bb"},
        {.name = "TensorHead", .alias = "h1", .inputs = (const char *const[]){"bb"}, .n_inputs = 1,
         .metrics = main_metric, .n_metrics = 1},
        {.name = "TensorHead", .alias = "h2", .inputs = (const char *const[]){"bb"}, .n_inputs = 1},
    };
    lt_model *m = lt_model_build(reg, nodes, 3, &small_ds, 1);
    ck_assert_msg(m != NULL, "build: %s", lt_last_error());
    ck_assert_int_eq(lt_model_n_attached(m, 1, LT_DESC_METRIC), 1);
    lt_attached *a = lt_model_attached(m, 1, LT_DESC_METRIC, 0);
    ck_assert(lt_attached_is_main_metric(a));
    for (int step = 0; step < 2; step++) {
        forward_ok(m, random_images(2, 3, 32, 32, 11), LT_MODE_EVAL);
        ck_assert_msg(lt_attached_metric_update(a, lt_model_packet(m, 1), lt_labels_new()) == 0, "update: %s",
                      lt_last_error());
        lt_ctx_reset(ctx);
    }
    const lt_metric_result *r = NULL;
    ck_assert_msg(lt_attached_metric_compute(a, &r) == 0, "compute: %s", lt_last_error());
    ck_assert_float_eq(lt_metric_result_main(r), 4.0f);
    lt_model_free(m);

    nodes[2].metrics = other_main;
    nodes[2].n_metrics = 1;
    ck_assert_ptr_null(lt_model_build(reg, nodes, 3, &small_ds, 1));
    ck_assert_msg(strstr(lt_last_error(), "node 'h2' (TensorHead): metric 'c2' is marked is_main_metric, but so is "
                                          "'TestCountMetric' of node 'h1'"),
                  "%s", lt_last_error());
}
END_TEST

/* ---------------- the shipped examples ---------------- */

static const lt_dataset_info seg_ds = {.n_classes = 3, .input_shape = {2, 3, 64, 64}};

START_TEST(test_example_resnet_segmentation)
{
    const spec s[] = {{.name = "ExampleResNet", .alias = "backbone"},
                      {.name = "CustomSegmentationHead", .alias = "seg", .inputs = {"backbone"}}};
    lt_model *m = build_ds(s, 2, &seg_ds);
    ck_assert_msg(m != NULL, "build: %s", lt_last_error());
    ck_assert_str_eq(lt_model_node_variant(m, 0), "18");
    const lt_task_info *task = lt_model_node_task(m, 1);
    ck_assert_str_eq(task->name, "segmentation");
    ck_assert_str_eq(lt_model_node_desc(m, 1)->parser, "SegmentationParser");
    ck_assert_str_eq(lt_model_node_head_config(m, 1), "{\"is_softmax\": false}");
    ck_assert_int_eq(lt_model_node_attach_index(m, 1).start, -1);

    lt_tensor *x = random_images(2, 3, 64, 64, 9);
    forward_ok(m, x, LT_MODE_TRAIN);
    const lt_value *f = packet_value(m, "backbone", "features");
    ck_assert_int_eq(f->list.n, 4);
    static const int64_t want[4][4] = {{2, 64, 16, 16}, {2, 128, 8, 8}, {2, 256, 4, 4}, {2, 512, 2, 2}};
    for (int k = 0; k < 4; k++)
        for (int d = 0; d < 4; d++) ck_assert_int_eq(f->list.items[k]->shape[d], want[k][d]);
    const lt_tensor *seg = packet_value(m, "seg", "segmentation")->tensor;
    ck_assert_int_eq(seg->ndim, 4);
    ck_assert_int_eq(seg->shape[0], 2);
    ck_assert_int_eq(seg->shape[1], 3);
    ck_assert_int_eq(seg->shape[2], 64);
    ck_assert_int_eq(seg->shape[3], 64);

    /* Train mode reached the batch norms; the graph reaches the stem. */
    lt_params *p = lt_model_params(m);
    ck_assert_int_eq(((int64_t *)lt_params_find(p, "backbone.bn1.num_batches_tracked")->data)[0], 1);
    ck_assert_int_eq(((int64_t *)lt_params_find(p, "seg.up1.1.1.num_batches_tracked")->data)[0], 1);
    lt_params_zero_grad(p);
    ck_assert_int_eq(lt_backward(lt_mean((lt_tensor *)seg, NULL, 0, false)), 0);
    const lt_tensor *w = lt_params_find(p, "backbone.conv1.weight");
    double norm = 0;
    for (int64_t i = 0; i < w->numel; i++) norm += fabs(w->grad[i]);
    ck_assert(norm > 0);

    /* Eval mode leaves the running statistics alone. */
    lt_ctx_reset(ctx);
    lt_set_grad_enabled(false);
    forward_ok(m, random_images(2, 3, 64, 64, 10), LT_MODE_EVAL);
    ck_assert_int_eq(((int64_t *)lt_params_find(p, "backbone.bn1.num_batches_tracked")->data)[0], 1);
    lt_model_free(m);
}
END_TEST

/* torchvision's state_dict of resnet18/34 minus fc, in torchvision's order. */
typedef struct name_list {
    int n;
    char names[256][96];
} name_list;

static void add_name(name_list *l, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void add_name(name_list *l, const char *fmt, ...)
{
    ck_assert_int_lt(l->n, 256);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(l->names[l->n++], sizeof l->names[0], fmt, ap);
    va_end(ap);
}

static void expected_resnet_names(const int blocks[4], name_list *l)
{
    static const char *const bn[] = {"weight", "bias", "running_mean", "running_var", "num_batches_tracked"};
    add_name(l, "backbone.conv1.weight");
    for (int k = 0; k < 5; k++) add_name(l, "backbone.bn1.%s", bn[k]);
    for (int layer = 1; layer <= 4; layer++)
        for (int b = 0; b < blocks[layer - 1]; b++) {
            for (int c = 1; c <= 2; c++) {
                add_name(l, "backbone.layer%d.%d.conv%d.weight", layer, b, c);
                for (int k = 0; k < 5; k++) add_name(l, "backbone.layer%d.%d.bn%d.%s", layer, b, c, bn[k]);
            }
            if (layer > 1 && b == 0) {
                add_name(l, "backbone.layer%d.0.downsample.0.weight", layer);
                for (int k = 0; k < 5; k++) add_name(l, "backbone.layer%d.0.downsample.1.%s", layer, bn[k]);
            }
        }
}

static void check_resnet_state_dict(const char *variant, const int blocks[4], int n_entries, int64_t numel)
{
    const spec s[] = {{.name = "ExampleResNet", .alias = "backbone", .variant = variant}};
    const lt_dataset_info ds = {.n_classes = 2, .input_shape = {1, 3, 32, 32}};
    lt_model *m = build_ds(s, 1, &ds);
    ck_assert_msg(m != NULL, "build: %s", lt_last_error());
    lt_params *p = lt_model_params(m);
    static name_list want;
    want.n = 0;
    expected_resnet_names(blocks, &want);
    ck_assert_int_eq(want.n, n_entries); /* torchvision's count, checked against resnet18/34().state_dict() */
    ck_assert_uint_eq(lt_params_count(p), (size_t)want.n);
    for (int i = 0; i < want.n; i++) ck_assert_str_eq(lt_params_at(p, (size_t)i)->name, want.names[i]);
    ck_assert_int_eq(lt_params_numel(p, true), numel);
    const lt_tensor *w = lt_params_find(p, "backbone.layer2.0.downsample.0.weight");
    ck_assert_int_eq(w->ndim, 4);
    ck_assert_int_eq(w->shape[0], 128);
    ck_assert_int_eq(w->shape[1], 64);
    ck_assert_int_eq(w->shape[2], 1);
    ck_assert_int_eq(lt_params_find(p, "backbone.conv1.weight")->shape[3], 7);
    ck_assert_int_eq(lt_params_find(p, "backbone.layer4.1.bn2.running_var")->shape[0], 512);
    lt_model_free(m);
}

START_TEST(test_example_resnet_state_dict)
{
    check_resnet_state_dict(NULL, (const int[]){2, 2, 2, 2}, 120, 11176512);
    check_resnet_state_dict("34", (const int[]){3, 4, 6, 3}, 216, 21284672);
}
END_TEST

/* The head's names and sizes match the PyTorch module built from
 * luxonis-train's UpBlock (34 entries, 1481219 parameters for 512 -> 3). */
START_TEST(test_example_segmentation_head_state_dict)
{
    const spec s[] = {{.name = "ExampleResNet", .alias = "backbone"},
                      {.name = "CustomSegmentationHead", .alias = "head", .inputs = {"backbone"}}};
    lt_model *m = build_ds(s, 2, &seg_ds);
    ck_assert_msg(m != NULL, "build: %s", lt_last_error());
    lt_params *p = lt_model_params(m);
    static const char *const bn[] = {"weight", "bias", "running_mean", "running_var", "num_batches_tracked"};
    static name_list want;
    want.n = 0;
    for (int i = 1; i <= 4; i++) {
        add_name(&want, "head.up%d.0.weight", i);
        add_name(&want, "head.up%d.0.bias", i);
        add_name(&want, "head.up%d.1.0.weight", i);
        for (int k = 0; k < 5; k++) add_name(&want, "head.up%d.1.1.%s", i, bn[k]);
    }
    add_name(&want, "head.final.weight");
    add_name(&want, "head.final.bias");
    ck_assert_uint_eq(lt_params_count(p), 120 + (size_t)want.n);
    for (int i = 0; i < want.n; i++) ck_assert_str_eq(lt_params_at(p, 120 + (size_t)i)->name, want.names[i]);
    ck_assert_int_eq(lt_params_numel(p, true), 11176512 + 1481219);
    ck_assert_int_eq(lt_params_find(p, "head.up1.0.weight")->shape[0], 512); /* ConvTranspose2d: [in, out, k, k] */
    ck_assert_int_eq(lt_params_find(p, "head.final.weight")->shape[0], 3);
    lt_model_free(m);
}
END_TEST

START_TEST(test_example_distance_task)
{
    lt_task_info t;
    ck_assert_msg(lt_task_resolve(reg, "DistanceEstimation", &t) == 0, "%s", lt_last_error());
    ck_assert_str_eq(t.main_output, "boundingbox");
    ck_assert_int_eq(t.n_labels, 2);
    bool box = false, distance = false;
    for (int i = 0; i < t.n_labels; i++) {
        if (!strcmp(t.labels[i].name, "boundingbox") && t.labels[i].metadata_types == 0) box = true;
        if (!strcmp(t.labels[i].name, "distance") &&
            t.labels[i].metadata_types == (uint32_t)(LT_META_FLOAT | LT_META_INT))
            distance = true;
    }
    ck_assert(box && distance);
}
END_TEST

/* ---------------- packets and labels (plugin.h) ---------------- */

START_TEST(test_packets)
{
    ck_assert_str_eq(lt_value_kind_name(LT_VALUE_TENSOR), "tensor");
    ck_assert_str_eq(lt_value_kind_name(LT_VALUE_LIST), "list");
    lt_packet *p = lt_packet_new();
    ck_assert_ptr_nonnull(p);
    ck_assert_str_eq(lt_packet_keys_str(p), "(none)");
    lt_tensor *a = lt_scalar(1), *b = lt_scalar(2);
    char key[16] = "features";
    ck_assert_int_eq(lt_packet_set(p, key, lt_value_tensor(a)), 0);
    strcpy(key, "garbage"); /* keys are copied */
    lt_tensor *items[2] = {a, b};
    for (int i = 0; i < 6; i++) { /* grows past the initial capacity, keeps order */
        char k[8];
        snprintf(k, sizeof k, "k%d", i);
        ck_assert_int_eq(lt_packet_set(p, k, lt_value_list(2, items)), 0);
    }
    items[0] = NULL; /* list items are copied too */
    ck_assert_int_eq(lt_packet_count(p), 7);
    ck_assert_str_eq(lt_packet_key_at(p, 0), "features");
    ck_assert_str_eq(lt_packet_key_at(p, 6), "k5");
    ck_assert_ptr_null(lt_packet_key_at(p, 7));
    ck_assert_ptr_eq(lt_packet_get(p, "features")->tensor, a);
    ck_assert_ptr_eq(lt_packet_get(p, "k3")->list.items[0], a);
    ck_assert_ptr_null(lt_packet_get(p, "garbage"));
    ck_assert_int_eq(lt_packet_set(p, "features", lt_value_tensor(b)), 0); /* replace in place */
    ck_assert_int_eq(lt_packet_count(p), 7);
    ck_assert_ptr_eq(lt_packet_get(p, "features")->tensor, b);
    ck_assert_str_eq(lt_packet_keys_str(p), "features, k0, k1, k2, k3, k4, k5");
    ck_assert_int_eq(lt_packet_set(p, "x", lt_value_tensor(NULL)), -1);
    ck_assert_ptr_nonnull(strstr(lt_last_error(), "lt_packet_set: key 'x': tensor value is NULL"));
    ck_assert_int_eq(lt_packet_set(p, "x", lt_value_list(2, items)), -1);
    ck_assert_ptr_nonnull(strstr(lt_last_error(), "list item 0 of 2 is NULL"));
    ck_assert_int_eq(lt_packet_set(p, "", lt_value_tensor(a)), -1);
    ck_assert_int_eq(lt_packet_set(p, "x", (lt_value){0}), -1);
    ck_assert_int_eq(lt_packet_set(NULL, "x", lt_value_tensor(a)), -1);
    lt_tensor_list *l = lt_tensor_list_new(3);
    ck_assert_int_eq(l->n, 3);
    ck_assert_ptr_null(l->items[2]);
    ck_assert_ptr_null(lt_tensor_list_new(-1));
    lt_ctx_use(NULL);
    ck_assert_ptr_null(lt_packet_new()); /* step memory needs a context */
    ck_assert_ptr_nonnull(strstr(lt_last_error(), "no ltrain context"));
    lt_ctx_use(ctx);
}
END_TEST

START_TEST(test_labels)
{
    lt_labels *l = lt_labels_new();
    ck_assert_str_eq(lt_labels_keys_str(l), "(none)");
    lt_tensor *seg = lt_zeros(LT_I32, 3, (const int64_t[]){2, 4, 4});
    ck_assert_int_eq(lt_labels_set(l, "segmentation", lt_value_tensor(seg)), 0);
    lt_tensor *dist = lt_full(1, (const int64_t[]){2}, 3.5f);
    const lt_metadata meta = {.name = "distance", .type = LT_META_FLOAT, .values = dist};
    ck_assert_int_eq(lt_labels_set_metadata(l, &meta), 0);
    ck_assert_ptr_eq(lt_labels_get(l, "segmentation")->tensor, seg);
    ck_assert_ptr_null(lt_labels_get(l, "distance")); /* metadata lives apart */
    const lt_metadata *got = lt_labels_get_metadata(l, "distance");
    ck_assert_ptr_nonnull(got);
    ck_assert_ptr_eq(got->values, dist);
    ck_assert_str_eq(lt_labels_keys_str(l), "segmentation, metadata/distance");
    /* Values must match the declared type. */
    const lt_metadata wrong = {.name = "id", .type = LT_META_INT, .values = dist};
    ck_assert_int_eq(lt_labels_set_metadata(l, &wrong), -1);
    ck_assert_ptr_nonnull(strstr(lt_last_error(), "metadata 'id' values [2] are float32, expected int32"));
    const lt_metadata no_strings = {.name = "text", .type = LT_META_STR};
    ck_assert_int_eq(lt_labels_set_metadata(l, &no_strings), -1);
    const lt_metadata two_types = {.name = "x", .type = LT_META_INT | LT_META_FLOAT, .values = dist};
    ck_assert_int_eq(lt_labels_set_metadata(l, &two_types), -1);
    const char *texts[] = {"a", "b"};
    const lt_metadata text = {.name = "text", .type = LT_META_STR, .strings = texts};
    ck_assert_int_eq(lt_labels_set_metadata(l, &text), 0);
    ck_assert_str_eq(lt_labels_get_metadata(l, "text")->strings[1], "b");
    ck_assert_ptr_null(lt_labels_get_metadata(l, "nope"));
}
END_TEST

/* ---------------- suite ---------------- */

static Suite *model_suite(void)
{
    Suite *s = suite_create("model");
    TCase *graph = tcase_create("graph");
    tcase_add_checked_fixture(graph, setup, teardown);
    tcase_add_test(graph, test_attach_index_int_forms);
    tcase_add_test(graph, test_attach_index_slices);
    tcase_add_test(graph, test_attach_index_errors);
    tcase_add_test(graph, test_incompatible_nodes);
    tcase_add_test(graph, test_cycles_and_dangling_inputs);
    tcase_add_test(graph, test_topology);
    tcase_add_test(graph, test_variants);
    tcase_add_test(graph, test_params_reach_init);
    tcase_add_test(graph, test_param_errors);
    tcase_add_test(graph, test_wrap_unwrap_and_modes);
    tcase_add_test(graph, test_several_input_nodes);
    tcase_add_test(graph, test_forward_errors);
    tcase_add_test(graph, test_weighted_losses);
    tcase_add_test(graph, test_metrics);
    suite_add_tcase(s, graph);
    TCase *examples = tcase_create("examples");
    tcase_add_checked_fixture(examples, setup, teardown);
    tcase_set_timeout(examples, 300);
    tcase_add_test(examples, test_example_resnet_segmentation);
    tcase_add_test(examples, test_example_resnet_state_dict);
    tcase_add_test(examples, test_example_segmentation_head_state_dict);
    tcase_add_test(examples, test_example_distance_task);
    suite_add_tcase(s, examples);
    TCase *values = tcase_create("values");
    tcase_add_checked_fixture(values, setup, teardown);
    tcase_add_test(values, test_packets);
    tcase_add_test(values, test_labels);
    suite_add_tcase(s, values);
    return s;
}

int main(void)
{
    return fx_run_suite(model_suite());
}

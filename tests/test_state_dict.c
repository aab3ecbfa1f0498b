/* State dicts: a PyTorch model's state_dict (tests/reference/make_safetensors.py)
 * loads by name into SDK blocks and gives PyTorch's output; name maps,
 * scopes, strict and non-strict key reports, shape and dtype checks, and
 * saving a store. */
#define _POSIX_C_SOURCE 200809L

#include "fixture.h"

#include <ltrain/safetensors.h>

#include <check.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define FIXTURE_ST LT_SOURCE_ROOT "/tests/fixtures/state_dict_model.safetensors"
#define FIXTURE_JSON LT_SOURCE_ROOT "/tests/fixtures/state_dict_model.json"

/* The Net of make_safetensors.py, with its module names under `prefix`. */
typedef struct net {
    lt_conv2d_block conv1, conv2;
    lt_batch_norm2d_block bn1;
    lt_linear_block fc;
} net;

static char name_buf[8][128];
static int name_next;

static const char *join(const char *prefix, const char *name)
{
    char *s = name_buf[name_next++ % 8];
    snprintf(s, sizeof name_buf[0], "%s%s%s", prefix ? prefix : "", prefix && *prefix ? "." : "", name);
    return s;
}

static void build_net(net *m, lt_params *p, const char *prefix)
{
    lt_rng rng;
    lt_rng_seed(&rng, 1);
    ck_assert_int_eq(lt_conv2d_block_init(&m->conv1, p, join(prefix, "conv1"), 3, 4,
                                          &(lt_conv2d_options){.kernel = {3, 3}, .padding = {1, 1}}, &rng), 0);
    ck_assert_int_eq(lt_batch_norm2d_block_init(&m->bn1, p, join(prefix, "bn1"), 4), 0);
    ck_assert_int_eq(lt_conv2d_block_init(&m->conv2, p, join(prefix, "conv2"), 4, 6,
                                          &(lt_conv2d_options){.kernel = {3, 3}, .stride = {2, 2},
                                                               .padding = {1, 1}, .no_bias = true},
                                          &rng), 0);
    ck_assert_int_eq(lt_linear_block_init(&m->fc, p, join(prefix, "fc"), 6, 5, true, &rng), 0);
}

static lt_tensor *forward(net *m, lt_tensor *x)
{
    x = lt_relu(lt_batch_norm2d_block_forward(&m->bn1, lt_conv2d_block_forward(&m->conv1, x)));
    x = lt_relu(lt_conv2d_block_forward(&m->conv2, x));
    x = lt_flatten(lt_adaptive_avg_pool2d(x, 1, 1), 1, -1);
    return lt_linear_block_forward(&m->fc, x);
}

static lt_tensor *json_tensor(json_t *root, const char *key)
{
    json_t *o = json_object_get(root, key), *shape = json_object_get(o, "shape"), *data = json_object_get(o, "data");
    ck_assert_ptr_nonnull(shape);
    int64_t dims[LT_MAX_DIMS];
    int nd = (int)json_array_size(shape);
    for (int d = 0; d < nd; d++) dims[d] = json_integer_value(json_array_get(shape, (size_t)d));
    lt_tensor *t = lt_tensor_new(LT_F32, nd, dims);
    ck_assert_int_eq((int64_t)json_array_size(data), t->numel);
    for (int64_t i = 0; i < t->numel; i++) lt_f32(t)[i] = (float)json_number_value(json_array_get(data, (size_t)i));
    return t;
}

/* Runs the net on the fixture input in eval mode and compares with PyTorch. */
static void check_output(net *m)
{
    json_error_t err;
    json_t *root = json_load_file(FIXTURE_JSON, 0, &err);
    ck_assert_msg(root != NULL, "%s: %s", FIXTURE_JSON, err.text);
    lt_tensor *x = json_tensor(root, "input"), *want = json_tensor(root, "output");
    lt_ctx *ctx = lt_ctx_new();
    lt_ctx *prev = lt_ctx_use(ctx);
    bool was_training = lt_set_training(false);
    bool had_grad = lt_set_grad_enabled(false);
    lt_tensor *y = forward(m, lt_copy(x));
    ck_assert_msg(y != NULL, "%s", lt_last_error());
    ck_assert(lt_same_shape(y, want));
    for (int64_t i = 0; i < y->numel; i++) {
        float a = lt_f32(y)[i], b = lt_f32(want)[i];
        ck_assert_msg(fabsf(a - b) <= 1e-5f + 1e-5f * fabsf(b), "output[%lld]: %.8g vs PyTorch %.8g", (long long)i,
                      a, b);
    }
    lt_set_grad_enabled(had_grad);
    lt_set_training(was_training);
    lt_ctx_use(prev);
    lt_ctx_free(ctx);
    lt_tensor_free(x);
    lt_tensor_free(want);
    json_decref(root);
}

static int64_t i64_item(const lt_tensor *t) { return ((const int64_t *)t->data)[0]; }

static bool has_name(char **list, size_t n, const char *name)
{
    for (size_t i = 0; i < n; i++)
        if (!strcmp(list[i], name)) return true;
    return false;
}

static void assert_error_has(const char *needle)
{
    ck_assert_msg(strstr(lt_last_error(), needle) != NULL, "error \"%s\" lacks \"%s\"", lt_last_error(), needle);
}

/* Sum of every element of every float tensor: a cheap "store unchanged" check. */
static double store_checksum(const lt_params *p)
{
    double s = 0;
    for (size_t i = 0; i < lt_params_count(p); i++) {
        const lt_tensor *t = lt_params_at(p, i);
        for (int64_t k = 0; t->dtype == LT_F32 && k < t->numel; k++) s += (double)lt_f32(t)[k] * (double)(k + 1);
    }
    return s;
}

/* ---- PyTorch weights ---- */

START_TEST(test_pytorch_weights_same_output)
{
    lt_params *p = lt_params_new();
    net m;
    build_net(&m, p, NULL);
    ck_assert_int_eq(lt_params_pack(p), 0); /* loading writes into packed storage */
    lt_state_dict_report rep;
    ck_assert_msg(lt_state_dict_load_file(p, FIXTURE_ST, NULL, &rep) == 0, "%s", lt_last_error());
    ck_assert_uint_eq(rep.n_loaded, 10);
    ck_assert_uint_eq(rep.n_missing + rep.n_unexpected, 0);
    lt_state_dict_report_free(&rep);
    ck_assert_int_eq(m.bn1.num_batches_tracked->dtype, LT_I64);
    ck_assert_int_eq(i64_item(m.bn1.num_batches_tracked), 3);
    ck_assert_uint_gt(m.conv1.weight->version, 0);
    check_output(&m);
    lt_params_free(p);
}
END_TEST

/* torchvision-style names mapped under a node prefix, and a "model." prefix stripped. */
START_TEST(test_name_maps)
{
    lt_params *p = lt_params_new();
    net m;
    build_net(&m, p, "backbone");
    lt_name_map add = {"", "backbone."};
    lt_state_dict_options o = {.strict = true, .maps = &add, .n_maps = 1};
    ck_assert_msg(lt_state_dict_load_file(p, FIXTURE_ST, &o, NULL) == 0, "%s", lt_last_error());
    check_output(&m);

    /* Save under "model.*" and load into a plain store with the prefix stripped. */
    char dir[] = "/tmp/lt_sd_XXXXXX";
    ck_assert_ptr_nonnull(mkdtemp(dir));
    char path[64];
    snprintf(path, sizeof path, "%s/model.safetensors", dir);
    lt_params *pm = lt_params_new();
    net mm;
    build_net(&mm, pm, "model");
    ck_assert_int_eq(lt_state_dict_load_file(pm, FIXTURE_ST,
                                             &(lt_state_dict_options){.strict = true,
                                                                      .maps = (lt_name_map[]){{"", "model."}},
                                                                      .n_maps = 1},
                                             NULL), 0);
    ck_assert_msg(lt_state_dict_save(pm, path, NULL, 0, NULL, 0) == 0, "%s", lt_last_error());
    lt_safetensors *f = lt_safetensors_load(path);
    ck_assert_ptr_nonnull(f);
    ck_assert_str_eq(lt_safetensors_at(f, 0)->name, "model.conv1.weight");
    lt_safetensors_free(f);

    lt_params *plain = lt_params_new();
    net mp;
    build_net(&mp, plain, NULL);
    /* First matching rule wins: the second never applies to "model.*". */
    lt_name_map strip[] = {{"model.", ""}, {"model.conv1.", "nowhere."}};
    ck_assert_msg(lt_state_dict_load_file(plain, path, &(lt_state_dict_options){.strict = true, .maps = strip,
                                                                                 .n_maps = 2},
                                          NULL) == 0,
                  "%s", lt_last_error());
    check_output(&mp);
    unlink(path);
    rmdir(dir);
    lt_params_free(plain);
    lt_params_free(pm);
    lt_params_free(p);
}
END_TEST

/* ---- key mismatches ---- */

/* A store without fc, with an extra head: strict fails naming everything,
 * changing nothing; non-strict loads the rest and returns the lists. */
static void build_partial(lt_params *p, net *m)
{
    lt_rng rng;
    lt_rng_seed(&rng, 2);
    ck_assert_int_eq(lt_conv2d_block_init(&m->conv1, p, "conv1", 3, 4,
                                          &(lt_conv2d_options){.kernel = {3, 3}, .padding = {1, 1}}, &rng), 0);
    ck_assert_int_eq(lt_batch_norm2d_block_init(&m->bn1, p, "bn1", 4), 0);
    ck_assert_int_eq(lt_conv2d_block_init(&m->conv2, p, "conv2", 4, 6,
                                          &(lt_conv2d_options){.kernel = {3, 3}, .stride = {2, 2},
                                                               .padding = {1, 1}, .no_bias = true},
                                          &rng), 0);
    ck_assert_int_eq(lt_linear_block_init(&m->fc, p, "head", 6, 5, true, &rng), 0);
    ck_assert_ptr_nonnull(lt_params_add(p, "head", "scale", LT_F32, 1, (int64_t[]){5}, false));
}

START_TEST(test_strict_reports_all_keys)
{
    lt_params *p = lt_params_new();
    net m;
    build_partial(p, &m);
    double before = store_checksum(p);
    lt_state_dict_report rep;
    lt_clear_error();
    ck_assert_int_eq(lt_state_dict_load_file(p, FIXTURE_ST, NULL, &rep), -1);
    assert_error_has(FIXTURE_ST);
    assert_error_has("3 missing keys: head.weight, head.bias, head.scale");
    assert_error_has("2 unexpected keys: fc.weight, fc.bias");
    ck_assert_uint_eq(rep.n_loaded, 0);
    ck_assert_uint_eq(rep.n_missing, 3);
    ck_assert_uint_eq(rep.n_unexpected, 2);
    ck_assert(has_name(rep.missing, rep.n_missing, "head.scale"));
    ck_assert(has_name(rep.unexpected, rep.n_unexpected, "fc.bias"));
    lt_state_dict_report_free(&rep);
    ck_assert(store_checksum(p) == before); /* all or nothing */
    ck_assert_int_eq(i64_item(m.bn1.num_batches_tracked), 0);

    ck_assert_int_eq(lt_state_dict_load_file(p, FIXTURE_ST, &(lt_state_dict_options){.strict = false}, &rep), 0);
    ck_assert_uint_eq(rep.n_loaded, 8);
    ck_assert_uint_eq(rep.n_missing, 3);
    ck_assert_uint_eq(rep.n_unexpected, 2);
    ck_assert_str_eq(rep.missing[0], "head.weight");
    ck_assert_str_eq(rep.unexpected[0], "fc.weight");
    lt_state_dict_report_free(&rep);
    ck_assert_ptr_null(rep.missing);
    ck_assert_int_eq(i64_item(m.bn1.num_batches_tracked), 3);
    ck_assert(store_checksum(p) != before);

    /* Non-strict with a NULL report is fine too. */
    ck_assert_int_eq(lt_state_dict_load_file(p, FIXTURE_ST, &(lt_state_dict_options){0}, NULL), 0);
    lt_params_free(p);
}
END_TEST

/* Many missing keys: the message is cut with a count, the report has them all. */
START_TEST(test_strict_many_keys)
{
    lt_params *p = lt_params_new();
    char name[64];
    for (int i = 0; i < 200; i++) {
        snprintf(name, sizeof name, "layer%d.some_long_parameter_name", i);
        ck_assert_ptr_nonnull(lt_params_add(p, NULL, name, LT_F32, 1, (int64_t[]){1}, true));
    }
    lt_state_dict_report rep;
    ck_assert_int_eq(lt_state_dict_load_file(p, FIXTURE_ST, NULL, &rep), -1);
    assert_error_has("200 missing keys: layer0.some_long_parameter_name, ");
    assert_error_has("more)");
    ck_assert_uint_eq(rep.n_missing, 200);
    ck_assert_uint_eq(rep.n_unexpected, 10);
    ck_assert_str_eq(rep.missing[199], "layer199.some_long_parameter_name");
    lt_state_dict_report_free(&rep);
    lt_params_free(p);
}
END_TEST

/* A scope loads a backbone checkpoint into a model that also has a head. */
START_TEST(test_scope)
{
    lt_params *p = lt_params_new();
    net m;
    build_net(&m, p, "backbone");
    lt_linear_block head;
    lt_rng rng;
    lt_rng_seed(&rng, 3);
    ck_assert_int_eq(lt_linear_block_init(&head, p, "head.fc", 5, 2, true, &rng), 0);
    lt_name_map add = {"", "backbone."};
    lt_state_dict_report rep;
    ck_assert_msg(lt_state_dict_load_file(p, FIXTURE_ST,
                                          &(lt_state_dict_options){.strict = true, .maps = &add, .n_maps = 1,
                                                                   .scope = "backbone."},
                                          &rep) == 0,
                  "%s", lt_last_error());
    ck_assert_uint_eq(rep.n_missing, 0);
    lt_state_dict_report_free(&rep);
    check_output(&m);
    /* Without the scope the head is missing. */
    ck_assert_int_eq(lt_state_dict_load_file(p, FIXTURE_ST,
                                             &(lt_state_dict_options){.strict = true, .maps = &add, .n_maps = 1},
                                             NULL), -1);
    assert_error_has("2 missing keys: head.fc.weight, head.fc.bias");
    /* A file tensor that maps into the store outside the scope is unexpected. */
    lt_name_map into_head = {"fc.", "head.fc."};
    ck_assert_int_eq(lt_state_dict_load_file(p, FIXTURE_ST,
                                             &(lt_state_dict_options){.strict = false, .maps = &into_head,
                                                                      .n_maps = 1, .scope = "backbone."},
                                             &rep), 0);
    ck_assert_uint_eq(rep.n_unexpected, 10);
    ck_assert_uint_eq(rep.n_loaded, 0);
    lt_state_dict_report_free(&rep);
    lt_params_free(p);
}
END_TEST

/* A pre-0.4.1 state dict without num_batches_tracked still loads strictly. */
START_TEST(test_legacy_batch_norm_counter)
{
    char dir[] = "/tmp/lt_sd_XXXXXX";
    ck_assert_ptr_nonnull(mkdtemp(dir));
    char path[64];
    snprintf(path, sizeof path, "%s/legacy.safetensors", dir);
    lt_safetensors *f = lt_safetensors_load(FIXTURE_ST);
    ck_assert_ptr_nonnull(f);
    lt_named_tensor items[16];
    size_t n = 0;
    for (size_t i = 0; i < lt_safetensors_count(f); i++) {
        const lt_tensor *t = lt_safetensors_at(f, i);
        if (strcmp(t->name, "bn1.num_batches_tracked"))
            items[n++] = (lt_named_tensor){(char *)t->name, (lt_tensor *)t};
    }
    ck_assert_int_eq(lt_safetensors_save(path, items, n, NULL, 0), 0);
    lt_params *p = lt_params_new();
    net m;
    build_net(&m, p, NULL);
    ((int64_t *)m.bn1.num_batches_tracked->data)[0] = 5;
    lt_state_dict_report rep;
    ck_assert_msg(lt_state_dict_load_file(p, path, NULL, &rep) == 0, "%s", lt_last_error());
    ck_assert_uint_eq(rep.n_loaded, 9);
    ck_assert_uint_eq(rep.n_missing, 0);
    lt_state_dict_report_free(&rep);
    ck_assert_int_eq(i64_item(m.bn1.num_batches_tracked), 0); /* as PyTorch resets it */
    check_output(&m);

    /* Without running_mean too, the counter is missing like any other key. */
    n = 0;
    for (size_t i = 0; i < lt_safetensors_count(f); i++) {
        const lt_tensor *t = lt_safetensors_at(f, i);
        if (strncmp(t->name, "bn1.num", 7) && strcmp(t->name, "bn1.running_mean"))
            items[n++] = (lt_named_tensor){(char *)t->name, (lt_tensor *)t};
    }
    ck_assert_int_eq(lt_safetensors_save(path, items, n, NULL, 0), 0);
    ck_assert_int_eq(lt_state_dict_load_file(p, path, NULL, NULL), -1);
    assert_error_has("2 missing keys: bn1.running_mean, bn1.num_batches_tracked");
    lt_safetensors_free(f);
    lt_params_free(p);
    unlink(path);
    rmdir(dir);
}
END_TEST

/* ---- shapes and dtypes ---- */

START_TEST(test_shape_mismatch)
{
    lt_params *p = lt_params_new();
    lt_rng rng;
    lt_rng_seed(&rng, 4);
    lt_conv2d_block conv1;
    ck_assert_int_eq(lt_conv2d_block_init(&conv1, p, "conv1", 3, 5,
                                          &(lt_conv2d_options){.kernel = {3, 3}, .padding = {1, 1}}, &rng), 0);
    double before = store_checksum(p);
    /* Even non-strict, as in PyTorch. */
    ck_assert_int_eq(lt_state_dict_load_file(p, FIXTURE_ST, &(lt_state_dict_options){0}, NULL), -1);
    assert_error_has("size mismatch for 'conv1.weight': the file has [4,3,3,3], the model [5,3,3,3]");
    assert_error_has(FIXTURE_ST);
    ck_assert(store_checksum(p) == before);
    /* Mapped names show both. */
    lt_name_map add = {"", "net."};
    lt_params *q = lt_params_new();
    ck_assert_ptr_nonnull(lt_params_add(q, NULL, "net.fc.bias", LT_F32, 1, (int64_t[]){4}, false));
    ck_assert_int_eq(lt_state_dict_load_file(q, FIXTURE_ST, &(lt_state_dict_options){.maps = &add, .n_maps = 1},
                                             NULL), -1);
    assert_error_has("size mismatch for 'net.fc.bias' (in the file 'fc.bias'): the file has [5], the model [4]");
    lt_params_free(q);
    lt_params_free(p);
}
END_TEST

typedef struct dtype_case {
    lt_dtype file_dtype, store_dtype;
    int64_t value;
    bool ok;
    const char *needle;
} dtype_case;

START_TEST(test_dtype_conversion)
{
    char dir[] = "/tmp/lt_sd_XXXXXX";
    ck_assert_ptr_nonnull(mkdtemp(dir));
    char path[64];
    snprintf(path, sizeof path, "%s/d.safetensors", dir);
    static const dtype_case cases[] = {
        {LT_I64, LT_I32, 3, true, NULL},
        {LT_I64, LT_I32, -2147483648LL, true, NULL},
        {LT_I64, LT_I32, 2147483648LL, false, "element 1 = 2147483648 does not fit 'x' (int32) exactly"},
        {LT_I64, LT_U8, 255, true, NULL},
        {LT_I64, LT_U8, -1, false, "does not fit"},
        {LT_I32, LT_I64, -7, true, NULL},
        {LT_U8, LT_I32, 200, true, NULL},
        {LT_I32, LT_F32, 16777216, true, NULL},
        {LT_I64, LT_F32, 16777217, false, "does not fit 'x' (float32) exactly"},
        {LT_F32, LT_I64, 1, false, "float32 does not convert to integers"},
        {LT_F32, LT_F32, -5, true, NULL},
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        const dtype_case *k = &cases[c];
        lt_tensor *src = lt_tensor_new(k->file_dtype, 1, (int64_t[]){2});
        for (int i = 0; i < 2; i++) {
            int64_t v = i ? k->value : 1;
            switch (k->file_dtype) {
            case LT_I64: ((int64_t *)src->data)[i] = v; break;
            case LT_I32: lt_i32(src)[i] = (int32_t)v; break;
            case LT_U8: lt_u8(src)[i] = (uint8_t)v; break;
            default: lt_f32(src)[i] = (float)v; break;
            }
        }
        ck_assert_int_eq(lt_safetensors_save(path, (lt_named_tensor[]){{"x", src}}, 1, NULL, 0), 0);
        lt_params *p = lt_params_new();
        lt_tensor *dst = lt_params_add(p, NULL, "x", k->store_dtype, 1, (int64_t[]){2}, false);
        lt_clear_error();
        int rc = lt_state_dict_load_file(p, path, NULL, NULL);
        if (k->ok) {
            ck_assert_msg(rc == 0, "case %zu: %s", c, lt_last_error());
            int64_t got;
            switch (k->store_dtype) {
            case LT_I64: got = ((int64_t *)dst->data)[1]; break;
            case LT_I32: got = lt_i32(dst)[1]; break;
            case LT_U8: got = lt_u8(dst)[1]; break;
            default: got = (int64_t)lt_f32(dst)[1]; break;
            }
            ck_assert_int_eq(got, k->value);
        } else {
            ck_assert_msg(rc == -1, "case %zu loaded", c);
            assert_error_has(k->needle);
            assert_error_has("'x'");
        }
        lt_params_free(p);
        lt_tensor_free(src);
    }
    unlink(path);
    rmdir(dir);
}
END_TEST

/* ---- saving ---- */

START_TEST(test_save_round_trip)
{
    char dir[] = "/tmp/lt_sd_XXXXXX";
    ck_assert_ptr_nonnull(mkdtemp(dir));
    char path[64];
    snprintf(path, sizeof path, "%s/ckpt.safetensors", dir);
    lt_params *p = lt_params_new();
    net m;
    build_net(&m, p, NULL);
    ck_assert_int_eq(lt_state_dict_load_file(p, FIXTURE_ST, NULL, NULL), 0);
    lt_tensor *momentum = lt_tensor_new(LT_F32, 4, (int64_t[]){4, 3, 3, 3});
    fx_fill_uniform(momentum, 9, -1, 1);
    lt_named_tensor extra[] = {{"optimizer.state.conv1.weight.momentum_buffer", momentum}};
    lt_metadata_entry meta[] = {{"epoch", "7"}, {"config", "model:\n  name: net\n"}};
    ck_assert_msg(lt_state_dict_save(p, path, extra, 1, meta, 2) == 0, "%s", lt_last_error());

    lt_safetensors *f = lt_safetensors_load(path);
    ck_assert_ptr_nonnull(f);
    ck_assert_uint_eq(lt_safetensors_count(f), 11);
    for (size_t i = 0; i < lt_params_count(p); i++)
        ck_assert_str_eq(lt_safetensors_at(f, i)->name, lt_params_at(p, i)->name);
    const lt_tensor *nbt = lt_safetensors_find(f, "bn1.num_batches_tracked");
    ck_assert_int_eq(nbt->dtype, LT_I64);
    ck_assert_int_eq(i64_item(nbt), 3);
    ck_assert_str_eq(lt_safetensors_meta(f, "epoch"), "7");
    ck_assert_int_eq(memcmp(lt_safetensors_at(f, 10)->data, momentum->data, 108 * sizeof(float)), 0);

    /* A fresh model gets the same output from the saved file; the optimizer
     * entry is unexpected for a weights-only store. */
    lt_params *q = lt_params_new();
    net n;
    build_net(&n, q, NULL);
    lt_state_dict_report rep;
    ck_assert_int_eq(lt_state_dict_load(q, f, &(lt_state_dict_options){.strict = false}, &rep), 0);
    ck_assert_uint_eq(rep.n_loaded, 10);
    ck_assert_uint_eq(rep.n_unexpected, 1);
    ck_assert_str_eq(rep.unexpected[0], "optimizer.state.conv1.weight.momentum_buffer");
    lt_state_dict_report_free(&rep);
    check_output(&n);
    ck_assert_int_eq(lt_state_dict_load(q, f, NULL, NULL), -1);
    assert_error_has("1 unexpected key: optimizer.state.conv1.weight.momentum_buffer");

    /* A name clash between the store and the extras is refused, atomically. */
    lt_named_tensor clash[] = {{"fc.bias", momentum}};
    ck_assert_int_eq(lt_state_dict_save(p, path, clash, 1, NULL, 0), -1);
    assert_error_has("duplicate tensor name 'fc.bias'");
    lt_safetensors_free(f);
    f = lt_safetensors_load(path);
    ck_assert_uint_eq(lt_safetensors_count(f), 11);

    lt_safetensors_free(f);
    lt_params_free(q);
    lt_tensor_free(momentum);
    lt_params_free(p);
    unlink(path);
    rmdir(dir);
}
END_TEST

START_TEST(test_bad_arguments)
{
    lt_params *p = lt_params_new();
    ck_assert_int_eq(lt_state_dict_load(p, NULL, NULL, NULL), -1);
    assert_error_has("file is NULL");
    ck_assert_int_eq(lt_state_dict_load_file(p, "/nonexistent/x.safetensors", NULL, NULL), -1);
    assert_error_has("cannot open");
    ck_assert_int_eq(lt_state_dict_save(NULL, "/tmp/x.safetensors", NULL, 0, NULL, 0), -1);
    assert_error_has("parameter store is NULL");
    lt_safetensors *f = lt_safetensors_load(FIXTURE_ST);
    ck_assert_ptr_nonnull(f);
    ck_assert_int_eq(lt_state_dict_load(NULL, f, NULL, NULL), -1);
    ck_assert_int_eq(lt_state_dict_load(p, f, &(lt_state_dict_options){.n_maps = 1}, NULL), -1);
    assert_error_has("maps is NULL");
    /* Two file tensors mapped onto one store tensor. */
    ck_assert_ptr_nonnull(lt_params_add(p, NULL, "b", LT_F32, 1, (int64_t[]){4}, false));
    lt_name_map both[] = {{"conv1.bias", "b"}, {"bn1.bias", "b"}};
    ck_assert_int_eq(lt_state_dict_load(p, f, &(lt_state_dict_options){.maps = both, .n_maps = 2}, NULL), -1);
    assert_error_has("'bn1.bias' maps to 'b', which another tensor of the file also maps to");
    lt_safetensors_free(f);
    lt_params_free(p);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("state_dict");
    TCase *tc = tcase_create("state_dict");
    tcase_add_test(tc, test_pytorch_weights_same_output);
    tcase_add_test(tc, test_name_maps);
    tcase_add_test(tc, test_strict_reports_all_keys);
    tcase_add_test(tc, test_strict_many_keys);
    tcase_add_test(tc, test_scope);
    tcase_add_test(tc, test_legacy_batch_norm_counter);
    tcase_add_test(tc, test_shape_mismatch);
    tcase_add_test(tc, test_dtype_conversion);
    tcase_add_test(tc, test_save_round_trip);
    tcase_add_test(tc, test_bad_arguments);
    suite_add_tcase(s, tc);
    return fx_run_suite(s);
}

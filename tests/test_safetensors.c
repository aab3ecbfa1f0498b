/* safetensors files: round trips of every dtype, byte-exact agreement with
 * the Python-written fixture, every malformed-file error, atomic writes. */
#define _POSIX_C_SOURCE 200809L

#include "fixture.h"

#include <ltrain/safetensors.h>

#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#define FIXTURE LT_SOURCE_ROOT "/tests/fixtures/state_dict_model.safetensors"

/* ---- helpers ---- */

static char tmp_dir[64];

static void make_tmp_dir(void)
{
    snprintf(tmp_dir, sizeof tmp_dir, "/tmp/lt_st_XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(tmp_dir));
}

static void remove_tmp_dir(void)
{
    DIR *d = opendir(tmp_dir);
    if (!d) return;
    struct dirent *e;
    char p[512];
    while ((e = readdir(d)))
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) {
            snprintf(p, sizeof p, "%s/%s", tmp_dir, e->d_name);
            unlink(p);
        }
    closedir(d);
    rmdir(tmp_dir);
}

static const char *tmp_path(const char *name)
{
    static char p[8][256];
    static int next;
    char *s = p[next++ % 8];
    snprintf(s, sizeof p[0], "%s/%s", tmp_dir, name);
    return s;
}

static int count_dir_entries(void)
{
    DIR *d = opendir(tmp_dir);
    ck_assert_ptr_nonnull(d);
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d))) n += strcmp(e->d_name, ".") && strcmp(e->d_name, "..");
    closedir(d);
    return n;
}

static unsigned char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    ck_assert_msg(f != NULL, "cannot open %s", path);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    unsigned char *buf = malloc((size_t)n + 1);
    ck_assert_uint_eq(fread(buf, 1, (size_t)n, f), (size_t)n);
    fclose(f);
    *len = (size_t)n;
    return buf;
}

static void spit(const char *path, const void *buf, size_t len)
{
    FILE *f = fopen(path, "wb");
    ck_assert_ptr_nonnull(f);
    ck_assert_uint_eq(fwrite(buf, 1, len, f), len);
    fclose(f);
}

static void assert_error_has(const char *what, const char *needle)
{
    ck_assert_msg(strstr(lt_last_error(), needle) != NULL, "%s: error \"%s\" lacks \"%s\"", what, lt_last_error(),
                  needle);
}

static lt_tensor *filled(lt_dtype dtype, int ndim, const int64_t *shape, int seed)
{
    lt_tensor *t = lt_tensor_new(dtype, ndim, shape);
    ck_assert_ptr_nonnull(t);
    for (int64_t i = 0; i < t->numel; i++) {
        int64_t v = (i * 7919 + seed * 31) % 251 - 100;
        switch (dtype) {
        case LT_F32: lt_f32(t)[i] = (float)v * 0.37f; break;
        case LT_I32: lt_i32(t)[i] = (int32_t)v * 100003; break;
        case LT_U8: lt_u8(t)[i] = (uint8_t)(v + 100); break;
        default: ((int64_t *)t->data)[i] = v * 4000000000LL; break;
        }
    }
    return t;
}

static void assert_same_tensor(const lt_tensor *a, const lt_tensor *b)
{
    ck_assert_int_eq(a->dtype, b->dtype);
    ck_assert_msg(lt_same_shape(a, b), "shape mismatch for %s", a->name ? a->name : "?");
    ck_assert_int_eq(a->numel, b->numel);
    size_t n = (size_t)a->numel * lt_dtype_size(a->dtype);
    ck_assert_msg(!n || !memcmp(a->data, b->data, n), "data mismatch for %s", a->name ? a->name : "?");
}

/* ---- round trips ---- */

START_TEST(test_round_trip_all_dtypes)
{
    /* U8 [5] before I64 puts the I64 data at an odd offset: the reader must
     * still hand out aligned data. */
    lt_tensor *ts[] = {
        filled(LT_F32, 2, (int64_t[]){2, 3}, 1), filled(LT_U8, 1, (int64_t[]){5}, 2),
        filled(LT_I64, 0, NULL, 3),              filled(LT_I32, 3, (int64_t[]){2, 1, 3}, 4),
        filled(LT_F32, 2, (int64_t[]){0, 3}, 5), filled(LT_I64, 1, (int64_t[]){3}, 6),
    };
    enum { N = sizeof ts / sizeof ts[0] };
    const char *names[N] = {"z.weight", "mask", "bn.num_batches_tracked", "labels", "empty", "a.b.c"};
    lt_named_tensor items[N];
    for (int i = 0; i < N; i++) items[i] = (lt_named_tensor){(char *)names[i], ts[i]};
    const char *yaml = "model:\n  name: demo\n  nodes:\n    - name: ResNet # \"quoted\" \\ \xc3\xa9\n";
    lt_metadata_entry meta[] = {{"epoch", "12"}, {"config", yaml}, {"empty", ""}};
    const char *path = tmp_path("rt.safetensors");
    ck_assert_msg(lt_safetensors_save(path, items, N, meta, 3) == 0, "%s", lt_last_error());
    ck_assert_int_eq(count_dir_entries(), 1); /* no temporary file left behind */

    lt_safetensors *f = lt_safetensors_load(path);
    ck_assert_msg(f != NULL, "%s", lt_last_error());
    ck_assert_str_eq(lt_safetensors_path(f), path);
    ck_assert_uint_eq(lt_safetensors_count(f), N);
    for (int i = 0; i < N; i++) {
        const lt_tensor *t = lt_safetensors_at(f, (size_t)i);
        ck_assert_str_eq(t->name, names[i]); /* header order is kept */
        ck_assert(t->flags & LT_VIEW);
        ck_assert_uint_eq((uintptr_t)t->data % lt_dtype_size(t->dtype), 0);
        assert_same_tensor(t, ts[i]);
        ck_assert_ptr_eq(lt_safetensors_find(f, names[i]), t);
    }
    ck_assert_ptr_null(lt_safetensors_at(f, N));
    ck_assert_ptr_null(lt_safetensors_find(f, "nope"));
    ck_assert_int_eq(lt_safetensors_at(f, 2)->ndim, 0);
    ck_assert_int_eq(lt_safetensors_at(f, 2)->numel, 1);
    ck_assert_uint_eq(lt_safetensors_meta_count(f), 3);
    for (int i = 0; i < 3; i++) {
        ck_assert_str_eq(lt_safetensors_meta_at(f, (size_t)i).key, meta[i].key);
        ck_assert_str_eq(lt_safetensors_meta_at(f, (size_t)i).value, meta[i].value);
    }
    ck_assert_str_eq(lt_safetensors_meta(f, "config"), yaml);
    ck_assert_ptr_null(lt_safetensors_meta(f, "missing"));
    lt_tensor *owned = lt_tensor_clone_owned(lt_safetensors_at(f, 0));
    lt_safetensors_free(f);
    assert_same_tensor(owned, ts[0]); /* a clone outlives the handle */
    lt_tensor_free(owned);

    /* Overwriting an existing file replaces it. */
    ck_assert_int_eq(lt_safetensors_save(path, items, 1, NULL, 0), 0);
    f = lt_safetensors_load(path);
    ck_assert_ptr_nonnull(f);
    ck_assert_uint_eq(lt_safetensors_count(f), 1);
    ck_assert_uint_eq(lt_safetensors_meta_count(f), 0);
    lt_safetensors_free(f);

    /* No tensors at all is a valid file too. */
    ck_assert_int_eq(lt_safetensors_save(path, NULL, 0, meta, 1), 0);
    f = lt_safetensors_load(path);
    ck_assert_ptr_nonnull(f);
    ck_assert_uint_eq(lt_safetensors_count(f), 0);
    ck_assert_str_eq(lt_safetensors_meta(f, "epoch"), "12");
    lt_safetensors_free(f);
    for (int i = 0; i < N; i++) lt_tensor_free(ts[i]);
}
END_TEST

/* The layout is the format's: 8-byte LE length, a JSON header padded with
 * spaces to 8 bytes, data packed in order. */
START_TEST(test_layout)
{
    lt_tensor *a = filled(LT_F32, 1, (int64_t[]){3}, 1), *b = filled(LT_U8, 1, (int64_t[]){3}, 2);
    lt_named_tensor items[] = {{"a", a}, {"b", b}};
    const char *path = tmp_path("layout.safetensors");
    ck_assert_int_eq(lt_safetensors_save(path, items, 2, (lt_metadata_entry[]){{"k", "v"}}, 1), 0);
    size_t len;
    unsigned char *buf = slurp(path, &len);
    uint64_t n = 0;
    for (int i = 0; i < 8; i++) n |= (uint64_t)buf[i] << (8 * i);
    ck_assert_uint_eq(n % 8, 0);
    ck_assert_uint_eq(len, 8 + n + 12 + 3);
    const char *expect = "{\"__metadata__\":{\"k\":\"v\"},"
                         "\"a\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[0,12]},"
                         "\"b\":{\"dtype\":\"U8\",\"shape\":[3],\"data_offsets\":[12,15]}}";
    ck_assert_uint_ge(n, strlen(expect));
    ck_assert_int_eq(memcmp(buf + 8, expect, strlen(expect)), 0);
    for (size_t i = 8 + strlen(expect); i < 8 + n; i++) ck_assert_int_eq(buf[i], ' ');
    ck_assert_int_eq(memcmp(buf + 8 + n, a->data, 12), 0);
    ck_assert_int_eq(memcmp(buf + 8 + n + 12, b->data, 3), 0);
    free(buf);
    lt_tensor_free(a);
    lt_tensor_free(b);
}
END_TEST

/* Re-saving the Python-written fixture gives the same bytes: the writers agree. */
START_TEST(test_python_file_byte_exact)
{
    lt_safetensors *f = lt_safetensors_load(FIXTURE);
    ck_assert_msg(f != NULL, "%s", lt_last_error());
    size_t n = lt_safetensors_count(f);
    ck_assert_uint_eq(n, 10);
    lt_named_tensor *items = calloc(n, sizeof *items);
    for (size_t i = 0; i < n; i++) {
        const lt_tensor *t = lt_safetensors_at(f, i);
        items[i] = (lt_named_tensor){(char *)t->name, (lt_tensor *)t};
    }
    lt_metadata_entry meta[2];
    ck_assert_uint_eq(lt_safetensors_meta_count(f), 2);
    for (size_t i = 0; i < 2; i++) meta[i] = lt_safetensors_meta_at(f, i);
    const char *path = tmp_path("resaved.safetensors");
    ck_assert_msg(lt_safetensors_save(path, items, n, meta, 2) == 0, "%s", lt_last_error());
    size_t la, lb;
    unsigned char *a = slurp(FIXTURE, &la), *b = slurp(path, &lb);
    ck_assert_uint_eq(la, lb);
    ck_assert_int_eq(memcmp(a, b, la), 0);
    free(a);
    free(b);
    free(items);
    lt_safetensors_free(f);
}
END_TEST

/* ---- malformed files ---- */

/* Writes length + header (padded to 8 with spaces) + data_len bytes of data. */
static const char *write_raw(const char *name, const char *header, size_t data_len)
{
    size_t h = strlen(header), padded = (h + 7) / 8 * 8;
    size_t total = 8 + padded + data_len;
    unsigned char *buf = calloc(1, total);
    for (int i = 0; i < 8; i++) buf[i] = (unsigned char)((uint64_t)padded >> (8 * i));
    memcpy(buf + 8, header, h);
    memset(buf + 8 + h, ' ', padded - h);
    const char *path = tmp_path(name);
    spit(path, buf, total);
    free(buf);
    return path;
}

static void expect_load_error(const char *path, const char *needle1, const char *needle2)
{
    lt_clear_error();
    lt_safetensors *f = lt_safetensors_load(path);
    ck_assert_msg(f == NULL, "%s loaded but should fail with \"%s\"", path, needle1);
    assert_error_has(path, path); /* every error names the file */
    assert_error_has(path, needle1);
    if (needle2) assert_error_has(path, needle2);
}

typedef struct bad_header {
    const char *header;
    size_t data_len;
    const char *needle1, *needle2;
} bad_header;

START_TEST(test_malformed_headers)
{
#define T(dtype, shape, b, e) "{\"dtype\":\"" dtype "\",\"shape\":" shape ",\"data_offsets\":[" #b "," #e "]}"
    static const bad_header cases[] = {
        {"{bad json", 0, "not valid JSON", NULL},
        {"{\"a\":" T("F32", "[2]", 0, 8) "} trailing", 8, "not valid JSON", NULL},
        {"[1,2]", 0, "does not start with '{'", NULL},
        {"{\"a\":" T("F32", "[2]", 0, 8) ",\"a\":" T("F32", "[2]", 8, 16) "}", 16, "duplicate tensor name", "\"a\""},
        {"{\"w\":" T("F17", "[2]", 0, 8) "}", 8, "unknown dtype \"F17\"", "'w'"},
        {"{\"h\":" T("F16", "[2]", 0, 4) "}", 4, "dtype F16 is not supported", "'h'"},
        {"{\"w\":{\"dtype\":3,\"shape\":[2],\"data_offsets\":[0,8]}}", 8, "\"dtype\" must be a string", "'w'"},
        {"{\"w\":" T("F32", "[2]", 0, 12) "}", 8, "run past the data section", "'w'"},
        {"{\"w\":" T("F32", "[2]", 8, 0) "}", 8, "end before they begin", "'w'"},
        {"{\"w\":" T("F32", "[2]", 0, 8) ",\"v\":" T("F32", "[2]", 4, 12) "}", 12, "overlap", "'v'"},
        {"{\"w\":" T("F32", "[1]", 0, 4) ",\"v\":" T("F32", "[1]", 8, 12) "}", 12, "belong to no tensor", "'v'"},
        {"{\"w\":" T("F32", "[2]", 0, 8) "}", 12, "[8,12) at the end of the data section", NULL},
        {"{\"w\":" T("F32", "[2,3]", 0, 8) "}", 8, "hold 8 bytes but F32 [2,3] needs 24", "'w'"},
        {"{\"w\":" T("I64", "[]", 0, 4) "}", 4, "hold 4 bytes but I64 [] needs 8", "'w'"},
        {"{\"w\":" T("U8", "[4294967296,4294967296,4294967296]", 0, 8) "}", 8, "needs more than", "'w'"},
        {"{\"w\":" T("F32", "[-2]", 0, 8) "}", 8, "shape dimension 0 is not a non-negative integer", "'w'"},
        {"{\"w\":" T("F32", "[1,1,1,1,1,1,1,1,1]", 0, 4) "}", 4, "9 dimensions", "'w'"},
        {"{\"w\":" T("F32", "2", 0, 8) "}", 8, "\"shape\" must be an array", "'w'"},
        {"{\"w\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0]}}", 8, "must be [begin, end]", "'w'"},
        {"{\"w\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[-8,0]}}", 8, "must be [begin, end]", "'w'"},
        {"{\"w\":{\"dtype\":\"F32\",\"shape\":[2]}}", 8, "missing \"data_offsets\"", "'w'"},
        {"{\"w\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8],\"x\":1}}", 8, "unknown field \"x\"", "'w'"},
        {"{\"w\":[1,2]}", 8, "entry must be an object", "'w'"},
        {"{\"__metadata__\":[1]}", 0, "\"__metadata__\" must be an object", NULL},
        {"{\"__metadata__\":{\"epoch\":3}}", 0, "value of 'epoch' is not a string", NULL},
    };
#undef T
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char name[32];
        snprintf(name, sizeof name, "bad%zu.safetensors", i);
        const char *path = write_raw(name, cases[i].header, cases[i].data_len);
        expect_load_error(path, cases[i].needle1, cases[i].needle2);
    }
}
END_TEST

START_TEST(test_truncated_files)
{
    size_t len;
    unsigned char *good = slurp(FIXTURE, &len);
    const char *path = tmp_path("cut.safetensors");
    spit(path, good, 0);
    expect_load_error(path, "0 bytes, too short", NULL);
    spit(path, good, 5);
    expect_load_error(path, "5 bytes, too short", NULL);
    spit(path, good, 8);
    expect_load_error(path, "runs past the end of the file", NULL);
    spit(path, good, 100); /* cut inside the header */
    expect_load_error(path, "runs past the end of the file (100 bytes", NULL);
    spit(path, good, len - 4); /* cut inside the data: the last tensor runs past it */
    expect_load_error(path, "run past the data section", "'fc.bias'");

    /* A header length beyond any file, and beyond the header limit. */
    unsigned char *bad = malloc(len);
    memcpy(bad, good, len);
    memset(bad, 0xff, 8);
    spit(path, bad, len);
    expect_load_error(path, "header length 18446744073709551615 runs past the end", NULL);
    /* Zero-length header. */
    memset(bad, 0, 8);
    spit(path, bad, len);
    expect_load_error(path, "does not start with '{'", NULL);
    free(bad);
    free(good);

    expect_load_error(tmp_path("does-not-exist.safetensors"), "cannot open", "No such file");
    expect_load_error(tmp_dir, "not a regular file", NULL);
    lt_clear_error();
    ck_assert_ptr_null(lt_safetensors_load(NULL));
    assert_error_has("NULL path", "path is NULL");
}
END_TEST

/* ---- writer errors and atomicity ---- */

static const char *dest_text = "previous checkpoint";

static void make_dest(const char *path) { spit(path, dest_text, strlen(dest_text)); }

static void assert_dest_untouched(const char *path)
{
    size_t len;
    unsigned char *buf = slurp(path, &len);
    ck_assert_uint_eq(len, strlen(dest_text));
    ck_assert_int_eq(memcmp(buf, dest_text, len), 0);
    free(buf);
    ck_assert_int_eq(count_dir_entries(), 1); /* and no temporary file remains */
}

START_TEST(test_invalid_input_leaves_destination)
{
    const char *path = tmp_path("ckpt.safetensors");
    make_dest(path);
    lt_tensor *a = filled(LT_F32, 1, (int64_t[]){3}, 1);
    lt_tensor broken = *a;
    broken.data = NULL;
    lt_tensor bad_dtype = *a;
    bad_dtype.dtype = LT_DTYPE_COUNT;
    struct {
        lt_named_tensor items[2];
        size_t n;
        lt_metadata_entry meta[2];
        size_t n_meta;
        const char *needle;
    } cases[] = {
        {{{"a", a}, {"a", a}}, 2, {{0}}, 0, "duplicate tensor name 'a'"},
        {{{"a", a}, {"b", NULL}}, 2, {{0}}, 0, "tensor 'b' is NULL"},
        {{{"a", a}, {"b", &broken}}, 2, {{0}}, 0, "tensor 'b' [3] has no data"},
        {{{"a", a}, {"b", &bad_dtype}}, 2, {{0}}, 0, "tensor 'b': dtype 4 is not one of"},
        {{{"__metadata__", a}}, 1, {{0}}, 0, "reserved"},
        {{{"", a}}, 1, {{0}}, 0, "empty name"},
        {{{NULL, a}}, 1, {{0}}, 0, "NULL name"},
        {{{"a", a}}, 1, {{"k", "1"}, {"k", "2"}}, 2, "duplicate metadata key 'k'"},
        {{{"a", a}}, 1, {{"k", NULL}}, 1, "metadata 'k' has a NULL value"},
        {{{"a", a}}, 1, {{"k", "\xff\xfe"}}, 1, "not valid UTF-8"},
        {{{"\xff", a}}, 1, {{0}}, 0, "not valid UTF-8"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        lt_clear_error();
        ck_assert_int_eq(lt_safetensors_save(path, cases[i].items, cases[i].n, cases[i].meta, cases[i].n_meta), -1);
        assert_error_has("save", cases[i].needle);
        assert_error_has("save", path);
        assert_dest_untouched(path);
    }
    lt_clear_error();
    ck_assert_int_eq(lt_safetensors_save(tmp_path("no/such/dir/x.safetensors"), cases[0].items, 1, NULL, 0), -1);
    assert_error_has("missing dir", "cannot create a temporary file");
    assert_dest_untouched(path);
    lt_tensor_free(a);
}
END_TEST

/* A write that fails half way (file size limit: EFBIG) leaves the old file. */
START_TEST(test_failed_write_leaves_destination)
{
    const char *path = tmp_path("ckpt.safetensors");
    make_dest(path);
    lt_tensor *big = filled(LT_F32, 1, (int64_t[]){100000}, 1);
    lt_named_tensor items[] = {{"big", big}};
    struct rlimit old;
    ck_assert_int_eq(getrlimit(RLIMIT_FSIZE, &old), 0);
    void (*old_handler)(int) = signal(SIGXFSZ, SIG_IGN);
    struct rlimit lim = {.rlim_cur = 4096, .rlim_max = old.rlim_max};
    ck_assert_int_eq(setrlimit(RLIMIT_FSIZE, &lim), 0);
    lt_clear_error();
    int rc = lt_safetensors_save(path, items, 1, NULL, 0);
    setrlimit(RLIMIT_FSIZE, &old);
    signal(SIGXFSZ, old_handler);
    ck_assert_int_eq(rc, -1);
    assert_error_has("EFBIG", "write of temporary file");
    assert_error_has("EFBIG", "the destination is unchanged");
    assert_dest_untouched(path);
    /* The same save succeeds without the limit. */
    ck_assert_int_eq(lt_safetensors_save(path, items, 1, NULL, 0), 0);
    lt_safetensors *f = lt_safetensors_load(path);
    ck_assert_ptr_nonnull(f);
    assert_same_tensor(lt_safetensors_at(f, 0), big);
    lt_safetensors_free(f);
    lt_tensor_free(big);
}
END_TEST

/* A read-only directory: nothing can be created (skipped as root, whom
 * permissions do not stop; the EFBIG test covers the mid-write case). */
START_TEST(test_read_only_directory)
{
    if (geteuid() == 0) return;
    const char *path = tmp_path("ckpt.safetensors");
    make_dest(path);
    ck_assert_int_eq(chmod(tmp_dir, 0555), 0);
    lt_tensor *a = filled(LT_F32, 1, (int64_t[]){3}, 1);
    lt_clear_error();
    int rc = lt_safetensors_save(path, (lt_named_tensor[]){{"a", a}}, 1, NULL, 0);
    chmod(tmp_dir, 0755);
    ck_assert_int_eq(rc, -1);
    assert_error_has("read-only", "Permission denied");
    assert_dest_untouched(path);
    lt_tensor_free(a);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("safetensors");
    TCase *tc = tcase_create("safetensors");
    /* A fresh directory per test, removed even when the test fails. */
    tcase_add_checked_fixture(tc, make_tmp_dir, remove_tmp_dir);
    tcase_add_test(tc, test_round_trip_all_dtypes);
    tcase_add_test(tc, test_layout);
    tcase_add_test(tc, test_python_file_byte_exact);
    tcase_add_test(tc, test_malformed_headers);
    tcase_add_test(tc, test_truncated_files);
    tcase_add_test(tc, test_invalid_input_leaves_destination);
    tcase_add_test(tc, test_failed_write_leaves_destination);
    tcase_add_test(tc, test_read_only_directory);
    suite_add_tcase(s, tc);
    return fx_run_suite(s);
}

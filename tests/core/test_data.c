/* Data: PNG/JPEG decoding of every colour type (files written here with
 * libpng/libjpeg), corrupt files, clsdir layouts and their errors, the
 * generated dataset's determinism and labels, each augmentation's exact
 * geometry on tiny images with the labels following, preprocessing config
 * errors, and the batcher's order and bits with 0, 1 and 3 workers. */
#define _POSIX_C_SOURCE 200809L
#include "fixture.h"
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jpeglib.h>
#include <png.h>

#include "data/data.h"

static char tmp_root[256];

static void make_tmp_root(void)
{
    snprintf(tmp_root, sizeof tmp_root, "/tmp/lt_test_data_XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(tmp_root));
}

static void remove_tree(void)
{
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmp_root);
    ck_assert_int_eq(system(cmd), 0);
}

static const char *tmp_path(const char *rel)
{
    static char buf[4][512];
    static int k;
    k = (k + 1) % 4;
    snprintf(buf[k], sizeof buf[k], "%s/%s", tmp_root, rel);
    return buf[k];
}

static void make_dirs(const char *rel)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s", tmp_root, rel);
    for (char *p = path + strlen(tmp_root) + 1; *p; p++)
        if (*p == '/') {
            *p = 0;
            mkdir(path, 0755);
            *p = '/';
        }
    mkdir(path, 0755);
}

static void assert_error_contains(const char *want)
{
    ck_assert_msg(strstr(lt_last_error(), want), "error '%s' lacks '%s'", lt_last_error(), want);
}

/* ---- writing test files ---- */

/* A PNG of w x h with `channels` samples per pixel of `depth` bits, sample
 * (x, y, c) = f(x, y, c) scaled to the depth; palette images use the
 * 4-entry palette below with index (x + y) % 4. */
static const png_color palette[4] = {{255, 0, 0}, {0, 255, 0}, {0, 0, 255}, {10, 20, 30}};

static int sample_value(int x, int y, int c)
{
    return (x * 40 + y * 70 + c * 90) % 256;
}

static void write_png(const char *path, int color_type, int depth, int w, int h)
{
    FILE *f = fopen(path, "wb");
    ck_assert_ptr_nonnull(f);
    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
    png_infop info = png_create_info_struct(png);
    ck_assert(!setjmp(png_jmpbuf(png)));
    png_init_io(png, f);
    png_set_IHDR(png, info, (png_uint_32)w, (png_uint_32)h, depth, color_type, PNG_INTERLACE_NONE,
                 PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    if (color_type == PNG_COLOR_TYPE_PALETTE) png_set_PLTE(png, info, palette, 4);
    png_write_info(png, info);
    int channels = png_get_channels(png, info);
    uint8_t row[1024];
    for (int y = 0; y < h; y++) {
        for (int x = 0; x < w; x++)
            for (int c = 0; c < channels; c++) {
                int v = color_type == PNG_COLOR_TYPE_PALETTE ? (x + y) % 4 : sample_value(x, y, c);
                if (depth == 16) {
                    row[(x * channels + c) * 2] = (uint8_t)v, row[(x * channels + c) * 2 + 1] = (uint8_t)v;
                } else {
                    row[x * channels + c] = (uint8_t)v;
                }
            }
        png_write_row(png, row);
    }
    png_write_end(png, NULL);
    png_destroy_write_struct(&png, &info);
    fclose(f);
}

static void write_jpeg(const char *path, J_COLOR_SPACE space, int comps, int w, int h, const uint8_t *px)
{
    struct jpeg_compress_struct cinfo;
    struct jpeg_error_mgr err;
    cinfo.err = jpeg_std_error(&err);
    jpeg_create_compress(&cinfo);
    FILE *f = fopen(path, "wb");
    ck_assert_ptr_nonnull(f);
    jpeg_stdio_dest(&cinfo, f);
    cinfo.image_width = (JDIMENSION)w, cinfo.image_height = (JDIMENSION)h;
    cinfo.input_components = comps, cinfo.in_color_space = space;
    jpeg_set_defaults(&cinfo);
    jpeg_set_quality(&cinfo, 100, TRUE);
    jpeg_start_compress(&cinfo, TRUE);
    for (int y = 0; y < h; y++) {
        JSAMPROW row = (JSAMPROW)(px + (size_t)y * w * comps);
        jpeg_write_scanlines(&cinfo, &row, 1);
    }
    jpeg_finish_compress(&cinfo);
    jpeg_destroy_compress(&cinfo);
    fclose(f);
}

static void truncate_copy(const char *src, const char *dst, double keep)
{
    FILE *f = fopen(src, "rb");
    ck_assert_ptr_nonnull(f);
    uint8_t buf[1 << 16];
    size_t n = fread(buf, 1, sizeof buf, f);
    fclose(f);
    f = fopen(dst, "wb");
    fwrite(buf, 1, keep < 1 ? (size_t)(n * keep) : (size_t)keep, f); /* a fraction or a byte count */
    fclose(f);
}

static void write_text(const char *path, const char *text)
{
    FILE *f = fopen(path, "wb");
    ck_assert_ptr_nonnull(f);
    fputs(text, f);
    fclose(f);
}

/* ---- decoding ---- */

START_TEST(test_png_variants)
{
    make_tmp_root();
    enum { W = 5, H = 3 };
    static const struct {
        int type, depth;
        const char *name;
    } cases[] = {
        {PNG_COLOR_TYPE_GRAY, 8, "gray"},          {PNG_COLOR_TYPE_GRAY_ALPHA, 8, "gray_alpha"},
        {PNG_COLOR_TYPE_RGB, 8, "rgb"},            {PNG_COLOR_TYPE_RGB_ALPHA, 8, "rgba"},
        {PNG_COLOR_TYPE_PALETTE, 8, "palette"},    {PNG_COLOR_TYPE_RGB, 16, "rgb16"},
        {PNG_COLOR_TYPE_GRAY, 16, "gray16"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const char *path = tmp_path(cases[i].name);
        write_png(path, cases[i].type, cases[i].depth, W, H);
        lt_image im;
        ck_assert_msg(lt_image_load(path, &im) == 0, "%s: %s", cases[i].name, lt_last_error());
        ck_assert_int_eq(im.h, H);
        ck_assert_int_eq(im.w, W);
        ck_assert_int_eq(im.c, 3);
        bool gray = !(cases[i].type & PNG_COLOR_MASK_COLOR);
        for (int y = 0; y < H; y++)
            for (int x = 0; x < W; x++)
                for (int c = 0; c < 3; c++) {
                    int want = cases[i].type == PNG_COLOR_TYPE_PALETTE
                                   ? ((const uint8_t *)&palette[(x + y) % 4])[c]
                                   : sample_value(x, y, gray ? 0 : c);
                    ck_assert_msg(im.px[(y * W + x) * 3 + c] == want, "%s (%d,%d,%d): %d != %d", cases[i].name, x,
                                  y, c, im.px[(y * W + x) * 3 + c], want);
                }
        lt_image_free(&im);
    }
    remove_tree();
}
END_TEST

START_TEST(test_jpeg_variants)
{
    make_tmp_root();
    enum { W = 16, H = 8 };
    uint8_t rgb[W * H * 3], gray[W * H], cmyk[W * H * 4];
    for (int i = 0; i < W * H; i++) {
        for (int c = 0; c < 3; c++) rgb[i * 3 + c] = (uint8_t)(c == 0 ? 200 : c == 1 ? 100 : 30);
        gray[i] = (uint8_t)(i % W * 16);
        cmyk[i * 4] = 0, cmyk[i * 4 + 1] = 255, cmyk[i * 4 + 2] = 255, cmyk[i * 4 + 3] = 128;
    }
    write_jpeg(tmp_path("rgb.jpg"), JCS_RGB, 3, W, H, rgb);
    write_jpeg(tmp_path("gray.jpg"), JCS_GRAYSCALE, 1, W, H, gray);
    write_jpeg(tmp_path("cmyk.jpg"), JCS_CMYK, 4, W, H, cmyk);
    lt_image im;
    ck_assert_msg(lt_image_load(tmp_path("rgb.jpg"), &im) == 0, "%s", lt_last_error());
    ck_assert_int_eq(im.w, W);
    ck_assert_int_eq(im.h, H);
    for (int i = 0; i < W * H * 3; i++) ck_assert_int_le(abs(im.px[i] - rgb[i]), 3);
    lt_image_free(&im);
    ck_assert_msg(lt_image_load(tmp_path("gray.jpg"), &im) == 0, "%s", lt_last_error());
    for (int i = 0; i < W * H; i++)
        for (int c = 0; c < 3; c++) ck_assert_int_le(abs(im.px[i * 3 + c] - gray[i]), 3);
    lt_image_free(&im);
    /* libjpeg tags CMYK files with the Adobe marker, whose convention (as
     * Photoshop and PIL read it) stores inverted inks: stored C=0 is full
     * cyan, M=Y=255 no ink, K=128 half black -> R = 0, G = B = 128. */
    ck_assert_msg(lt_image_load(tmp_path("cmyk.jpg"), &im) == 0, "%s", lt_last_error());
    for (int i = 0; i < W * H; i++) {
        ck_assert_int_le(im.px[i * 3], 3);
        ck_assert_int_le(abs(im.px[i * 3 + 1] - 128), 3);
        ck_assert_int_le(abs(im.px[i * 3 + 2] - 128), 3);
    }
    lt_image_free(&im);
    remove_tree();
}
END_TEST

START_TEST(test_corrupt_files)
{
    make_tmp_root();
    uint8_t rgb[32 * 32 * 3];
    for (size_t i = 0; i < sizeof rgb; i++) rgb[i] = (uint8_t)(i * 7);
    write_jpeg(tmp_path("ok.jpg"), JCS_RGB, 3, 32, 32, rgb);
    write_png(tmp_path("ok.png"), PNG_COLOR_TYPE_RGB, 8, 32, 32);
    truncate_copy(tmp_path("ok.jpg"), tmp_path("cut.jpg"), 0.5);
    truncate_copy(tmp_path("ok.png"), tmp_path("cut.png"), 0.5);
    truncate_copy(tmp_path("ok.png"), tmp_path("head.png"), 20);
    write_text(tmp_path("text.png"), "this is not an image");
    write_text(tmp_path("empty.jpg"), "");
    static const struct {
        const char *file, *reason;
    } cases[] = {
        {"cut.jpg", "corrupt JPEG"},       {"cut.png", "corrupt PNG"}, {"head.png", "corrupt PNG"},
        {"text.png", "unknown signature"}, {"empty.jpg", "empty file"}, {"missing.png", "cannot open"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        lt_image im;
        const char *path = tmp_path(cases[i].file);
        ck_assert_int_eq(lt_image_load(path, &im), -1);
        ck_assert_ptr_null(im.px);
        assert_error_contains(path);
        assert_error_contains(cases[i].reason);
    }
    /* A bit flip in a PNG's data fails its CRC check with libpng's reason. */
    FILE *f = fopen(tmp_path("ok.png"), "r+b");
    fseek(f, 40, SEEK_SET);
    fputc(0x55, f);
    fclose(f);
    lt_image im;
    ck_assert_int_eq(lt_image_load(tmp_path("ok.png"), &im), -1);
    assert_error_contains("corrupt PNG");
    remove_tree();
}
END_TEST

START_TEST(test_png_roundtrip)
{
    make_tmp_root();
    for (int c = 1; c <= 4; c++) {
        uint8_t px[7 * 5 * 4];
        for (int i = 0; i < 7 * 5 * c; i++) px[i] = (uint8_t)(i * 13);
        const char *path = tmp_path("out.png");
        if (c == 2) {
            ck_assert_int_eq(lt_image_save_png(path, px, 5, 7, c), -1);
            continue;
        }
        ck_assert_msg(lt_image_save_png(path, px, 5, 7, c) == 0, "%s", lt_last_error());
        lt_image im;
        ck_assert_int_eq(lt_image_load(path, &im), 0);
        for (int i = 0; i < 7 * 5; i++)
            for (int k = 0; k < 3; k++) ck_assert_int_eq(im.px[i * 3 + k], px[i * c + (c == 1 ? 0 : k)]);
        lt_image_free(&im);
    }
    ck_assert_int_eq(lt_image_save_png("/nonexistent-dir/x.png", (uint8_t[3]){0}, 1, 1, 3), -1);
    assert_error_contains("/nonexistent-dir/x.png.tmp");
    remove_tree();
}
END_TEST

/* ---- clsdir ---- */

static void put_png(const char *rel)
{
    write_png(tmp_path(rel), PNG_COLOR_TYPE_RGB, 8, 6, 4);
}

START_TEST(test_clsdir_layout)
{
    make_tmp_root();
    make_dirs("ds/train/dog");
    make_dirs("ds/train/cat");
    make_dirs("ds/valid/cat");
    make_dirs("ds/valid/dog");
    put_png("ds/train/dog/b.png");
    put_png("ds/train/dog/a.PNG");
    put_png("ds/train/cat/z.png");
    uint8_t rgb[8 * 8 * 3] = {0};
    write_jpeg(tmp_path("ds/train/cat/y.jpeg"), JCS_RGB, 3, 8, 8, rgb);
    write_text(tmp_path("ds/train/cat/notes.txt"), "ignored");
    put_png("ds/valid/cat/1.png");
    put_png("ds/valid/dog/1.png");
    lt_dataset *ds = lt_clsdir_open(tmp_path("ds"), "train", NULL);
    ck_assert_msg(ds != NULL, "%s", lt_last_error());
    ck_assert_int_eq(ds->n, 4);
    ck_assert_int_eq(ds->n_classes, 2);
    ck_assert_str_eq(ds->class_names[0], "cat");
    ck_assert_str_eq(ds->class_names[1], "dog");
    ck_assert_int_eq(ds->class_counts[0], 2);
    ck_assert_int_eq(ds->class_counts[1], 2);
    /* Sorted: cat/y.jpeg, cat/z.png, dog/a.PNG, dog/b.png. */
    ck_assert(strstr(ds->path(ds, 0), "cat/y.jpeg"));
    ck_assert(strstr(ds->path(ds, 2), "dog/a.PNG"));
    lt_sample s;
    ck_assert_int_eq(ds->get(ds, 3, &s), 0);
    ck_assert_int_eq(s.cls, 1);
    ck_assert_int_eq(s.image.w, 6);
    ck_assert_int_eq(s.image.h, 4);
    ck_assert(!s.has_box && !s.mask);
    lt_sample_free(&s);
    ck_assert_int_eq(ds->get(ds, 4, &s), -1);
    lt_dataset_free(ds);
    /* "val" finds valid/. */
    ds = lt_clsdir_open(tmp_path("ds"), "val", NULL);
    ck_assert_msg(ds != NULL, "%s", lt_last_error());
    ck_assert_int_eq(ds->n, 2);
    lt_dataset_free(ds);
    /* Missing split lists what exists. */
    ck_assert_ptr_null(lt_clsdir_open(tmp_path("ds"), "test", NULL));
    assert_error_contains("no 'test' split");
    assert_error_contains("'train', 'valid'");
    ck_assert_ptr_null(lt_clsdir_open(tmp_path("nothere"), "train", NULL));
    assert_error_contains("nothere");
    assert_error_contains("No such file");
    ck_assert_ptr_null(lt_clsdir_open(tmp_path("ds/train/cat/z.png"), "train", NULL));
    assert_error_contains("is not a folder");
    /* Empty class folder and split without classes. */
    make_dirs("ds/test/bird");
    ck_assert_ptr_null(lt_clsdir_open(tmp_path("ds"), "test", NULL));
    assert_error_contains("ds/test/bird' has no images");
    make_dirs("e/train");
    ck_assert_ptr_null(lt_clsdir_open(tmp_path("e"), "train", NULL));
    assert_error_contains("has no class folders");
    remove_tree();
}
END_TEST

START_TEST(test_clsdir_corrupt)
{
    make_tmp_root();
    make_dirs("ds/train/a");
    make_dirs("ds/train/b");
    put_png("ds/train/a/good.png");
    put_png("ds/train/b/good.png");
    write_text(tmp_path("ds/train/b/bad.jpg"), "\xff\xd8\xff garbage");
    lt_clsdir_options skip = {.skip_corrupt = true};
    lt_dataset *ds = lt_clsdir_open(tmp_path("ds"), "train", &skip);
    ck_assert_msg(ds != NULL, "%s", lt_last_error());
    ck_assert_int_eq(ds->n, 2);
    ck_assert_int_eq(lt_clsdir_n_skipped(ds), 1);
    ck_assert(strstr(lt_clsdir_skipped(ds, 0), "b/bad.jpg: corrupt JPEG"));
    lt_dataset_free(ds);
    /* Fail mode: opening works, reading the bad sample fails with its path. */
    ds = lt_clsdir_open(tmp_path("ds"), "train", NULL);
    ck_assert_int_eq(ds->n, 3);
    lt_sample s;
    ck_assert_int_eq(ds->get(ds, 1, &s), -1); /* b/bad.jpg sorts before b/good.png */
    assert_error_contains("b/bad.jpg: corrupt JPEG");
    lt_dataset_free(ds);
    /* A class whose only image is corrupt is empty once skipped. */
    make_dirs("ds2/train/c");
    write_text(tmp_path("ds2/train/c/x.png"), "nope");
    ck_assert_ptr_null(lt_clsdir_open(tmp_path("ds2"), "train", &skip));
    assert_error_contains("has no readable images");
    remove_tree();
}
END_TEST

/* ---- generated ---- */

static lt_dataset *generated(const char *view, int n, uint64_t seed)
{
    lt_generated_options o;
    lt_generated_defaults(&o);
    o.n_train = o.n_val = o.n_test = n, o.seed = seed;
    lt_dataset *ds = lt_generated_open(&o, view);
    ck_assert_msg(ds != NULL, "%s", lt_last_error());
    return ds;
}

/* The box of a mask, as generated.c defines it. */
static void box_of_mask(const uint8_t *mask, int h, int w, float box[4])
{
    int x0 = w, y0 = h, x1 = -1, y1 = -1;
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++)
            if (mask[y * w + x]) {
                x0 = x < x0 ? x : x0, x1 = x > x1 ? x : x1;
                y0 = y < y0 ? y : y0, y1 = y > y1 ? y : y1;
            }
    box[0] = (float)x0 / w, box[1] = (float)y0 / h, box[2] = (float)(x1 + 1 - x0) / w, box[3] = (float)(y1 + 1 - y0) / h;
}

START_TEST(test_generated)
{
    lt_dataset *a = generated("train", 40, 7), *b = generated("train", 40, 7);
    lt_dataset *c = generated("val", 40, 7), *d = generated("train", 40, 8);
    ck_assert_int_eq(a->n_classes, 4);
    ck_assert_str_eq(a->class_names[2], "triangle");
    ck_assert(a->has_boxes && a->has_masks && a->n_keypoints == LT_GENERATED_KEYPOINTS);
    ck_assert_ptr_null(a->path(a, 0));
    ck_assert_int_eq(a->class_counts[0] + a->class_counts[1] + a->class_counts[2] + a->class_counts[3], 40);
    for (int64_t i = 0; i < a->n; i++) {
        lt_sample sa, sb, sc, sd;
        ck_assert_int_eq(a->get(a, i, &sa), 0);
        ck_assert_int_eq(b->get(b, (a->n - 1 - i), &sb), 0); /* order of calls does not matter */
        lt_sample_free(&sb);
        ck_assert_int_eq(b->get(b, i, &sb), 0);
        ck_assert_int_eq(c->get(c, i, &sc), 0);
        ck_assert_int_eq(d->get(d, i, &sd), 0);
        ck_assert_int_eq(memcmp(sa.image.px, sb.image.px, 32 * 32 * 3), 0);
        ck_assert_int_eq(memcmp(sa.mask, sb.mask, 32 * 32), 0);
        ck_assert_int_ne(memcmp(sa.image.px, sc.image.px, 32 * 32 * 3), 0);
        ck_assert_int_ne(memcmp(sa.image.px, sd.image.px, 32 * 32 * 3), 0);
        ck_assert_int_eq(sa.cls, (int)(i % 4));
        float box[4];
        box_of_mask(sa.mask, 32, 32, box);
        for (int k = 0; k < 4; k++) ck_assert_float_eq(box[k], sa.box[k]);
        ck_assert(sa.box[2] >= 0.2f && sa.box[3] >= 0.2f); /* big enough to see */
        for (int k = 0; k < sa.n_keypoints; k++) { /* keypoints lie in (a pixel of) the box */
            ck_assert_float_ge(sa.keypoints[3 * k], sa.box[0] - 1.5f / 32);
            ck_assert_float_le(sa.keypoints[3 * k], sa.box[0] + sa.box[2] + 1.5f / 32);
            ck_assert_float_ge(sa.keypoints[3 * k + 1], sa.box[1] - 1.5f / 32);
            ck_assert_float_le(sa.keypoints[3 * k + 1], sa.box[1] + sa.box[3] + 1.5f / 32);
            ck_assert_float_eq(sa.keypoints[3 * k + 2], 2);
        }
        lt_sample_free(&sa), lt_sample_free(&sb), lt_sample_free(&sc), lt_sample_free(&sd);
    }
    lt_dataset_free(a), lt_dataset_free(b), lt_dataset_free(c), lt_dataset_free(d);
}
END_TEST

START_TEST(test_generated_cfg)
{
    lt_cfg *c = lt_cfg_parse_yaml("image_size: 48\nn_classes: 10\nn_train: 10\nseed: 3\ndataset_type: generated\n",
                                  strlen("image_size: 48\nn_classes: 10\nn_train: 10\nseed: 3\ndataset_type: generated\n"),
                                  "p.yaml");
    ck_assert_ptr_nonnull(c);
    lt_generated_options o;
    lt_generated_defaults(&o);
    ck_assert_msg(lt_generated_options_from_cfg(c, &o) == 0, "%s", lt_last_error());
    ck_assert_int_eq(o.image_size, 48);
    ck_assert_int_eq(o.n_classes, 10);
    ck_assert_int_eq(o.n_train, 10);
    ck_assert_int_eq(o.n_val, 512);
    ck_assert_int_eq(o.seed, 3);
    lt_dataset *ds = lt_generated_open(&o, "train");
    ck_assert_str_eq(ds->class_names[7], "bar");
    ck_assert_str_eq(ds->class_names[9], "corner");
    for (int i = 0; i < 10; i++) { /* every shape renders with a mask holding its keypoints */
        lt_sample s;
        ck_assert_int_eq(ds->get(ds, i, &s), 0);
        ck_assert(s.has_box);
        for (int k = 0; k < s.n_keypoints; k++) {
            ck_assert_float_ge(s.keypoints[3 * k], s.box[0] - 1.5f / 48);
            ck_assert_float_le(s.keypoints[3 * k], s.box[0] + s.box[2] + 1.5f / 48);
            ck_assert_float_ge(s.keypoints[3 * k + 1], s.box[1] - 1.5f / 48);
            ck_assert_float_le(s.keypoints[3 * k + 1], s.box[1] + s.box[3] + 1.5f / 48);
        }
        lt_sample_free(&s);
    }
    lt_dataset_free(ds);
    lt_cfg_free(c);
    const char *bad = "image_sise: 48\n";
    c = lt_cfg_parse_yaml(bad, strlen(bad), "p.yaml");
    ck_assert_int_eq(lt_generated_options_from_cfg(c, &o), -1);
    assert_error_contains("p.yaml:1:13: loader.params.image_sise: unknown key");
    assert_error_contains("did you mean 'image_size'");
    lt_cfg_free(c);
    bad = "n_classes: 11\n";
    c = lt_cfg_parse_yaml(bad, strlen(bad), "p.yaml");
    ck_assert_int_eq(lt_generated_options_from_cfg(c, &o), -1);
    assert_error_contains("n_classes: 11 is outside [2, 10]");
    lt_cfg_free(c);
    ck_assert_ptr_null(lt_generated_open(&o, "holdout"));
    assert_error_contains("unknown view 'holdout'");
}
END_TEST

/* ---- augmentation geometry ---- */

/* A w x h image whose pixel (x, y) is (x, y, 10*y + x), a mask marking
 * (mx, my), a box and one keypoint. */
static lt_sample tiny(int w, int h)
{
    lt_sample s = {0};
    ck_assert_int_eq(lt_image_alloc(&s.image, h, w, 3), 0);
    s.mask = calloc((size_t)w * h, 1);
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) {
            uint8_t *p = s.image.px + (y * w + x) * 3;
            p[0] = (uint8_t)x, p[1] = (uint8_t)y, p[2] = (uint8_t)(10 * y + x);
        }
    s.mask[0 * w + 1] = 1; /* pixel (x=1, y=0) */
    s.has_box = true;
    s.box[0] = 1.0f / w, s.box[1] = 0, s.box[2] = 1.0f / w, s.box[3] = 1.0f / h;
    s.n_keypoints = 1;
    s.keypoints[0] = 1.5f / w, s.keypoints[1] = 0.5f / h, s.keypoints[2] = 2;
    return s;
}

static void assert_px(const lt_sample *s, int x, int y, int sx, int sy)
{
    const uint8_t *p = s->image.px + (y * s->image.w + x) * 3;
    ck_assert_msg(p[0] == sx && p[1] == sy && p[2] == 10 * sy + sx, "(%d,%d) holds source (%d,%d), expected (%d,%d)",
                  x, y, p[0], p[1], sx, sy);
}

/* The mask pixel, the box and the keypoint all point at the same pixel. */
static void assert_labels_at(const lt_sample *s, int x, int y)
{
    int w = s->image.w, h = s->image.h;
    for (int i = 0; i < w * h; i++) ck_assert_int_eq(s->mask[i], i == y * w + x);
    ck_assert_float_eq_tol(s->box[0], (float)x / w, 1e-6);
    ck_assert_float_eq_tol(s->box[1], (float)y / h, 1e-6);
    ck_assert_float_eq_tol(s->box[2], 1.0f / w, 1e-6);
    ck_assert_float_eq_tol(s->box[3], 1.0f / h, 1e-6);
    ck_assert_float_eq_tol(s->keypoints[0], (x + 0.5f) / w, 1e-6);
    ck_assert_float_eq_tol(s->keypoints[1], (y + 0.5f) / h, 1e-6);
}

START_TEST(test_flips_and_rotations)
{
    enum { W = 3, H = 2 };
    lt_sample s = tiny(W, H);
    lt_aug_hflip(&s);
    for (int y = 0; y < H; y++)
        for (int x = 0; x < W; x++) assert_px(&s, x, y, W - 1 - x, y);
    assert_labels_at(&s, 1, 0);
    lt_aug_vflip(&s);
    for (int y = 0; y < H; y++)
        for (int x = 0; x < W; x++) assert_px(&s, x, y, W - 1 - x, H - 1 - y);
    assert_labels_at(&s, 1, 1);
    lt_sample_free(&s);
    /* numpy.rot90(k=1): out[i][j] = in[j][W-1-i], shape W x H. */
    s = tiny(W, H);
    ck_assert_int_eq(lt_aug_rot90(&s, 1), 0);
    ck_assert_int_eq(s.image.w, H);
    ck_assert_int_eq(s.image.h, W);
    for (int i = 0; i < W; i++)
        for (int j = 0; j < H; j++) assert_px(&s, j, i, W - 1 - i, j);
    assert_labels_at(&s, 0, 1); /* source (x=1, y=0) -> row W-1-1 = 1, column 0 */
    ck_assert_int_eq(lt_aug_rot90(&s, 3), 0); /* four quarter turns: back to the start */
    for (int y = 0; y < H; y++)
        for (int x = 0; x < W; x++) assert_px(&s, x, y, x, y);
    assert_labels_at(&s, 1, 0);
    ck_assert_int_eq(lt_aug_rot90(&s, 2), 0);
    for (int y = 0; y < H; y++)
        for (int x = 0; x < W; x++) assert_px(&s, x, y, W - 1 - x, H - 1 - y);
    assert_labels_at(&s, 1, 1);
    lt_sample_free(&s);
}
END_TEST

START_TEST(test_crop_and_resize)
{
    lt_sample s = tiny(4, 3);
    /* Crop 2x2 at (1, 0), no resize: pixels shift, labels follow. */
    ck_assert_int_eq(lt_aug_crop_resize(&s, 1, 0, 2, 2, 2, 2), 0);
    for (int y = 0; y < 2; y++)
        for (int x = 0; x < 2; x++) assert_px(&s, x, y, x + 1, y);
    assert_labels_at(&s, 0, 0);
    lt_sample_free(&s);
    /* A crop that misses the object drops its box, hides the keypoint. */
    s = tiny(4, 3);
    ck_assert_int_eq(lt_aug_crop_resize(&s, 2, 1, 2, 2, 2, 2), 0);
    ck_assert(!s.has_box);
    ck_assert_float_eq(s.keypoints[2], 0);
    ck_assert_int_eq(lt_aug_crop_resize(&s, 1, 1, 2, 2, 2, 2), -1);
    assert_error_contains("not inside the 2x2 image");
    lt_sample_free(&s);
    /* Area downscale 3 -> 2 weighs the middle pixel half to each side. */
    lt_image im;
    lt_sample t = {0};
    ck_assert_int_eq(lt_image_alloc(&im, 1, 3, 3), 0);
    uint8_t row[9] = {0, 0, 0, 90, 90, 90, 30, 30, 30};
    memcpy(im.px, row, 9);
    t.image = im;
    ck_assert_int_eq(lt_aug_resize(&t, 1, 2), 0);
    /* out0 = (0 * 1 + 90 * 0.5) / 1.5 = 30, out1 = (90 * 0.5 + 30) / 1.5 = 50 */
    ck_assert_int_eq(t.image.px[0], 30);
    ck_assert_int_eq(t.image.px[3], 50);
    /* Bilinear enlarge 2 -> 4 on pixel centres: 30, 35, 45, 50. */
    ck_assert_int_eq(lt_aug_resize(&t, 1, 4), 0);
    ck_assert_int_eq(t.image.px[0], 30);
    ck_assert_int_eq(t.image.px[3], 35);
    ck_assert_int_eq(t.image.px[6], 45);
    ck_assert_int_eq(t.image.px[9], 50);
    lt_sample_free(&t);
}
END_TEST

START_TEST(test_letterbox)
{
    /* 4 wide x 2 high into 4 x 4: scale 1, one zero row above and below. */
    lt_sample s = tiny(4, 2);
    ck_assert_int_eq(lt_aug_letterbox(&s, 4, 4), 0);
    ck_assert_int_eq(s.image.h, 4);
    for (int x = 0; x < 4; x++) {
        for (int c = 0; c < 3; c++) ck_assert_int_eq(s.image.px[x * 3 + c], 0);
        for (int c = 0; c < 3; c++) ck_assert_int_eq(s.image.px[(3 * 4 + x) * 3 + c], 0);
        for (int y = 1; y < 3; y++) assert_px(&s, x, y, x, y - 1);
    }
    assert_labels_at(&s, 1, 1);
    lt_sample_free(&s);
    /* 2 x 4 (portrait) into 8 x 8: scale 2 to 4 x 8, two zero columns each side. */
    s = tiny(2, 4);
    ck_assert_int_eq(lt_aug_letterbox(&s, 8, 8), 0);
    ck_assert_int_eq(s.image.w, 8);
    for (int y = 0; y < 8; y++) {
        ck_assert_int_eq(s.mask[y * 8 + 0] + s.mask[y * 8 + 1] + s.mask[y * 8 + 6] + s.mask[y * 8 + 7], 0);
        ck_assert_int_eq(s.image.px[(y * 8 + 1) * 3 + 2], 0);
    }
    /* The object (source pixel x=1, y=0) is now the 2x2 block at x 4..5, y 0..1. */
    for (int y = 0; y < 8; y++)
        for (int x = 0; x < 8; x++) ck_assert_int_eq(s.mask[y * 8 + x], x >= 4 && x <= 5 && y <= 1);
    ck_assert_float_eq_tol(s.box[0], 4.0f / 8, 1e-6);
    ck_assert_float_eq_tol(s.box[2], 2.0f / 8, 1e-6);
    ck_assert_float_eq_tol(s.box[3], 2.0f / 8, 1e-6);
    ck_assert_float_eq_tol(s.keypoints[0], 5.0f / 8, 1e-6);
    ck_assert_float_eq_tol(s.keypoints[1], 1.0f / 8, 1e-6);
    lt_sample_free(&s);
}
END_TEST

/* ---- preprocessing config and pipeline ---- */

static int pp_from_yaml(const char *yaml, lt_preprocess *pp)
{
    lt_cfg *c = lt_cfg_parse_yaml(yaml, strlen(yaml), "cfg.yaml");
    ck_assert_msg(c != NULL, "%s", lt_last_error());
    int rc = lt_preprocess_from_cfg(c, pp);
    lt_cfg_free(c);
    return rc;
}

START_TEST(test_preprocess_cfg)
{
    lt_preprocess pp;
    ck_assert_int_eq(lt_preprocess_from_cfg(NULL, &pp), 0);
    ck_assert_int_eq(pp.height, 256);
    ck_assert(pp.keep_aspect_ratio && pp.normalize);
    ck_assert_float_eq(pp.mean[0], 0.485f);
    ck_assert_float_eq(pp.std[2], 0.225f);
    const char *yaml = "train_image_size: [24, 32]\n"
                       "keep_aspect_ratio: false\n"
                       "color_space: BGR\n"
                       "augmentations:\n"
                       "  - name: HorizontalFlip\n"
                       "    params: {p: 0.25}\n"
                       "  - name: Normalize\n"
                       "    params: {mean: [0.5, 0.5, 0.5], std: [0.25, 0.25, 0.25]}\n"
                       "  - name: RandomResizedCrop\n"
                       "    params: {scale: [0.5, 1.0], ratio: [1, 1]}\n"
                       "    apply_on_stages: [train, val]\n"
                       "  - name: ColorJitter\n"
                       "    params: {brightness: 0.3, hue: [-0.1, 0.05]}\n"
                       "  - name: RandomBrightnessContrast\n"
                       "    active: false\n";
    ck_assert_msg(pp_from_yaml(yaml, &pp) == 0, "%s", lt_last_error());
    ck_assert_int_eq(pp.height, 24);
    ck_assert_int_eq(pp.width, 32);
    ck_assert(!pp.keep_aspect_ratio);
    ck_assert_int_eq(pp.color_space, LT_BGR);
    ck_assert_float_eq(pp.mean[1], 0.5f);
    ck_assert_float_eq(pp.std[1], 0.25f);
    ck_assert_int_eq(pp.n_augs, 3); /* Normalize folded in, the inactive one dropped */
    ck_assert_int_eq(pp.augs[0].kind, LT_AUG_HFLIP);
    ck_assert_float_eq(pp.augs[0].p, 0.25f);
    ck_assert_uint_eq(pp.augs[0].stages, LT_STAGE_TRAIN);
    ck_assert_int_eq(pp.augs[1].kind, LT_AUG_RESIZED_CROP);
    ck_assert_float_eq(pp.augs[1].p, 1.0f);
    ck_assert_float_eq(pp.augs[1].scale[0], 0.5f);
    ck_assert_uint_eq(pp.augs[1].stages, LT_STAGE_TRAIN | LT_STAGE_VAL);
    ck_assert_float_eq_tol(pp.augs[2].jitter[0][0], 0.7f, 1e-6);
    ck_assert_float_eq_tol(pp.augs[2].jitter[0][1], 1.3f, 1e-6);
    ck_assert_float_eq(pp.augs[2].jitter[3][0], -0.1f);
    static const struct {
        const char *yaml, *want[2];
    } bad[] = {
        {"augmentations:\n  - name: HorizontalFlp\n", {"cfg.yaml:2:11: trainer.preprocessing.augmentations[0].name: unknown augmentation 'HorizontalFlp'", "did you mean 'HorizontalFlip'"}},
        {"augmentations:\n  - name: RandomResizedCrop\n    params: {scales: [0.1, 1]}\n", {"augmentations[0].params.scales: unknown key", "did you mean 'scale'"}},
        {"augmentations:\n  - name: VerticalFlip\n    apply_on_stages: [training]\n", {"unknown stage 'training'", "'train'"}},
        {"augmentations:\n  - name: VerticalFlip\n    params: {p: 1.5}\n", {"probability 1.5 is outside [0, 1]", "params.p"}},
        {"train_image_sise: [3, 3]\n", {"trainer.preprocessing.train_image_sise: unknown key", "did you mean 'train_image_size'"}},
        {"color_space: HSV\n", {"unknown color space 'HSV'", "RGB"}},
        {"train_image_size: [0, 3]\n", {"not a valid image size", "cfg.yaml:1:19"}},
        {"augmentations:\n  - name: RandomResizedCrop\n    params: {ratio: [2, 1]}\n", {"expected 0 < min <= max", "ratio"}},
        {"augmentations:\n  - params: {p: 1}\n", {"missing 'name'", "augmentations[0]"}},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        ck_assert_msg(pp_from_yaml(bad[i].yaml, &pp) == -1, "case %zu accepted", i);
        assert_error_contains(bad[i].want[0]);
        assert_error_contains(bad[i].want[1]);
    }
}
END_TEST

/* Normalisation and colour spaces on a 1x1 image. */
START_TEST(test_preprocess_output)
{
    lt_preprocess pp;
    lt_preprocess_defaults(&pp);
    pp.height = pp.width = 1;
    lt_sample s = {0};
    lt_rng rng;
    lt_sample_rng(&rng, 0, 0, 0);
    float out[3];
    for (int cs = 0; cs < 3; cs++) {
        ck_assert_int_eq(lt_image_alloc(&s.image, 1, 1, 3), 0);
        s.image.px[0] = 255, s.image.px[1] = 128, s.image.px[2] = 0;
        pp.color_space = (lt_color_space)cs;
        ck_assert_int_eq(lt_preprocess_apply(&pp, LT_STAGE_TRAIN, &rng, &s, out), 0);
        if (cs == LT_RGB) {
            ck_assert_float_eq_tol(out[0], (1.0f - 0.485f) / 0.229f, 1e-5);
            ck_assert_float_eq_tol(out[1], (128 / 255.0f - 0.456f) / 0.224f, 1e-5);
            ck_assert_float_eq_tol(out[2], (0 - 0.406f) / 0.225f, 1e-5);
        } else if (cs == LT_BGR) {
            ck_assert_float_eq_tol(out[0], (0 - 0.485f) / 0.229f, 1e-5);
            ck_assert_float_eq_tol(out[2], (1.0f - 0.406f) / 0.225f, 1e-5);
        } else {
            ck_assert_int_eq(lt_preprocess_channels(&pp), 1);
            float gray = roundf(0.299f * 255 + 0.587f * 128) / 255.0f; /* 151 */
            ck_assert_float_eq_tol(out[0], (gray - 0.449f) / 0.226f, 1e-5);
        }
        uint8_t back[3];
        lt_preprocess_to_rgb(&pp, out, back);
        if (cs != LT_GRAY) {
            ck_assert_int_eq(back[0], 255);
            ck_assert_int_eq(back[1], 128);
            ck_assert_int_eq(back[2], 0);
        }
        lt_sample_free(&s);
    }
}
END_TEST

/* Pixel augmentations with their ranges pinned to one value. */
START_TEST(test_pixel_augs)
{
    static const struct {
        const char *params;
        uint8_t in[3], want[3];
    } cases[] = {
        {"{name: ColorJitter, params: {p: 1, brightness: [2, 2], contrast: [1, 1], saturation: [1, 1], hue: [0, 0]}}",
         {100, 20, 200}, {200, 40, 255}},
        /* Hue half a turn: red -> cyan, value and saturation kept. */
        {"{name: ColorJitter, params: {p: 1, brightness: [1, 1], contrast: [1, 1], saturation: [1, 1], hue: [0.5, 0.5]}}",
         {255, 0, 0}, {0, 255, 255}},
        /* Saturation 0: the OpenCV gray value 0.299*200 + 0.587*100 + 0.114*0 = 118.5 -> 118 (even). */
        {"{name: ColorJitter, params: {p: 1, brightness: [1, 1], contrast: [1, 1], saturation: [0, 0], hue: [0, 0]}}",
         {200, 100, 0}, {118, 118, 118}},
        /* x * (1 + 0.5) + 0.2 * 255 (brightness by max), clamped. */
        {"{name: RandomBrightnessContrast, params: {p: 1, brightness_limit: [0.2, 0.2], contrast_limit: [0.5, 0.5]}}",
         {10, 100, 200}, {66, 201, 255}},
        /* p 0: nothing happens. */
        {"{name: ColorJitter, params: {p: 0, brightness: [2, 2]}}", {10, 20, 30}, {10, 20, 30}},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char yaml[512];
        snprintf(yaml, sizeof yaml, "train_image_size: [1, 1]\nnormalize: {active: false}\naugmentations:\n  - %s\n",
                 cases[i].params);
        lt_preprocess pp;
        ck_assert_msg(pp_from_yaml(yaml, &pp) == 0, "%s", lt_last_error());
        lt_sample s = {0};
        ck_assert_int_eq(lt_image_alloc(&s.image, 1, 1, 3), 0);
        memcpy(s.image.px, cases[i].in, 3);
        lt_rng rng;
        lt_sample_rng(&rng, 1, 2, 3);
        float out[3];
        ck_assert_int_eq(lt_preprocess_apply(&pp, LT_STAGE_TRAIN, &rng, &s, out), 0);
        for (int c = 0; c < 3; c++)
            ck_assert_msg(s.image.px[c] == cases[i].want[c], "case %zu channel %d: %d != %d", i, c, s.image.px[c],
                          cases[i].want[c]);
        for (int c = 0; c < 3; c++) ck_assert_float_eq_tol(out[c], cases[i].want[c] / 255.0f, 1e-6);
        lt_sample_free(&s);
    }
}
END_TEST

/* Geometric augmentations move the generated labels with the pixels: after
 * a run of random ones the mask's own box matches the transformed box. */
START_TEST(test_label_consistency)
{
    const char *yaml = "train_image_size: [32, 32]\nkeep_aspect_ratio: true\n"
                       "augmentations:\n"
                       "  - {name: HorizontalFlip}\n  - {name: VerticalFlip}\n  - {name: RandomRotate90}\n";
    lt_preprocess pp;
    ck_assert_int_eq(pp_from_yaml(yaml, &pp), 0);
    lt_dataset *ds = generated("train", 24, 1);
    float out[3 * 32 * 32];
    int moved = 0;
    for (int i = 0; i < 24; i++) {
        lt_sample s, orig;
        ck_assert_int_eq(ds->get(ds, i, &s), 0);
        ck_assert_int_eq(ds->get(ds, i, &orig), 0);
        lt_rng rng;
        lt_sample_rng(&rng, 5, 0, i);
        ck_assert_int_eq(lt_preprocess_apply(&pp, LT_STAGE_TRAIN, &rng, &s, out), 0);
        float box[4];
        box_of_mask(s.mask, 32, 32, box);
        for (int k = 0; k < 4; k++) ck_assert_float_eq_tol(box[k], s.box[k], 1e-6);
        moved += memcmp(s.mask, orig.mask, 32 * 32) != 0;
        /* The centre keypoint stays on the shape's pixels' bounding box. */
        ck_assert(s.keypoints[0] >= s.box[0] && s.keypoints[0] <= s.box[0] + s.box[2]);
        lt_sample_free(&s), lt_sample_free(&orig);
        /* Val stage: no augmentation runs, the image is untouched. */
        ck_assert_int_eq(ds->get(ds, i, &s), 0);
        ck_assert_int_eq(ds->get(ds, i, &orig), 0);
        ck_assert_int_eq(lt_preprocess_apply(&pp, LT_STAGE_VAL, &rng, &s, out), 0);
        ck_assert_int_eq(memcmp(s.image.px, orig.image.px, 32 * 32 * 3), 0);
        lt_sample_free(&s), lt_sample_free(&orig);
    }
    ck_assert_int_gt(moved, 12);
    lt_dataset_free(ds);
}
END_TEST

/* RandomResizedCrop keeps labels consistent up to resampling, and pixel
 * augmentations leave geometry alone; the whole pipeline is a function of
 * (seed, epoch, index). */
START_TEST(test_pipeline_determinism)
{
    const char *yaml = "train_image_size: [40, 40]\n"
                       "augmentations:\n"
                       "  - {name: RandomResizedCrop, params: {scale: [0.6, 1.0]}}\n"
                       "  - {name: ColorJitter, params: {p: 1.0}}\n"
                       "  - {name: RandomBrightnessContrast, params: {p: 1.0}}\n";
    lt_preprocess pp;
    ck_assert_int_eq(pp_from_yaml(yaml, &pp), 0);
    lt_dataset *ds = generated("train", 16, 2);
    float a[3 * 40 * 40], b[3 * 40 * 40];
    for (int i = 0; i < 16; i++) {
        lt_sample s, t;
        lt_rng r1, r2;
        ck_assert_int_eq(ds->get(ds, i, &s), 0);
        ck_assert_int_eq(ds->get(ds, i, &t), 0);
        lt_sample_rng(&r1, 9, 3, i);
        lt_sample_rng(&r2, 9, 3, i);
        ck_assert_int_eq(lt_preprocess_apply(&pp, LT_STAGE_TRAIN, &r1, &s, a), 0);
        ck_assert_int_eq(lt_preprocess_apply(&pp, LT_STAGE_TRAIN, &r2, &t, b), 0);
        ck_assert_int_eq(memcmp(a, b, sizeof a), 0);
        ck_assert_int_eq(s.image.h, 40);
        if (s.has_box) {
            float box[4];
            box_of_mask(s.mask, 40, 40, box);
            for (int k = 0; k < 4; k++) ck_assert_float_le(fabsf(box[k] - s.box[k]), 2.0f / 40);
        }
        lt_sample_free(&s), lt_sample_free(&t);
    }
    lt_dataset_free(ds);
}
END_TEST

/* ---- batcher ---- */

static lt_batch **run_epoch(lt_batcher *b, int64_t epoch, int *count)
{
    ck_assert_int_eq(lt_batcher_start_epoch(b, epoch), 0);
    lt_batch **all = calloc(64, sizeof *all);
    int n = 0, rc;
    while ((rc = lt_batcher_next(b, &all[n])) == 1) n++;
    ck_assert_msg(rc == 0, "%s", lt_last_error());
    *count = n;
    return all;
}

static void assert_same_tensor(const lt_tensor *a, const lt_tensor *b)
{
    if (!a || !b) {
        ck_assert(!a && !b);
        return;
    }
    ck_assert(lt_same_shape(a, b));
    ck_assert_int_eq(memcmp(a->data, b->data, (size_t)a->numel * lt_dtype_size(a->dtype)), 0);
}

START_TEST(test_batcher_workers)
{
    lt_dataset *ds = generated("train", 37, 4);
    lt_preprocess pp;
    ck_assert_int_eq(pp_from_yaml("train_image_size: [16, 16]\naugmentations:\n"
                                  "  - {name: HorizontalFlip}\n  - {name: RandomResizedCrop}\n  - {name: ColorJitter}\n",
                                  &pp),
                     0);
    lt_batch **ref[2] = {NULL, NULL};
    int ref_n[2] = {0, 0};
    const int workers[] = {0, 1, 3};
    for (int w = 0; w < 3; w++) {
        lt_batcher_options o = {.batch_size = 8, .shuffle = true, .drop_last = false, .n_workers = workers[w],
                                .seed = 11, .stage = LT_STAGE_TRAIN};
        lt_batcher *b = lt_batcher_new(ds, &pp, &o);
        ck_assert_msg(b != NULL, "%s", lt_last_error());
        ck_assert_int_eq(lt_batcher_n_batches(b), 5);
        for (int e = 0; e < 2; e++) {
            int n;
            lt_batch **got = run_epoch(b, e, &n);
            ck_assert_int_eq(n, 5);
            ck_assert_int_eq(got[4]->n, 5);
            if (w == 0) {
                ref[e] = got, ref_n[e] = n;
                bool seen[37] = {false};
                for (int i = 0; i < n; i++)
                    for (int k = 0; k < got[i]->n; k++) seen[got[i]->sample_ids[k]] = true;
                for (int i = 0; i < 37; i++) ck_assert(seen[i]); /* a permutation */
                ck_assert_int_eq(got[0]->images->shape[1], 3);
                ck_assert_int_eq(got[0]->masks->shape[1], 16);
                ck_assert_int_eq(got[0]->keypoints->shape[1], 1 + 3 * LT_GENERATED_KEYPOINTS);
                continue;
            }
            for (int i = 0; i < n; i++) {
                ck_assert_int_eq(got[i]->index, i);
                ck_assert_int_eq(memcmp(got[i]->sample_ids, ref[e][i]->sample_ids, sizeof(int64_t) * (size_t)got[i]->n), 0);
                assert_same_tensor(got[i]->images, ref[e][i]->images);
                assert_same_tensor(got[i]->classes, ref[e][i]->classes);
                assert_same_tensor(got[i]->boxes, ref[e][i]->boxes);
                assert_same_tensor(got[i]->masks, ref[e][i]->masks);
                assert_same_tensor(got[i]->keypoints, ref[e][i]->keypoints);
                lt_batch_free(got[i]);
            }
            free(got);
        }
        lt_batcher_free(b);
    }
    /* Epochs are shuffled differently. */
    ck_assert_int_ne(memcmp(ref[0][0]->sample_ids, ref[1][0]->sample_ids, 8 * sizeof(int64_t)), 0);
    /* Class labels match the samples. */
    for (int k = 0; k < ref[0][0]->n; k++)
        ck_assert_int_eq(lt_i32(ref[0][0]->classes)[k], (int)(ref[0][0]->sample_ids[k] % 4));
    for (int e = 0; e < 2; e++) {
        for (int i = 0; i < ref_n[e]; i++) lt_batch_free(ref[e][i]);
        free(ref[e]);
    }
    lt_dataset_free(ds);
}
END_TEST

START_TEST(test_batcher_order_and_limits)
{
    lt_dataset *ds = generated("val", 10, 4);
    lt_preprocess pp;
    lt_preprocess_defaults(&pp);
    pp.height = pp.width = 8;
    lt_batcher_options o = {.batch_size = 4, .drop_last = true, .n_workers = 2, .stage = LT_STAGE_VAL};
    lt_batcher *b = lt_batcher_new(ds, &pp, &o);
    ck_assert_int_eq(lt_batcher_n_batches(b), 2);
    int n;
    lt_batch **got = run_epoch(b, 0, &n);
    ck_assert_int_eq(n, 2);
    for (int i = 0; i < 2; i++) {
        for (int k = 0; k < 4; k++) ck_assert_int_eq(got[i]->sample_ids[k], 4 * i + k); /* unshuffled */
        lt_batch_free(got[i]);
    }
    free(got);
    lt_batcher_free(b);
    o.limit = 6, o.drop_last = false;
    b = lt_batcher_new(ds, &pp, &o);
    ck_assert_int_eq(lt_batcher_n_batches(b), 2);
    got = run_epoch(b, 0, &n);
    ck_assert_int_eq(got[1]->n, 2);
    for (int i = 0; i < n; i++) lt_batch_free(got[i]);
    free(got);
    /* Restarting an epoch midway, then freeing with batches in flight. */
    ck_assert_int_eq(lt_batcher_start_epoch(b, 1), 0);
    lt_batch *one;
    ck_assert_int_eq(lt_batcher_next(b, &one), 1);
    lt_batch_free(one);
    ck_assert_int_eq(lt_batcher_start_epoch(b, 2), 0);
    lt_batcher_free(b);
    o.batch_size = 0;
    ck_assert_ptr_null(lt_batcher_new(ds, &pp, &o));
    assert_error_contains("batch_size must be > 0");
    lt_dataset_free(ds);
}
END_TEST

START_TEST(test_batcher_error)
{
    make_tmp_root();
    make_dirs("ds/train/a");
    for (int i = 0; i < 9; i++) {
        char rel[64];
        snprintf(rel, sizeof rel, "ds/train/a/%d.png", i);
        if (i == 6) write_text(tmp_path(rel), "\x89PNG\r\n\x1a\n broken");
        else put_png(rel);
    }
    lt_dataset *ds = lt_clsdir_open(tmp_path("ds"), "train", NULL);
    ck_assert_ptr_nonnull(ds);
    lt_preprocess pp;
    lt_preprocess_defaults(&pp);
    pp.height = pp.width = 4;
    for (int w = 0; w <= 3; w += 3) {
        lt_batcher_options o = {.batch_size = 2, .n_workers = w, .stage = LT_STAGE_TRAIN};
        lt_batcher *b = lt_batcher_new(ds, &pp, &o);
        ck_assert_int_eq(lt_batcher_start_epoch(b, 0), 0);
        lt_batch *got;
        for (int i = 0; i < 3; i++) {
            ck_assert_int_eq(lt_batcher_next(b, &got), 1);
            lt_batch_free(got);
        }
        ck_assert_int_eq(lt_batcher_next(b, &got), -1);
        ck_assert_ptr_null(got);
        assert_error_contains("ds/train/a/6.png: corrupt PNG");
        ck_assert_int_eq(lt_batcher_next(b, &got), 0); /* the epoch ended */
        ck_assert_int_eq(lt_batcher_start_epoch(b, 1), 0); /* the next one starts again */
        ck_assert_int_eq(lt_batcher_next(b, &got), 1);
        lt_batch_free(got);
        lt_batcher_free(b);
    }
    lt_dataset_free(ds);
    remove_tree();
}
END_TEST

int main(void)
{
    Suite *s = suite_create("data");
    TCase *tc = tcase_create("data");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_png_variants);
    tcase_add_test(tc, test_jpeg_variants);
    tcase_add_test(tc, test_corrupt_files);
    tcase_add_test(tc, test_png_roundtrip);
    tcase_add_test(tc, test_clsdir_layout);
    tcase_add_test(tc, test_clsdir_corrupt);
    tcase_add_test(tc, test_generated);
    tcase_add_test(tc, test_generated_cfg);
    tcase_add_test(tc, test_flips_and_rotations);
    tcase_add_test(tc, test_crop_and_resize);
    tcase_add_test(tc, test_letterbox);
    tcase_add_test(tc, test_preprocess_cfg);
    tcase_add_test(tc, test_preprocess_output);
    tcase_add_test(tc, test_pixel_augs);
    tcase_add_test(tc, test_label_consistency);
    tcase_add_test(tc, test_pipeline_determinism);
    tcase_add_test(tc, test_batcher_workers);
    tcase_add_test(tc, test_batcher_order_and_limits);
    tcase_add_test(tc, test_batcher_error);
    suite_add_tcase(s, tc);
    return fx_run_suite(s);
}

/* Drawing (include/ltrain/draw.h): pixel-exact rectangles, blends and lines
 * on planar canvases and packed HWC buffers, FreeType text whose ink stays
 * inside its reported box, font errors, and the image grid layout. */
#include "fixture.h"

#include <ltrain/draw.h>

#include <check.h>
#include <stdlib.h>
#include <string.h>

#ifndef LT_SOURCE_ROOT
#error "LT_SOURCE_ROOT must be defined by the build"
#endif

static const lt_rgb RED = {255, 0, 0}, WHITE = {255, 255, 255}, BLUE = {0, 0, 255};

/* An owned uint8 [B,3,H,W] canvas filled with `v`. */
static lt_tensor *canvas_new(int64_t b, int64_t h, int64_t w, uint8_t v)
{
    lt_tensor *t = lt_tensor_new(LT_U8, 4, (const int64_t[]){b, 3, h, w});
    ck_assert_ptr_nonnull(t);
    memset(t->data, v, (size_t)t->numel);
    return t;
}

static uint8_t px(const lt_tensor *t, int64_t b, int c, int64_t y, int64_t x)
{
    return lt_u8(t)[((b * 3 + c) * t->shape[2] + y) * t->shape[3] + x];
}

static lt_draw_image image_of(lt_tensor *t, int64_t b)
{
    lt_draw_image img;
    ck_assert_msg(lt_draw_image_from_canvas(t, b, &img) == 0, "%s", lt_last_error());
    return img;
}

/* Every pixel of image b is `on` colour where inside(x, y), else background 0. */
typedef bool (*pixel_pred)(int x, int y);
static void expect_mask(const lt_tensor *t, int64_t b, pixel_pred inside, lt_rgb on)
{
    const uint8_t rgb[3] = {on.r, on.g, on.b};
    for (int y = 0; y < t->shape[2]; y++)
        for (int x = 0; x < t->shape[3]; x++)
            for (int c = 0; c < 3; c++) {
                const uint8_t want = inside(x, y) ? rgb[c] : 0;
                ck_assert_msg(px(t, b, c, y, x) == want, "pixel (%d,%d) channel %d: %u, expected %u", x, y, c,
                              px(t, b, c, y, x), want);
            }
}

static bool in_fill(int x, int y) { return x >= 2 && x < 6 && y >= 3 && y < 5; }
static bool in_clipped(int x, int y) { return x < 2 && y < 3; }
static bool in_outline(int x, int y)
{
    const bool in = x >= 1 && x < 9 && y >= 1 && y < 8;
    return in && (x < 3 || x >= 7 || y < 3 || y >= 6);
}

START_TEST(test_rectangles)
{
    lt_tensor *t = canvas_new(2, 10, 12, 0);
    lt_draw_image img = image_of(t, 1);
    lt_draw_fill_rect(&img, 2, 3, 4, 2, WHITE);
    expect_mask(t, 1, in_fill, WHITE);
    /* Image 0 is untouched: the view addresses only its own planes. */
    for (int64_t i = 0; i < t->numel / 2; i++) ck_assert_uint_eq(lt_u8(t)[i], 0);

    memset(t->data, 0, (size_t)t->numel);
    lt_draw_fill_rect(&img, -5, -4, 7, 7, RED); /* clipped to [0,2) x [0,3) */
    lt_draw_fill_rect(&img, 20, 20, 5, 5, RED); /* entirely outside */
    lt_draw_fill_rect(&img, 4, 4, -3, 2, RED);  /* empty */
    expect_mask(t, 1, in_clipped, RED);

    memset(t->data, 0, (size_t)t->numel);
    lt_draw_rect(&img, 1, 1, 8, 7, BLUE, 2);
    expect_mask(t, 1, in_outline, BLUE);

    /* A thickness reaching the middle fills the rectangle. */
    memset(t->data, 0, (size_t)t->numel);
    lt_draw_rect(&img, 2, 3, 4, 2, WHITE, 5);
    expect_mask(t, 1, in_fill, WHITE);
    lt_tensor_free(t);
}
END_TEST

START_TEST(test_blend)
{
    lt_tensor *t = canvas_new(1, 4, 4, 100);
    lt_draw_image img = image_of(t, 0);
    lt_draw_blend_rect(&img, 1, 1, 2, 2, (lt_rgb){200, 0, 100}, 0.5f);
    for (int y = 0; y < 4; y++)
        for (int x = 0; x < 4; x++) {
            const bool in = x >= 1 && x < 3 && y >= 1 && y < 3;
            ck_assert_uint_eq(px(t, 0, 0, y, x), in ? 150 : 100);
            ck_assert_uint_eq(px(t, 0, 1, y, x), in ? 50 : 100);
            ck_assert_uint_eq(px(t, 0, 2, y, x), 100);
        }
    /* alpha 0 changes nothing; alpha 1 is an opaque fill. */
    lt_draw_blend_rect(&img, 0, 0, 4, 4, RED, 0.0f);
    ck_assert_uint_eq(px(t, 0, 0, 0, 0), 100);
    lt_draw_blend_rect(&img, 0, 0, 1, 1, RED, 1.0f);
    ck_assert_uint_eq(px(t, 0, 0, 0, 0), 255);
    ck_assert_uint_eq(px(t, 0, 1, 0, 0), 0);
    lt_tensor_free(t);
}
END_TEST

static bool on_row2(int x, int y) { return y == 2 && x >= 1 && x <= 6; }
static bool on_diagonal(int x, int y) { return x == y && x <= 4; }
static bool on_thick_row(int x, int y) { return y >= 1 && y <= 3 && x >= 0 && x <= 7; }

START_TEST(test_lines)
{
    lt_tensor *t = canvas_new(1, 8, 9, 0);
    lt_draw_image img = image_of(t, 0);
    lt_draw_line(&img, 6, 2, 1, 2, WHITE, 1); /* direction does not matter */
    expect_mask(t, 0, on_row2, WHITE);

    memset(t->data, 0, (size_t)t->numel);
    lt_draw_line(&img, 0, 0, 4, 4, WHITE, 1);
    expect_mask(t, 0, on_diagonal, WHITE);

    /* Thickness 3 stamps offsets -1..1 around each pixel of the line. */
    memset(t->data, 0, (size_t)t->numel);
    lt_draw_line(&img, 1, 2, 6, 2, WHITE, 3);
    expect_mask(t, 0, on_thick_row, WHITE);

    /* A steep line: one pixel per row, both ends drawn, each step moves x by at most 1. */
    memset(t->data, 0, (size_t)t->numel);
    lt_draw_line(&img, 1, 0, 4, 7, WHITE, 1);
    int prev = -1;
    for (int y = 0; y < 8; y++) {
        int n = 0, at = -1;
        for (int x = 0; x < 9; x++)
            if (px(t, 0, 0, y, x)) n++, at = x;
        ck_assert_int_eq(n, 1);
        if (prev >= 0) ck_assert_int_le(abs(at - prev), 1);
        prev = at;
    }
    ck_assert_uint_eq(px(t, 0, 0, 0, 1), 255);
    ck_assert_uint_eq(px(t, 0, 0, 7, 4), 255);

    /* Lines far outside the image are clipped, not a crash. */
    memset(t->data, 0, (size_t)t->numel);
    lt_draw_line(&img, -100000, 3, 100000, 3, WHITE, 1);
    for (int x = 0; x < 9; x++) ck_assert_uint_eq(px(t, 0, 0, 3, x), 255);
    lt_draw_line(&img, -50, -50, -10, -90, WHITE, 4);
    lt_draw_line(&img, 2147483000, 5, 2147483600, 5, WHITE, 2);
    lt_tensor_free(t);
}
END_TEST

START_TEST(test_hwc_and_canvas_errors)
{
    uint8_t buf[4 * 5 * 3] = {0};
    lt_draw_image img = lt_draw_image_hwc(buf, 5, 4);
    lt_draw_fill_rect(&img, 1, 2, 2, 1, (lt_rgb){1, 2, 3});
    for (int y = 0; y < 4; y++)
        for (int x = 0; x < 5; x++) {
            const bool in = y == 2 && (x == 1 || x == 2);
            for (int c = 0; c < 3; c++) ck_assert_uint_eq(buf[(y * 5 + x) * 3 + c], in ? c + 1 : 0);
        }
    lt_draw_image out;
    lt_tensor *f = lt_tensor_new(LT_F32, 4, (const int64_t[]){1, 3, 2, 2});
    ck_assert_int_eq(lt_draw_image_from_canvas(f, 0, &out), -1);
    ck_assert_ptr_nonnull(strstr(lt_last_error(), "uint8 [B,3,H,W]"));
    ck_assert_ptr_nonnull(strstr(lt_last_error(), "[1,3,2,2]"));
    lt_tensor_free(f);
    lt_tensor *t = canvas_new(2, 2, 2, 0);
    ck_assert_int_eq(lt_draw_image_from_canvas(t, 2, &out), -1);
    ck_assert_ptr_nonnull(strstr(lt_last_error(), "image 2"));
    lt_tensor_free(t);
}
END_TEST

static lt_font *open_default(void)
{
    lt_font *font = lt_font_open(NULL);
    ck_assert_msg(font != NULL, "%s", lt_last_error());
    return font;
}

/* Bounding box of the non-zero pixels of image 0 (any channel); false if none. */
static bool ink_box(const lt_tensor *t, int *x0, int *y0, int *x1, int *y1)
{
    *x0 = *y0 = INT32_MAX, *x1 = *y1 = -1;
    for (int c = 0; c < 3; c++)
        for (int y = 0; y < t->shape[2]; y++)
            for (int x = 0; x < t->shape[3]; x++)
                if (px(t, 0, c, y, x)) {
                    *x0 = x < *x0 ? x : *x0, *x1 = x > *x1 ? x : *x1;
                    *y0 = y < *y0 ? y : *y0, *y1 = y > *y1 ? y : *y1;
                }
    return *x1 >= 0;
}

START_TEST(test_text_ink_inside_box)
{
    unsetenv("LTRAIN_FONT");
    lt_font *font = open_default();
    ck_assert_str_eq(lt_font_path(font), LT_DRAW_DEFAULT_FONT);
    static const char *const texts[] = {"Hello, ltrain", "jgpqy ÅÉ", "Pred: cat (0.87)", "two\nlines"};
    for (size_t i = 0; i < sizeof texts / sizeof texts[0]; i++)
        for (int weight = 1; weight <= 3; weight += 2) {
            lt_tensor *t = canvas_new(1, 90, 260, 0);
            lt_draw_image img = image_of(t, 0);
            const lt_text_style st = {.size = 24, .color = RED, .weight = weight, .padding = 3};
            int w, h, mw, mh;
            ck_assert_msg(lt_text_size(font, texts[i], &st, &mw, &mh) == 0, "%s", lt_last_error());
            ck_assert_msg(lt_draw_text(&img, font, 7, 5, texts[i], &st, &w, &h) == 0, "%s", lt_last_error());
            ck_assert_int_eq(w, mw);
            ck_assert_int_eq(h, mh);
            int x0, y0, x1, y1;
            ck_assert_msg(ink_box(t, &x0, &y0, &x1, &y1), "'%s' drew nothing", texts[i]);
            ck_assert_msg(x0 >= 7 && y0 >= 5 && x1 < 7 + w && y1 < 5 + h,
                          "'%s' weight %d: ink [%d,%d]-[%d,%d] outside box at (7,5) size %dx%d", texts[i], weight,
                          x0, y0, x1, y1, w, h);
            /* The ink fills most of the box: no big empty margin. */
            ck_assert_int_ge(x1 - x0 + 1, w - 2 * st.padding - 6);
            /* Red text on black: only the red channel carries ink; full coverage somewhere. */
            uint8_t max_red = 0;
            for (int64_t p = 0; p < 90 * 260; p++) {
                ck_assert_uint_eq(lt_u8(t)[90 * 260 + p], 0);
                max_red = lt_u8(t)[p] > max_red ? lt_u8(t)[p] : max_red;
            }
            ck_assert_uint_eq(max_red, 255);
            lt_tensor_free(t);
        }
    /* A larger size gives a proportionally larger box; a second line doubles the text height. */
    int w1, h1, w2, h2, hl;
    lt_text_style st = {.size = 12, .color = WHITE, .weight = 1};
    ck_assert_int_eq(lt_text_size(font, "Accuracy", &st, &w1, &h1), 0);
    ck_assert_int_eq(lt_text_size(font, "Accuracy\nAccuracy", &st, &w2, &hl), 0);
    ck_assert_int_eq(w1, w2);
    ck_assert_int_eq(hl, 2 * h1);
    st.size = 36;
    ck_assert_int_eq(lt_text_size(font, "Accuracy", &st, &w2, &h2), 0);
    ck_assert_int_ge(w2, 3 * w1 - 6);
    ck_assert_int_le(w2, 3 * w1 + 6);
    lt_font_close(font);
}
END_TEST

START_TEST(test_text_background_and_clipping)
{
    lt_font *font = open_default();
    lt_tensor *t = canvas_new(1, 40, 120, 0);
    lt_draw_image img = image_of(t, 0);
    const lt_text_style st = {
        .size = 16, .color = WHITE, .weight = 1, .background = true, .background_color = BLUE,
        .background_alpha = 1.0f, .padding = 4};
    int w, h;
    ck_assert_int_eq(lt_draw_text(&img, font, 10, 8, "GT: dog", &st, &w, &h), 0);
    for (int y = 0; y < 40; y++)
        for (int x = 0; x < 120; x++) {
            const bool in_box = x >= 10 && x < 10 + w && y >= 8 && y < 8 + h;
            if (!in_box) {
                ck_assert_uint_eq(px(t, 0, 2, y, x), 0);
                continue;
            }
            /* White over blue: blue stays full, red == green carry the glyph. */
            ck_assert_uint_eq(px(t, 0, 2, y, x), 255);
            ck_assert_uint_eq(px(t, 0, 0, y, x), px(t, 0, 1, y, x));
        }
    ck_assert_uint_eq(px(t, 0, 0, 8, 10), 0); /* padding corner: background only */
    /* Text running off every edge is clipped. */
    ck_assert_int_eq(lt_draw_text(&img, font, -30, -10, "clipped text that is long", &st, NULL, NULL), 0);
    ck_assert_int_eq(lt_draw_text(&img, font, 100, 30, "clipped", &st, NULL, NULL), 0);
    /* Bad styles are errors, not crashes. */
    lt_text_style bad = st;
    bad.size = 0;
    ck_assert_int_eq(lt_draw_text(&img, font, 0, 0, "x", &bad, NULL, NULL), -1);
    ck_assert_ptr_nonnull(strstr(lt_last_error(), "size"));
    bad = st;
    bad.weight = 0;
    ck_assert_int_eq(lt_text_size(font, "x", &bad, &w, &h), -1);
    ck_assert_ptr_nonnull(strstr(lt_last_error(), "weight"));
    ck_assert_int_eq(lt_text_size(NULL, "x", &st, &w, &h), -1);
    ck_assert_int_eq(lt_text_size(font, "", &st, &w, &h), 0);
    ck_assert_int_eq(w, 2 * st.padding);
    /* Malformed UTF-8 draws replacement glyphs. */
    ck_assert_int_eq(lt_draw_text(&img, font, 0, 0, "\xff\xc3(", &st, NULL, NULL), 0);
    lt_tensor_free(t);
    lt_font_close(font);
}
END_TEST

START_TEST(test_missing_font)
{
    ck_assert_ptr_null(lt_font_open("/nonexistent/ltrain-font.ttf"));
    ck_assert_ptr_nonnull(strstr(lt_last_error(), "/nonexistent/ltrain-font.ttf"));
    ck_assert_ptr_nonnull(strstr(lt_last_error(), "LTRAIN_FONT"));
    setenv("LTRAIN_FONT", "/nonexistent/env-font.ttf", 1);
    ck_assert_ptr_null(lt_font_open(NULL));
    ck_assert_ptr_nonnull(strstr(lt_last_error(), "/nonexistent/env-font.ttf"));
    ck_assert_ptr_nonnull(strstr(lt_last_error(), "LTRAIN_FONT font"));
    /* A file that is not a font. */
    setenv("LTRAIN_FONT", LT_SOURCE_ROOT "/meson.build", 1);
    ck_assert_ptr_null(lt_font_open(NULL));
    ck_assert_ptr_nonnull(strstr(lt_last_error(), "not a font"));
    /* The override picks another real font. */
    setenv("LTRAIN_FONT", "/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf", 1);
    lt_font *bold = lt_font_open(NULL);
    if (!bold) ck_assert_ptr_nonnull(strstr(lt_last_error(), "DejaVuSans-Bold")); /* absent on slim systems */
    else ck_assert_ptr_nonnull(strstr(lt_font_path(bold), "Bold"));
    lt_font_close(bold);
    unsetenv("LTRAIN_FONT");
    lt_font_close(NULL);
}
END_TEST

START_TEST(test_grid)
{
    const int64_t B = 5, H = 2, W = 3;
    lt_tensor *t = canvas_new(B, H, W, 0);
    for (int64_t b = 0; b < B; b++)
        for (int c = 0; c < 3; c++)
            for (int64_t i = 0; i < H * W; i++) lt_u8(t)[(b * 3 + c) * H * W + i] = (uint8_t)(b * 40 + c * 10 + i);
    const lt_rgb bg = {7, 8, 9};
    lt_tensor *g = lt_draw_grid(t, 0, 1, bg); /* 3 columns, 2 rows */
    ck_assert_msg(g != NULL, "%s", lt_last_error());
    ck_assert_int_eq(g->ndim, 3);
    ck_assert_int_eq(g->shape[0], 2 * (H + 1) + 1);
    ck_assert_int_eq(g->shape[1], 3 * (W + 1) + 1);
    ck_assert_int_eq(g->shape[2], 3);
    const int64_t GW = g->shape[1];
    for (int64_t y = 0; y < g->shape[0]; y++)
        for (int64_t x = 0; x < GW; x++) {
            const int64_t row = (y - 1) / (H + 1), col = (x - 1) / (W + 1);
            const int64_t iy = (y - 1) % (H + 1), ix = (x - 1) % (W + 1);
            const int64_t b = row * 3 + col;
            const bool image = y >= 1 && x >= 1 && iy < H && ix < W && b < B;
            for (int c = 0; c < 3; c++) {
                const uint8_t want = image ? (uint8_t)(b * 40 + c * 10 + iy * W + ix) : (&bg.r)[c];
                ck_assert_msg(lt_u8(g)[(y * GW + x) * 3 + c] == want, "grid (%lld,%lld) c%d", (long long)x,
                              (long long)y, c);
            }
        }
    lt_tensor_free(g);
    /* Explicit columns, no margin: one row. */
    g = lt_draw_grid(t, 8, 0, bg);
    ck_assert_int_eq(g->shape[0], H);
    ck_assert_int_eq(g->shape[1], B * W);
    lt_tensor_free(g);
    ck_assert_ptr_null(lt_draw_grid(t, 2, -1, bg));
    ck_assert_ptr_nonnull(strstr(lt_last_error(), "margin"));
    lt_tensor *f = lt_tensor_new(LT_F32, 3, (const int64_t[]){3, 2, 2});
    ck_assert_ptr_null(lt_draw_grid(f, 1, 1, bg));
    ck_assert_ptr_nonnull(strstr(lt_last_error(), "[3,2,2]"));
    lt_tensor_free(f);
    lt_tensor_free(t);
}
END_TEST

static Suite *draw_suite(void)
{
    Suite *s = suite_create("draw");
    TCase *tc = tcase_create("draw");
    tcase_add_test(tc, test_rectangles);
    tcase_add_test(tc, test_blend);
    tcase_add_test(tc, test_lines);
    tcase_add_test(tc, test_hwc_and_canvas_errors);
    tcase_add_test(tc, test_text_ink_inside_box);
    tcase_add_test(tc, test_text_background_and_clipping);
    tcase_add_test(tc, test_missing_font);
    tcase_add_test(tc, test_grid);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) { return fx_run_suite(draw_suite()); }

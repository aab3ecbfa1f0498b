/* ltrain SDK — drawing on uint8 images, for visualizers.
 *
 * Everything draws on an lt_draw_image: a view of 8-bit RGB pixels with
 * explicit strides, so the same calls draw on a visualizer canvas (planar,
 * one image of a uint8 [B,3,H,W] tensor) and on packed HWC buffers (PNG
 * rows, the grid helper's output). Coordinates are integer pixels, x to the
 * right and y down, (0, 0) the top-left pixel; everything is clipped to the
 * image, so any coordinates are safe.
 *
 * Text is rendered with FreeType from a TrueType font (DejaVu Sans by
 * default, see lt_font_open) with anti-aliasing, alpha-blended onto the image.
 * An lt_font is not thread-safe: use one per thread.
 *
 * Errors follow common.h: -1 / NULL with a message for lt_last_error(). */
#ifndef LTRAIN_DRAW_H
#define LTRAIN_DRAW_H

#include "tensor.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct lt_rgb {
    uint8_t r, g, b;
} lt_rgb;

/* 8-bit RGB pixels: channel c of pixel (x, y) is at
 * data[y * row_stride + x * pixel_stride + c * channel_stride]. */
typedef struct lt_draw_image {
    uint8_t *data;
    int width, height;
    int64_t row_stride, pixel_stride, channel_stride;
} lt_draw_image;

/* Image b of a visualizer canvas, uint8 [B,3,H,W] (planar). -1 with an error
 * naming the shape on any other tensor or an out-of-range b. */
LT_API int lt_draw_image_from_canvas(lt_tensor *canvas, int64_t b, lt_draw_image *out);
/* A packed RGB buffer of h rows of w pixels (HWC, 3 bytes a pixel). */
LT_API lt_draw_image lt_draw_image_hwc(uint8_t *data, int width, int height);

/* ---- shapes (clipped; empty or inverted rectangles draw nothing) ---- */

/* The w x h rectangle whose top-left pixel is (x, y), filled. */
LT_API void lt_draw_fill_rect(lt_draw_image *img, int x, int y, int w, int h, lt_rgb color);
/* The same, blended: pixel = (1 - alpha) * pixel + alpha * color, alpha in [0, 1]. */
LT_API void lt_draw_blend_rect(lt_draw_image *img, int x, int y, int w, int h, lt_rgb color, float alpha);
/* The outline of the w x h rectangle at (x, y), `thickness` pixels wide,
 * drawn inside the rectangle (a thickness reaching the middle fills it). */
LT_API void lt_draw_rect(lt_draw_image *img, int x, int y, int w, int h, lt_rgb color, int thickness);
/* The line from (x0, y0) to (x1, y1), both ends included (Bresenham). A
 * thickness t > 1 stamps a t x t square centred on each pixel of the line
 * (offsets -(t-1)/2 .. t/2). */
LT_API void lt_draw_line(lt_draw_image *img, int x0, int y0, int x1, int y1, lt_rgb color, int thickness);

/* ---- text ---- */

typedef struct lt_font lt_font;

/* Default font file, used when neither the argument nor LTRAIN_FONT names one. */
#define LT_DRAW_DEFAULT_FONT "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"

/* Opens a TrueType/OpenType font: `path`, else the LTRAIN_FONT environment
 * variable, else LT_DRAW_DEFAULT_FONT. NULL with an error naming the file
 * when it is missing or not a font (install fonts-dejavu-core or set
 * LTRAIN_FONT). */
LT_API lt_font *lt_font_open(const char *path);
LT_API void lt_font_close(lt_font *font); /* NULL is ignored */
LT_API const char *lt_font_path(const lt_font *font);

typedef struct lt_text_style {
    int size;           /* pixel size of the em (DejaVu capitals are ~0.73 of it) */
    lt_rgb color;
    int weight;         /* 1 = regular; each step emboldens strokes by ~size/24 px */
    bool background;    /* draw a box behind the text, for legibility */
    lt_rgb background_color;
    float background_alpha; /* 1 = opaque box */
    int padding;        /* pixels between the text and the box edge */
} lt_text_style;

/* The size of the box lt_draw_text fills for `text` (padding included):
 * width = advance of the text + 2 * padding, height = line height (ascender
 * minus descender) + 2 * padding. UTF-8; a newline starts a new line. */
LT_API int lt_text_size(lt_font *font, const char *text, const lt_text_style *style, int *width, int *height);
/* Draws UTF-8 `text` with the top-left corner of its box at (x, y); the
 * first baseline is at y + padding + ascender. Writes the box size to
 * *width / *height when not NULL. -1 with an error on a bad style or a
 * FreeType failure. */
LT_API int lt_draw_text(lt_draw_image *img, lt_font *font, int x, int y, const char *text,
                        const lt_text_style *style, int *width, int *height);

/* ---- layout ---- */

/* The B images of a uint8 [B,3,H,W] tensor tiled row-major into one owned
 * uint8 [GH,GW,3] (HWC RGB) tensor with `cols` columns (cols <= 0: the
 * smallest with cols * cols >= B) and `margin` pixels of `background` around
 * and between the images: GW = cols * (W + margin) + margin, likewise GH with
 * rows = ceil(B / cols). Free with lt_tensor_free. */
LT_API lt_tensor *lt_draw_grid(const lt_tensor *images, int cols, int margin, lt_rgb background);

#ifdef __cplusplus
}
#endif
#endif

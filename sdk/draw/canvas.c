/* Drawing primitives on strided 8-bit RGB images, and the image grid. */
#include <ltrain/draw.h>

#include <math.h>
#include <stdlib.h>
#include <string.h>

LT_API int lt_draw_image_from_canvas(lt_tensor *canvas, int64_t b, lt_draw_image *out)
{
    char shape[64];
    if (!canvas || !out) return lt_set_error("draw: canvas is NULL");
    if (canvas->dtype != LT_U8 || canvas->ndim != 4 || canvas->shape[1] != 3)
        return lt_set_error("draw: a canvas must be uint8 [B,3,H,W], got %s %s", lt_dtype_name(canvas->dtype),
                            lt_shape_str(canvas, shape, sizeof shape));
    if (b < 0 || b >= canvas->shape[0])
        return lt_set_error("draw: image %lld is outside canvas %s", (long long)b,
                            lt_shape_str(canvas, shape, sizeof shape));
    if (canvas->shape[2] > INT32_MAX || canvas->shape[3] > INT32_MAX)
        return lt_set_error("draw: canvas %s is too large", lt_shape_str(canvas, shape, sizeof shape));
    const int64_t plane = canvas->shape[2] * canvas->shape[3];
    *out = (lt_draw_image){
        .data = lt_u8(canvas) + b * 3 * plane,
        .width = (int)canvas->shape[3],
        .height = (int)canvas->shape[2],
        .row_stride = canvas->shape[3],
        .pixel_stride = 1,
        .channel_stride = plane,
    };
    return 0;
}

LT_API lt_draw_image lt_draw_image_hwc(uint8_t *data, int width, int height)
{
    return (lt_draw_image){.data = data,
                           .width = width,
                           .height = height,
                           .row_stride = (int64_t)width * 3,
                           .pixel_stride = 3,
                           .channel_stride = 1};
}

/* Clips [x, x + w) x [y, y + h) to the image; false when nothing is left. */
static bool clip_rect(const lt_draw_image *img, int *x, int *y, int *w, int *h)
{
    int64_t x0 = *x, y0 = *y, x1 = (int64_t)*x + *w, y1 = (int64_t)*y + *h;
    if (x0 < 0) x0 = 0;
    if (y0 < 0) y0 = 0;
    if (x1 > img->width) x1 = img->width;
    if (y1 > img->height) y1 = img->height;
    if (x0 >= x1 || y0 >= y1) return false;
    *x = (int)x0, *y = (int)y0, *w = (int)(x1 - x0), *h = (int)(y1 - y0);
    return true;
}

LT_API void lt_draw_fill_rect(lt_draw_image *img, int x, int y, int w, int h, lt_rgb color)
{
    if (!img || !img->data || !clip_rect(img, &x, &y, &w, &h)) return;
    const uint8_t rgb[3] = {color.r, color.g, color.b};
    for (int c = 0; c < 3; c++)
        for (int r = y; r < y + h; r++) {
            uint8_t *p = img->data + r * img->row_stride + (int64_t)x * img->pixel_stride + c * img->channel_stride;
            for (int i = 0; i < w; i++) p[i * img->pixel_stride] = rgb[c];
        }
}

/* (1 - a) * dst + a * src with a in [0, 256], rounded to nearest. */
static inline uint8_t blend(uint8_t dst, uint8_t src, int a)
{
    return (uint8_t)((dst * (256 - a) + src * a + 128) >> 8);
}

LT_API void lt_draw_blend_rect(lt_draw_image *img, int x, int y, int w, int h, lt_rgb color, float alpha)
{
    if (!(alpha > 0.0f)) return; /* also NaN */
    if (alpha >= 1.0f) {
        lt_draw_fill_rect(img, x, y, w, h, color);
        return;
    }
    if (!img || !img->data || !clip_rect(img, &x, &y, &w, &h)) return;
    const int a = (int)lroundf(alpha * 256.0f);
    const uint8_t rgb[3] = {color.r, color.g, color.b};
    for (int c = 0; c < 3; c++)
        for (int r = y; r < y + h; r++) {
            uint8_t *p = img->data + r * img->row_stride + (int64_t)x * img->pixel_stride + c * img->channel_stride;
            for (int i = 0; i < w; i++) p[i * img->pixel_stride] = blend(p[i * img->pixel_stride], rgb[c], a);
        }
}

LT_API void lt_draw_rect(lt_draw_image *img, int x, int y, int w, int h, lt_rgb color, int thickness)
{
    if (w <= 0 || h <= 0 || thickness <= 0) return;
    const int tx = thickness < w ? thickness : w, ty = thickness < h ? thickness : h;
    lt_draw_fill_rect(img, x, y, w, ty, color);                   /* top */
    lt_draw_fill_rect(img, x, y + h - ty, w, ty, color);          /* bottom */
    lt_draw_fill_rect(img, x, y + ty, tx, h - 2 * ty, color);     /* left */
    lt_draw_fill_rect(img, x + w - tx, y + ty, tx, h - 2 * ty, color); /* right */
}

LT_API void lt_draw_line(lt_draw_image *img, int x0, int y0, int x1, int y1, lt_rgb color, int thickness)
{
    if (!img || thickness <= 0) return;
    /* Bresenham in 64-bit so extreme coordinates cannot overflow; the walk is
     * clipped by skipping, bounded by the image so huge lines stay cheap. */
    int64_t x = x0, y = y0;
    const int64_t dx = llabs((int64_t)x1 - x0), dy = -llabs((int64_t)y1 - y0);
    const int sx = x0 < x1 ? 1 : -1, sy = y0 < y1 ? 1 : -1;
    const int lo = -(thickness - 1) / 2;
    int64_t err = dx + dy;
    for (;;) {
        const bool near = x >= -thickness && x <= (int64_t)img->width + thickness && y >= -thickness &&
                          y <= (int64_t)img->height + thickness;
        if (near) lt_draw_fill_rect(img, (int)x + lo, (int)y + lo, thickness, thickness, color);
        else if ((sx > 0 ? x > img->width + thickness : x < -thickness) ||
                 (sy > 0 ? y > img->height + thickness : y < -thickness))
            break; /* moving away from the image: nothing more to draw */
        if (x == x1 && y == y1) break;
        const int64_t e2 = 2 * err;
        if (e2 >= dy) err += dy, x += sx;
        if (e2 <= dx) err += dx, y += sy;
    }
}

LT_API lt_tensor *lt_draw_grid(const lt_tensor *images, int cols, int margin, lt_rgb background)
{
    char shape[64];
    if (!images) {
        lt_set_error("draw_grid: images is NULL");
        return NULL;
    }
    if (images->dtype != LT_U8 || images->ndim != 4 || images->shape[1] != 3 || images->shape[0] < 1) {
        lt_set_error("draw_grid: images must be uint8 [B,3,H,W] with B >= 1, got %s %s",
                     lt_dtype_name(images->dtype), lt_shape_str(images, shape, sizeof shape));
        return NULL;
    }
    if (margin < 0) {
        lt_set_error("draw_grid: margin must be >= 0, got %d", margin);
        return NULL;
    }
    const int64_t B = images->shape[0], H = images->shape[2], W = images->shape[3];
    if (cols <= 0) {
        cols = 1;
        while ((int64_t)cols * cols < B) cols++;
    }
    if (cols > B) cols = (int)B;
    const int64_t rows = (B + cols - 1) / cols;
    const int64_t out_shape[3] = {rows * (H + margin) + margin, cols * (W + margin) + margin, 3};
    lt_tensor *grid = lt_tensor_new(LT_U8, 3, out_shape);
    if (!grid) return NULL;
    uint8_t *out = lt_u8(grid);
    const uint8_t bg[3] = {background.r, background.g, background.b};
    for (int64_t i = 0; i < out_shape[0] * out_shape[1]; i++) memcpy(out + 3 * i, bg, 3);
    const int64_t plane = H * W;
    for (int64_t b = 0; b < B; b++) {
        const int64_t top = margin + (b / cols) * (H + margin), left = margin + (b % cols) * (W + margin);
        const uint8_t *src = lt_u8(images) + b * 3 * plane;
        for (int64_t r = 0; r < H; r++) {
            uint8_t *dst = out + ((top + r) * out_shape[1] + left) * 3;
            for (int64_t x = 0; x < W; x++)
                for (int c = 0; c < 3; c++) dst[x * 3 + c] = src[c * plane + r * W + x];
        }
    }
    return grid;
}

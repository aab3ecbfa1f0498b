/* Preprocessing and augmentation of one sample, in the reference's order
 * (luxonis-ml AlbumentationsEngine): spatial augmentations (labels move
 * with the pixels), then resize or letterbox to train_image_size, then
 * pixel augmentations (resize goes first when it shrinks the image, last
 * when it enlarges it), then colour space and normalisation into float32
 * CHW. Images stay 8-bit between steps, rounded after each one, as the
 * reference's uint8 pipeline does. */
#define _POSIX_C_SOURCE 200809L
#include "data.h"

#include "registry.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static float uniform(lt_rng *rng, const float range[2])
{
    return range[0] + (range[1] - range[0]) * lt_rng_uniform(rng);
}

static uint8_t clamp_u8(float v)
{
    return v <= 0 ? 0 : v >= 255 ? 255 : (uint8_t)lrintf(v);
}

void lt_sample_rng(lt_rng *rng, uint64_t seed, int64_t epoch, int64_t index)
{
    lt_rng_seed(rng, lt_hash64(lt_hash64(lt_hash64(seed) ^ (uint64_t)epoch) ^ (uint64_t)index));
}

lt_stage lt_stage_of_view(const char *view)
{
    if (view && strstr(view, "train")) return LT_STAGE_TRAIN;
    return view && !strcmp(view, "test") ? LT_STAGE_TEST : LT_STAGE_VAL;
}

/* ------------------------------------------------------------------ */
/* Geometry on samples                                                 */
/* ------------------------------------------------------------------ */

static void set_keypoint_visibility(lt_sample *s)
{
    for (int k = 0; k < s->n_keypoints; k++) {
        float x = s->keypoints[3 * k], y = s->keypoints[3 * k + 1];
        if (x < 0 || x > 1 || y < 0 || y > 1) s->keypoints[3 * k + 2] = 0;
    }
}

void lt_aug_hflip(lt_sample *s)
{
    lt_image *im = &s->image;
    for (int y = 0; y < im->h; y++) {
        uint8_t *row = im->px + (size_t)y * im->w * im->c;
        uint8_t *mrow = s->mask ? s->mask + (size_t)y * im->w : NULL;
        for (int a = 0, b = im->w - 1; a < b; a++, b--) {
            for (int c = 0; c < im->c; c++) {
                uint8_t t = row[a * im->c + c];
                row[a * im->c + c] = row[b * im->c + c], row[b * im->c + c] = t;
            }
            if (mrow) {
                uint8_t t = mrow[a];
                mrow[a] = mrow[b], mrow[b] = t;
            }
        }
    }
    s->box[0] = 1 - s->box[0] - s->box[2];
    for (int k = 0; k < s->n_keypoints; k++) s->keypoints[3 * k] = 1 - s->keypoints[3 * k];
}

static void swap_rows(uint8_t *a, uint8_t *b, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        uint8_t t = a[i];
        a[i] = b[i], b[i] = t;
    }
}

void lt_aug_vflip(lt_sample *s)
{
    lt_image *im = &s->image;
    size_t row = (size_t)im->w * im->c;
    for (int a = 0, b = im->h - 1; a < b; a++, b--) {
        swap_rows(im->px + a * row, im->px + b * row, row);
        if (s->mask) swap_rows(s->mask + (size_t)a * im->w, s->mask + (size_t)b * im->w, (size_t)im->w);
    }
    s->box[1] = 1 - s->box[1] - s->box[3];
    for (int k = 0; k < s->n_keypoints; k++) s->keypoints[3 * k + 1] = 1 - s->keypoints[3 * k + 1];
}

/* One counter-clockwise quarter turn: out[i][j] = in[j][w-1-i]. */
static int rot90_once(lt_sample *s)
{
    lt_image *im = &s->image, out;
    if (lt_image_alloc(&out, im->w, im->h, im->c)) return -1;
    uint8_t *mask = s->mask ? malloc((size_t)im->h * im->w) : NULL;
    if (s->mask && !mask) {
        lt_image_free(&out);
        return lt_set_error("augment: out of memory");
    }
    for (int i = 0; i < out.h; i++)
        for (int j = 0; j < out.w; j++) {
            size_t src = (size_t)j * im->w + (im->w - 1 - i), dst = (size_t)i * out.w + j;
            memcpy(out.px + dst * out.c, im->px + src * im->c, (size_t)im->c);
            if (mask) mask[dst] = s->mask[src];
        }
    lt_image_free(im);
    *im = out;
    if (mask) free(s->mask), s->mask = mask;
    float b[4] = {s->box[0], s->box[1], s->box[2], s->box[3]};
    s->box[0] = b[1], s->box[1] = 1 - b[0] - b[2], s->box[2] = b[3], s->box[3] = b[2];
    for (int k = 0; k < s->n_keypoints; k++) {
        float x = s->keypoints[3 * k];
        s->keypoints[3 * k] = s->keypoints[3 * k + 1];
        s->keypoints[3 * k + 1] = 1 - x;
    }
    return 0;
}

int lt_aug_rot90(lt_sample *s, int k)
{
    k = ((k % 4) + 4) % 4;
    for (int i = 0; i < k; i++)
        if (rot90_once(s)) return -1;
    return 0;
}

/* ---- resampling ---- */

/* Source taps of every output position along one axis. */
typedef struct taps {
    int *first, *count;
    float *weight; /* count[o] weights at o * stride */
    int stride;
} taps;

static void taps_free(taps *t)
{
    free(t->first), free(t->count), free(t->weight);
}

/* Enlarging: bilinear on pixel centres (src = (o + 0.5) * in / out - 0.5,
 * clamped at the borders). Shrinking: the exact average of the source
 * interval [o, o+1) * in / out, partial pixels weighted by their overlap
 * (OpenCV's INTER_AREA), so no source pixel is skipped. */
static int taps_make(taps *t, int in, int out)
{
    double scale = (double)in / out;
    t->stride = out >= in ? 2 : (int)ceil(scale) + 1;
    t->first = malloc(sizeof *t->first * (size_t)out);
    t->count = malloc(sizeof *t->count * (size_t)out);
    t->weight = calloc((size_t)out * t->stride, sizeof *t->weight);
    if (!t->first || !t->count || !t->weight) {
        taps_free(t);
        return lt_set_error("resize: out of memory");
    }
    for (int o = 0; o < out; o++) {
        float *w = t->weight + (size_t)o * t->stride;
        if (out >= in) {
            double src = (o + 0.5) * scale - 0.5;
            src = src < 0 ? 0 : src > in - 1 ? in - 1 : src;
            int i0 = (int)floor(src);
            int i1 = i0 + 1 < in ? i0 + 1 : i0;
            t->first[o] = i0, t->count[o] = i1 > i0 ? 2 : 1;
            w[0] = (float)(1 - (src - i0)), w[1] = (float)(src - i0);
            if (t->count[o] == 1) w[0] = 1;
            continue;
        }
        double lo = o * scale, hi = (o + 1) * scale;
        int i0 = (int)floor(lo), n = 0;
        for (int i = i0; i < in && i < hi; i++) {
            double overlap = fmin(hi, i + 1.0) - fmax(lo, (double)i);
            if (overlap > 1e-9) w[n++] = (float)(overlap / scale);
            else if (n == 0) i0++;
        }
        t->first[o] = i0, t->count[o] = n;
    }
    return 0;
}

static int resize_image(lt_image *im, int oh, int ow)
{
    taps tx = {0}, ty = {0};
    lt_image out;
    int c = im->c;
    float *tmp = malloc(sizeof *tmp * (size_t)im->h * ow * c);
    if (!tmp || taps_make(&tx, im->w, ow) || taps_make(&ty, im->h, oh) || lt_image_alloc(&out, oh, ow, c)) {
        free(tmp), taps_free(&tx), taps_free(&ty);
        return lt_set_error("resize: out of memory resizing %dx%d to %dx%d", im->h, im->w, oh, ow);
    }
    for (int y = 0; y < im->h; y++)
        for (int x = 0; x < ow; x++)
            for (int ch = 0; ch < c; ch++) {
                float acc = 0;
                const float *w = tx.weight + (size_t)x * tx.stride;
                for (int k = 0; k < tx.count[x]; k++)
                    acc += w[k] * im->px[((size_t)y * im->w + tx.first[x] + k) * c + ch];
                tmp[((size_t)y * ow + x) * c + ch] = acc;
            }
    for (int y = 0; y < oh; y++) {
        const float *w = ty.weight + (size_t)y * ty.stride;
        for (size_t i = 0; i < (size_t)ow * c; i++) {
            float acc = 0;
            for (int k = 0; k < ty.count[y]; k++) acc += w[k] * tmp[(size_t)(ty.first[y] + k) * ow * c + i];
            out.px[(size_t)y * ow * c + i] = clamp_u8(acc);
        }
    }
    free(tmp), taps_free(&tx), taps_free(&ty);
    lt_image_free(im);
    *im = out;
    return 0;
}

/* Masks are labels: nearest source pixel by centre, no blending. */
static int resize_mask(uint8_t **mask, int h, int w, int oh, int ow)
{
    if (!*mask) return 0;
    uint8_t *out = malloc((size_t)oh * ow);
    if (!out) return lt_set_error("resize: out of memory");
    for (int y = 0; y < oh; y++) {
        int sy = (int)(((double)y + 0.5) * h / oh);
        for (int x = 0; x < ow; x++) {
            int sx = (int)(((double)x + 0.5) * w / ow);
            out[(size_t)y * ow + x] = (*mask)[(size_t)(sy < h ? sy : h - 1) * w + (sx < w ? sx : w - 1)];
        }
    }
    free(*mask);
    *mask = out;
    return 0;
}

int lt_aug_resize(lt_sample *s, int h, int w)
{
    if (h <= 0 || w <= 0) return lt_set_error("resize: bad target size %dx%d", h, w);
    if (s->image.h == h && s->image.w == w) return 0;
    int ih = s->image.h, iw = s->image.w;
    if (resize_mask(&s->mask, ih, iw, h, w)) return -1;
    return resize_image(&s->image, h, w); /* normalised labels do not move */
}

/* Copies rows/columns [y, y+h) x [x, x+w) into a new image (and mask). */
static int crop(lt_sample *s, int x, int y, int w, int h)
{
    lt_image out;
    int c = s->image.c, iw = s->image.w;
    if (lt_image_alloc(&out, h, w, c)) return -1;
    uint8_t *mask = s->mask ? malloc((size_t)h * w) : NULL;
    if (s->mask && !mask) {
        lt_image_free(&out);
        return lt_set_error("crop: out of memory");
    }
    for (int r = 0; r < h; r++) {
        memcpy(out.px + (size_t)r * w * c, s->image.px + ((size_t)(y + r) * iw + x) * c, (size_t)w * c);
        if (mask) memcpy(mask + (size_t)r * w, s->mask + (size_t)(y + r) * iw + x, (size_t)w);
    }
    lt_image_free(&s->image);
    s->image = out;
    if (mask) free(s->mask), s->mask = mask;
    return 0;
}

/* Labels into the crop's frame: the box is clipped (and dropped when
 * nothing is left), keypoints outside become invisible. */
static void crop_labels(lt_sample *s, int iw, int ih, int x, int y, int w, int h)
{
    float x0 = fmaxf(s->box[0] * (float)iw, (float)x), y0 = fmaxf(s->box[1] * (float)ih, (float)y);
    float x1 = fminf((s->box[0] + s->box[2]) * (float)iw, (float)(x + w));
    float y1 = fminf((s->box[1] + s->box[3]) * (float)ih, (float)(y + h));
    if (s->has_box && (x1 <= x0 || y1 <= y0)) s->has_box = false;
    if (s->has_box) {
        s->box[0] = (x0 - (float)x) / (float)w, s->box[1] = (y0 - (float)y) / (float)h;
        s->box[2] = (x1 - x0) / (float)w, s->box[3] = (y1 - y0) / (float)h;
    }
    for (int k = 0; k < s->n_keypoints; k++) {
        s->keypoints[3 * k] = (s->keypoints[3 * k] * (float)iw - (float)x) / (float)w;
        s->keypoints[3 * k + 1] = (s->keypoints[3 * k + 1] * (float)ih - (float)y) / (float)h;
    }
    set_keypoint_visibility(s);
}

int lt_aug_crop_resize(lt_sample *s, int x, int y, int w, int h, int out_h, int out_w)
{
    int iw = s->image.w, ih = s->image.h;
    if (w <= 0 || h <= 0 || x < 0 || y < 0 || x + w > iw || y + h > ih)
        return lt_set_error("crop: rectangle x=%d y=%d w=%d h=%d is not inside the %dx%d image", x, y, w, h, ih, iw);
    if (crop(s, x, y, w, h)) return -1;
    crop_labels(s, iw, ih, x, y, w, h);
    return lt_aug_resize(s, out_h, out_w);
}

int lt_aug_letterbox(lt_sample *s, int h, int w)
{
    int ih = s->image.h, iw = s->image.w;
    if (h <= 0 || w <= 0) return lt_set_error("letterbox: bad target size %dx%d", h, w);
    if (ih == h && iw == w) return 0;
    double scale = fmin((double)h / ih, (double)w / iw);
    int nh = (int)lround(ih * scale), nw = (int)lround(iw * scale);
    nh = nh < 1 ? 1 : nh > h ? h : nh, nw = nw < 1 ? 1 : nw > w ? w : nw;
    if (lt_aug_resize(s, nh, nw)) return -1;
    int top = (h - nh) / 2, left = (w - nw) / 2, c = s->image.c;
    lt_image out;
    uint8_t *mask = s->mask ? calloc((size_t)h * w, 1) : NULL;
    if (lt_image_alloc(&out, h, w, c) || (s->mask && !mask)) {
        free(mask);
        lt_image_free(&out);
        return lt_set_error("letterbox: out of memory");
    }
    for (int r = 0; r < nh; r++) {
        memcpy(out.px + ((size_t)(top + r) * w + left) * c, s->image.px + (size_t)r * nw * c, (size_t)nw * c);
        if (mask) memcpy(mask + (size_t)(top + r) * w + left, s->mask + (size_t)r * nw, (size_t)nw);
    }
    lt_image_free(&s->image);
    s->image = out;
    if (mask) free(s->mask), s->mask = mask;
    float fx = (float)nw / (float)w, fy = (float)nh / (float)h;
    float ox = (float)left / (float)w, oy = (float)top / (float)h;
    s->box[0] = s->box[0] * fx + ox, s->box[1] = s->box[1] * fy + oy;
    s->box[2] *= fx, s->box[3] *= fy;
    for (int k = 0; k < s->n_keypoints; k++) {
        s->keypoints[3 * k] = s->keypoints[3 * k] * fx + ox;
        s->keypoints[3 * k + 1] = s->keypoints[3 * k + 1] * fy + oy;
    }
    return 0;
}

/* torchvision RandomResizedCrop.get_params: ten tries at a random area
 * and log-uniform aspect ratio, then a centre crop clamped to the ratio
 * range. */
static void resized_crop_rect(lt_rng *rng, const lt_aug *a, int ih, int iw, int r[4])
{
    double area = (double)ih * iw;
    float log_ratio[2] = {logf(a->ratio[0]), logf(a->ratio[1])};
    for (int attempt = 0; attempt < 10; attempt++) {
        double target = area * uniform(rng, a->scale);
        double aspect = exp(uniform(rng, log_ratio));
        int w = (int)lround(sqrt(target * aspect)), h = (int)lround(sqrt(target / aspect));
        if (w > 0 && w <= iw && h > 0 && h <= ih) {
            r[1] = (int)lt_rng_below(rng, (uint64_t)(ih - h + 1));
            r[0] = (int)lt_rng_below(rng, (uint64_t)(iw - w + 1));
            r[2] = w, r[3] = h;
            return;
        }
    }
    double in_ratio = (double)iw / ih;
    int w = iw, h = ih;
    if (in_ratio < a->ratio[0]) h = (int)lround(w / a->ratio[0]);
    else if (in_ratio > a->ratio[1]) w = (int)lround(h * a->ratio[1]);
    r[0] = (iw - w) / 2, r[1] = (ih - h) / 2, r[2] = w, r[3] = h;
}

/* ------------------------------------------------------------------ */
/* Pixel transforms                                                    */
/* ------------------------------------------------------------------ */

/* OpenCV's RGB2GRAY weights. */
static float luma(const uint8_t *p)
{
    return 0.299f * p[0] + 0.587f * p[1] + 0.114f * p[2];
}

static float mean_gray(const lt_image *im)
{
    double sum = 0;
    size_t n = (size_t)im->h * im->w;
    for (size_t i = 0; i < n; i++) sum += clamp_u8(luma(im->px + 3 * i));
    return (float)(sum / (double)n);
}

/* x * alpha + beta for every sample, rounded and clamped. */
static void affine_pixels(lt_image *im, float alpha, float beta)
{
    uint8_t lut[256];
    for (int v = 0; v < 256; v++) lut[v] = clamp_u8((float)v * alpha + beta);
    size_t n = (size_t)im->h * im->w * im->c;
    for (size_t i = 0; i < n; i++) im->px[i] = lut[im->px[i]];
}

static void saturate(lt_image *im, float f)
{
    size_t n = (size_t)im->h * im->w;
    for (size_t i = 0; i < n; i++) {
        uint8_t *p = im->px + 3 * i;
        float g = (float)clamp_u8(luma(p)) * (1 - f);
        for (int c = 0; c < 3; c++) p[c] = clamp_u8((float)p[c] * f + g);
    }
}

/* Hue rotation by `shift` turns through HSV (value and saturation kept). */
static void hue_shift(lt_image *im, float shift)
{
    size_t n = (size_t)im->h * im->w;
    for (size_t i = 0; i < n; i++) {
        uint8_t *p = im->px + 3 * i;
        float r = p[0] / 255.0f, g = p[1] / 255.0f, b = p[2] / 255.0f;
        float mx = fmaxf(r, fmaxf(g, b)), mn = fminf(r, fminf(g, b)), d = mx - mn;
        if (d <= 0) continue; /* gray: no hue */
        float h = mx == r ? (g - b) / d : mx == g ? 2 + (b - r) / d : 4 + (r - g) / d;
        h = h / 6 + shift;
        h -= floorf(h);
        float s = d / mx, v = mx, hh = h * 6;
        int sector = (int)hh % 6;
        float f = hh - floorf(hh), pv = v * (1 - s), qv = v * (1 - s * f), tv = v * (1 - s * (1 - f));
        float rgb[6][3] = {{v, tv, pv}, {qv, v, pv}, {pv, v, tv}, {pv, qv, v}, {tv, pv, v}, {v, pv, qv}};
        for (int c = 0; c < 3; c++) p[c] = clamp_u8(rgb[sector][c] * 255.0f);
    }
}

/* ColorJitter: factors drawn first, then applied in a random order. */
static void color_jitter(lt_image *im, const lt_aug *a, lt_rng *rng)
{
    float f[4];
    int order[4] = {0, 1, 2, 3};
    for (int i = 0; i < 4; i++) f[i] = uniform(rng, a->jitter[i]);
    for (int i = 3; i > 0; i--) {
        int j = (int)lt_rng_below(rng, (uint64_t)i + 1), t = order[i];
        order[i] = order[j], order[j] = t;
    }
    for (int i = 0; i < 4; i++) {
        switch (order[i]) {
        case 0: affine_pixels(im, f[0], 0); break;
        case 1: {
            float m = mean_gray(im);
            affine_pixels(im, f[1], m * (1 - f[1]));
            break;
        }
        case 2: saturate(im, f[2]); break;
        default: if (f[3] != 0) hue_shift(im, f[3]); break;
        }
    }
}

static void brightness_contrast(lt_image *im, const lt_aug *a, lt_rng *rng)
{
    float alpha = 1 + uniform(rng, a->contrast_limit), beta = uniform(rng, a->brightness_limit);
    float offset = a->brightness_by_max ? beta * 255.0f : beta * alpha * mean_gray(im);
    affine_pixels(im, alpha, offset);
}

/* ------------------------------------------------------------------ */
/* The pipeline                                                        */
/* ------------------------------------------------------------------ */

static bool is_spatial(lt_aug_kind k)
{
    return k == LT_AUG_HFLIP || k == LT_AUG_VFLIP || k == LT_AUG_ROTATE90 || k == LT_AUG_RESIZED_CROP;
}

/* Draws whether `a` runs; every augmentation of the stage draws, applied
 * or not, so later draws do not depend on earlier outcomes' count. */
static bool fires(const lt_aug *a, lt_stage stage, lt_rng *rng)
{
    if (!(a->stages & stage)) return false;
    return lt_rng_uniform(rng) < a->p;
}

static int run_spatial(const lt_preprocess *pp, const lt_aug *a, lt_rng *rng, lt_sample *s)
{
    switch (a->kind) {
    case LT_AUG_HFLIP: lt_aug_hflip(s); return 0;
    case LT_AUG_VFLIP: lt_aug_vflip(s); return 0;
    case LT_AUG_ROTATE90: return lt_aug_rot90(s, (int)lt_rng_below(rng, 4));
    default: {
        int r[4];
        resized_crop_rect(rng, a, s->image.h, s->image.w, r);
        int oh = a->height > 0 ? a->height : pp->height, ow = a->width > 0 ? a->width : pp->width;
        return lt_aug_crop_resize(s, r[0], r[1], r[2], r[3], oh, ow);
    }
    }
}

static int fit(const lt_preprocess *pp, lt_sample *s)
{
    return pp->keep_aspect_ratio ? lt_aug_letterbox(s, pp->height, pp->width)
                                 : lt_aug_resize(s, pp->height, pp->width);
}

static void write_chw(const lt_preprocess *pp, const lt_image *im, float *out)
{
    size_t n = (size_t)im->h * im->w;
    float mean[3], inv[3];
    for (int c = 0; c < 3; c++) {
        mean[c] = pp->normalize ? pp->mean[c] : 0;
        inv[c] = pp->normalize ? 1.0f / (255.0f * pp->std[c]) : 1.0f / 255.0f;
    }
    if (pp->color_space == LT_GRAY) {
        float m = (mean[0] + mean[1] + mean[2]) / 3, iv = 3 / (1 / inv[0] + 1 / inv[1] + 1 / inv[2]);
        for (size_t i = 0; i < n; i++) out[i] = ((float)clamp_u8(luma(im->px + 3 * i)) - 255.0f * m) * iv;
        return;
    }
    for (int c = 0; c < 3; c++) {
        int src = pp->color_space == LT_BGR ? 2 - c : c;
        float *o = out + (size_t)c * n;
        for (size_t i = 0; i < n; i++) o[i] = ((float)im->px[3 * i + src] - 255.0f * mean[c]) * inv[c];
    }
}

int lt_preprocess_apply(const lt_preprocess *pp, lt_stage stage, lt_rng *rng, lt_sample *s, float *out)
{
    if (s->image.c != 3 || !s->image.px) return lt_set_error("preprocess: expected an RGB image");
    for (int i = 0; i < pp->n_augs; i++)
        if (is_spatial(pp->augs[i].kind) && fires(&pp->augs[i], stage, rng) && run_spatial(pp, &pp->augs[i], rng, s))
            return -1;
    bool shrinks = (int64_t)s->image.h * s->image.w > (int64_t)pp->height * pp->width;
    if (shrinks && fit(pp, s)) return -1;
    for (int i = 0; i < pp->n_augs; i++) {
        const lt_aug *a = &pp->augs[i];
        if (is_spatial(a->kind) || !fires(a, stage, rng)) continue;
        if (a->kind == LT_AUG_COLOR_JITTER) color_jitter(&s->image, a, rng);
        else brightness_contrast(&s->image, a, rng);
    }
    if (!shrinks && fit(pp, s)) return -1;
    write_chw(pp, &s->image, out);
    return 0;
}

int lt_preprocess_channels(const lt_preprocess *pp)
{
    return pp->color_space == LT_GRAY ? 1 : 3;
}

void lt_preprocess_to_rgb(const lt_preprocess *pp, const float *chw, uint8_t *out)
{
    size_t n = (size_t)pp->height * pp->width;
    for (int c = 0; c < 3; c++) {
        float mean = pp->normalize ? pp->mean[c] : 0, std = pp->normalize ? pp->std[c] : 1;
        if (pp->color_space == LT_GRAY) {
            mean = pp->normalize ? (pp->mean[0] + pp->mean[1] + pp->mean[2]) / 3 : 0;
            std = pp->normalize ? (pp->std[0] + pp->std[1] + pp->std[2]) / 3 : 1;
        }
        const float *in = chw + (pp->color_space == LT_GRAY ? 0 : (size_t)c * n);
        int dst = pp->color_space == LT_BGR ? 2 - c : c;
        for (size_t i = 0; i < n; i++) out[3 * i + dst] = clamp_u8((in[i] * std + mean) * 255.0f);
    }
}

/* ------------------------------------------------------------------ */
/* Configuration                                                       */
/* ------------------------------------------------------------------ */

void lt_preprocess_defaults(lt_preprocess *pp)
{
    *pp = (lt_preprocess){
        .height = 256,
        .width = 256,
        .keep_aspect_ratio = true,
        .color_space = LT_RGB,
        .normalize = true,
        .mean = {0.485f, 0.456f, 0.406f},
        .std = {0.229f, 0.224f, 0.225f},
    };
}

static const char *const aug_names[] = {
    "HorizontalFlip", "VerticalFlip", "RandomRotate90", "RandomResizedCrop", "ColorJitter",
    "RandomBrightnessContrast", "Normalize", NULL,
};

/* Valid params per augmentation name (index as aug_names). */
static const char *const aug_params[][8] = {
    {"p", NULL},
    {"p", NULL},
    {"p", NULL},
    {"p", "size", "height", "width", "scale", "ratio", NULL},
    {"p", "brightness", "contrast", "saturation", "hue", NULL},
    {"p", "brightness_limit", "contrast_limit", "brightness_by_max", NULL},
    {"p", "mean", "std", "max_pixel_value", NULL},
};

/* " (did you mean 'a', 'b'?)": the names of `valid` within an edit
 * distance of a third of the longer name (at least 2), closest first, at
 * most three; failing those, names that contain or start like `name`;
 * failing those, the whole list. */
static void suggest(const char *name, const char *const *valid, char *buf, size_t size)
{
    int order[16], dist[16], n = 0;
    for (int pass = 0; pass < 2 && n == 0; pass++)
        for (int i = 0; valid[i] && i < 16; i++) {
            int d = lt_edit_distance(name, valid[i]);
            int len = (int)(strlen(name) > strlen(valid[i]) ? strlen(name) : strlen(valid[i]));
            bool close = pass == 0 ? d <= (len / 3 > 2 ? len / 3 : 2)
                                   : strstr(valid[i], name) || strstr(name, valid[i]) || !strncasecmp(name, valid[i], 3);
            if (!close) continue;
            int j = n++;
            for (; j > 0 && dist[j - 1] > d; j--) order[j] = order[j - 1], dist[j] = dist[j - 1];
            order[j] = i, dist[j] = d;
        }
    size_t used = (size_t)snprintf(buf, size, n ? " (did you mean " : " (valid:");
    for (int i = 0; i < (n ? (n < 3 ? n : 3) : 16) && used < size; i++) {
        if (!n && !valid[i]) break;
        const char *v = n ? valid[order[i]] : valid[i];
        used += (size_t)snprintf(buf + used, size - used, n ? "%s'%s'" : "%s %s", i && n ? ", " : "", v);
    }
    if (used < size) snprintf(buf + used, size - used, n ? "?)" : ")");
}

/* Every key of map `m` must be one of `valid`. */
static int check_keys(const lt_cfg *m, const char *const *valid, const char *what)
{
    for (int i = 0; i < m->n; i++) {
        bool ok = false;
        for (int k = 0; valid[k] && !ok; k++) ok = !strcmp(m->keys[i], valid[k]);
        if (ok) continue;
        char hint[256];
        suggest(m->keys[i], valid, hint, sizeof hint);
        return lt_set_error("%s: %s.%s: unknown key%s", lt_cfg_where(m->items[i]), what, m->keys[i], hint);
    }
    return 0;
}

/* "base.key" into buf (truncated when too long). */
static const char *key_path(char *buf, size_t size, const char *base, const char *key)
{
    if (snprintf(buf, size, "%s.%s", base, key) >= (int)size) buf[size - 1] = 0;
    return buf;
}

static int expect_map(const lt_cfg *c, const char *what)
{
    if (c->type == LT_CFG_MAP) return 0;
    return lt_set_error("%s: %s: expected a map, got a %s", lt_cfg_where(c), what, lt_cfg_type_name(c->type));
}

static int read_f(const lt_cfg *c, const char *what, float *out)
{
    double v;
    if (lt_cfg_as_float(c, what, &v)) return -1;
    *out = (float)v;
    return 0;
}

/* A list of exactly n numbers. */
static int read_floats(const lt_cfg *c, const char *what, int n, float *out)
{
    if (c->type != LT_CFG_LIST || c->n != n)
        return lt_set_error("%s: %s: expected a list of %d numbers", lt_cfg_where(c), what, n);
    for (int i = 0; i < n; i++)
        if (read_f(c->items[i], what, &out[i])) return -1;
    return 0;
}

/* A [lo, hi] pair, or a scalar v meaning [center - v, center + v] (lo
 * clamped at `floor`). */
static int read_range(const lt_cfg *c, const char *what, float center, float floor_, float out[2])
{
    if (c->type == LT_CFG_LIST) {
        if (read_floats(c, what, 2, out)) return -1;
    } else {
        float v;
        if (read_f(c, what, &v)) return -1;
        if (v < 0) return lt_set_error("%s: %s: expected a value >= 0, got %g", lt_cfg_where(c), what, (double)v);
        out[0] = fmaxf(center - v, floor_), out[1] = center + v;
    }
    if (out[0] > out[1])
        return lt_set_error("%s: %s: range [%g, %g] is reversed", lt_cfg_where(c), what, (double)out[0],
                            (double)out[1]);
    return 0;
}

static int read_positive_pair(const lt_cfg *c, const char *what, float out[2])
{
    if (read_floats(c, what, 2, out)) return -1;
    if (!(out[0] > 0 && out[0] <= out[1]))
        return lt_set_error("%s: %s: expected 0 < min <= max, got [%g, %g]", lt_cfg_where(c), what, (double)out[0],
                            (double)out[1]);
    return 0;
}

static int read_size(const lt_cfg *c, const char *what, int *h, int *w)
{
    int64_t v[2];
    if (c->type == LT_CFG_LIST && c->n == 2) {
        for (int i = 0; i < 2; i++)
            if (lt_cfg_as_int(c->items[i], what, &v[i])) return -1;
    } else if (c->type == LT_CFG_SCALAR) {
        if (lt_cfg_as_int(c, what, &v[0])) return -1;
        v[1] = v[0];
    } else {
        return lt_set_error("%s: %s: expected [height, width]", lt_cfg_where(c), what);
    }
    if (v[0] < 1 || v[1] < 1 || v[0] > 16384 || v[1] > 16384)
        return lt_set_error("%s: %s: [%lld, %lld] is not a valid image size", lt_cfg_where(c), what, (long long)v[0],
                            (long long)v[1]);
    *h = (int)v[0], *w = (int)v[1];
    return 0;
}

static int read_stages(const lt_cfg *c, const char *what, unsigned *out)
{
    static const char *const names[] = {"train", "val", "test", NULL};
    if (c->type != LT_CFG_LIST) return lt_set_error("%s: %s: expected a list of stages", lt_cfg_where(c), what);
    *out = 0;
    for (int i = 0; i < c->n; i++) {
        const char *s;
        if (lt_cfg_as_str(c->items[i], what, &s)) return -1;
        int k = 0;
        while (names[k] && strcmp(names[k], s)) k++;
        if (!names[k]) {
            char hint[128];
            suggest(s, names, hint, sizeof hint);
            return lt_set_error("%s: %s: unknown stage '%s'%s", lt_cfg_where(c->items[i]), what, s, hint);
        }
        *out |= 1u << k;
    }
    return 0;
}

static void aug_defaults(lt_aug *a, lt_aug_kind kind)
{
    *a = (lt_aug){
        .kind = kind,
        .p = kind == LT_AUG_RESIZED_CROP ? 1.0f : 0.5f,
        .stages = LT_STAGE_TRAIN,
        .scale = {0.08f, 1.0f},
        .ratio = {0.75f, 4.0f / 3.0f},
        .jitter = {{0.8f, 1.2f}, {0.8f, 1.2f}, {0.8f, 1.2f}, {-0.2f, 0.2f}},
        .brightness_limit = {-0.2f, 0.2f},
        .contrast_limit = {-0.2f, 0.2f},
        .brightness_by_max = true,
    };
}

/* One param of an augmentation. */
static int read_param(lt_aug *a, const char *key, const lt_cfg *v, const char *what)
{
    static const char *const jitter_keys[] = {"brightness", "contrast", "saturation", "hue"};
    if (!strcmp(key, "p")) {
        if (read_f(v, what, &a->p)) return -1;
        if (a->p < 0 || a->p > 1)
            return lt_set_error("%s: %s: probability %g is outside [0, 1]", lt_cfg_where(v), what, (double)a->p);
        return 0;
    }
    if (!strcmp(key, "size")) return read_size(v, what, &a->height, &a->width);
    if (!strcmp(key, "height") || !strcmp(key, "width")) {
        int64_t n;
        if (lt_cfg_as_int(v, what, &n)) return -1;
        if (n < 1 || n > 16384) return lt_set_error("%s: %s: %lld is not a valid size", lt_cfg_where(v), what, (long long)n);
        *(key[0] == 'h' ? &a->height : &a->width) = (int)n;
        return 0;
    }
    if (!strcmp(key, "scale")) return read_positive_pair(v, what, a->scale);
    if (!strcmp(key, "ratio")) return read_positive_pair(v, what, a->ratio);
    for (int i = 0; i < 4; i++)
        if (!strcmp(key, jitter_keys[i])) {
            if (read_range(v, what, i == 3 ? 0.0f : 1.0f, i == 3 ? -0.5f : 0.0f, a->jitter[i])) return -1;
            if (i == 3 && (a->jitter[3][0] < -0.5f || a->jitter[3][1] > 0.5f))
                return lt_set_error("%s: %s: hue must lie in [-0.5, 0.5]", lt_cfg_where(v), what);
            return 0;
        }
    if (!strcmp(key, "brightness_limit")) return read_range(v, what, 0, -INFINITY, a->brightness_limit);
    if (!strcmp(key, "contrast_limit")) return read_range(v, what, 0, -INFINITY, a->contrast_limit);
    return lt_cfg_as_bool(v, what, &a->brightness_by_max); /* brightness_by_max: the only key left */
}

/* Normalize as an augmentation: its mean/std replace normalize.params. */
static int read_normalize_params(lt_preprocess *pp, const lt_cfg *params, const char *what)
{
    char key[200];
    for (int i = 0; params && i < params->n; i++) {
        key_path(key, sizeof key, what, params->keys[i]);
        const lt_cfg *v = lt_cfg_get(params, params->keys[i]);
        if (!strcmp(params->keys[i], "mean") && read_floats(v, key, 3, pp->mean)) return -1;
        if (!strcmp(params->keys[i], "std") && read_floats(v, key, 3, pp->std)) return -1;
        if (!strcmp(params->keys[i], "max_pixel_value")) {
            float m;
            if (read_f(v, key, &m)) return -1;
            if (m != 255.0f)
                return lt_set_error("%s: %s: only 255 is supported for 8-bit images", lt_cfg_where(v), key);
        }
    }
    for (int c = 0; c < 3; c++)
        if (!(pp->std[c] > 0)) return lt_set_error("%s: std values must be > 0", what);
    pp->normalize = true;
    return 0;
}

static int read_aug_kind(const lt_cfg *entry, const char *what, int *kind)
{
    const lt_cfg *name = lt_cfg_get(entry, "name");
    char buf[200];
    key_path(buf, sizeof buf, what, "name");
    if (!name) return lt_set_error("%s: %s: missing 'name'", lt_cfg_where(entry), what);
    const char *s;
    if (lt_cfg_as_str(name, buf, &s)) return -1;
    for (int k = 0; aug_names[k]; k++)
        if (!strcmp(aug_names[k], s)) return *kind = k, 0;
    char hint[256];
    suggest(s, aug_names, hint, sizeof hint);
    return lt_set_error("%s: %s: unknown augmentation '%s'%s", lt_cfg_where(name), buf, s, hint);
}

static int read_aug(lt_preprocess *pp, const lt_cfg *entry, const char *what)
{
    static const char *const entry_keys[] = {"name", "params", "active", "use_for_resizing", "apply_on_stages", NULL};
    char buf[200];
    int kind = 0;
    if (expect_map(entry, what) || check_keys(entry, entry_keys, what) || read_aug_kind(entry, what, &kind)) return -1;
    bool active = true;
    const lt_cfg *v;
    key_path(buf, sizeof buf, what, "active");
    if ((v = lt_cfg_get(entry, "active")) && lt_cfg_as_bool(v, buf, &active)) return -1;
    key_path(buf, sizeof buf, what, "use_for_resizing");
    bool for_resizing = false;
    if ((v = lt_cfg_get(entry, "use_for_resizing")) && lt_cfg_as_bool(v, buf, &for_resizing)) return -1;
    const lt_cfg *params = lt_cfg_get(entry, "params");
    key_path(buf, sizeof buf, what, "params");
    if (params && lt_cfg_is_null(params)) params = NULL;
    if (params && (expect_map(params, buf) || check_keys(params, aug_params[kind], buf))) return -1;
    if (!active) return 0;
    if (!strcmp(aug_names[kind], "Normalize")) return read_normalize_params(pp, params, buf);
    if (pp->n_augs == LT_MAX_AUGS) return lt_set_error("%s: more than %d augmentations", what, LT_MAX_AUGS);
    lt_aug *a = &pp->augs[pp->n_augs];
    aug_defaults(a, (lt_aug_kind)kind);
    if (for_resizing) a->p = 1;
    key_path(buf, sizeof buf, what, "apply_on_stages");
    if ((v = lt_cfg_get(entry, "apply_on_stages")) && read_stages(v, buf, &a->stages)) return -1;
    for (int i = 0; params && i < params->n; i++) {
        char base[200];
        key_path(buf, sizeof buf, key_path(base, sizeof base, what, "params"), params->keys[i]);
        if (read_param(a, params->keys[i], lt_cfg_get(params, params->keys[i]), buf)) return -1;
    }
    pp->n_augs++;
    return 0;
}

static int read_normalize(lt_preprocess *pp, const lt_cfg *n, const char *what)
{
    static const char *const keys[] = {"active", "params", NULL};
    static const char *const param_keys[] = {"mean", "std", "max_pixel_value", NULL};
    char buf[200];
    if (expect_map(n, what) || check_keys(n, keys, what)) return -1;
    const lt_cfg *v = lt_cfg_get(n, "active"), *params = lt_cfg_get(n, "params");
    key_path(buf, sizeof buf, what, "active");
    if (v && lt_cfg_as_bool(v, buf, &pp->normalize)) return -1;
    key_path(buf, sizeof buf, what, "params");
    if (!params || lt_cfg_is_null(params)) return 0;
    if (expect_map(params, buf) || check_keys(params, param_keys, buf)) return -1;
    bool active = pp->normalize;
    if (read_normalize_params(pp, params, buf)) return -1;
    pp->normalize = active;
    return 0;
}

static int read_color_space(lt_preprocess *pp, const lt_cfg *v, const char *what)
{
    static const char *const names[] = {"RGB", "BGR", "GRAY", NULL};
    const char *s;
    if (lt_cfg_as_str(v, what, &s)) return -1;
    for (int k = 0; names[k]; k++)
        if (!strcmp(names[k], s)) return pp->color_space = (lt_color_space)k, 0;
    char hint[128];
    suggest(s, names, hint, sizeof hint);
    return lt_set_error("%s: %s: unknown color space '%s'%s", lt_cfg_where(v), what, s, hint);
}

int lt_preprocess_from_cfg(const lt_cfg *c, lt_preprocess *pp)
{
    static const char *const keys[] = {"train_image_size", "keep_aspect_ratio", "color_space", "normalize",
                                       "augmentations", NULL};
    const char *base = "trainer.preprocessing";
    char what[200];
    lt_preprocess_defaults(pp);
    if (!c || lt_cfg_is_null(c)) return 0;
    if (expect_map(c, base) || check_keys(c, keys, base)) return -1;
    const lt_cfg *v;
    if ((v = lt_cfg_get(c, "train_image_size")) && read_size(v, "trainer.preprocessing.train_image_size", &pp->height, &pp->width))
        return -1;
    if ((v = lt_cfg_get(c, "keep_aspect_ratio")) &&
        lt_cfg_as_bool(v, "trainer.preprocessing.keep_aspect_ratio", &pp->keep_aspect_ratio))
        return -1;
    if ((v = lt_cfg_get(c, "color_space")) && read_color_space(pp, v, "trainer.preprocessing.color_space")) return -1;
    if ((v = lt_cfg_get(c, "normalize")) && !lt_cfg_is_null(v) && read_normalize(pp, v, "trainer.preprocessing.normalize"))
        return -1;
    const lt_cfg *augs = lt_cfg_get(c, "augmentations");
    if (!augs || lt_cfg_is_null(augs)) return 0;
    if (augs->type != LT_CFG_LIST)
        return lt_set_error("%s: %s.augmentations: expected a list", lt_cfg_where(augs), base);
    for (int i = 0; i < augs->n; i++) {
        snprintf(what, sizeof what, "%s.augmentations[%d]", base, i);
        if (read_aug(pp, augs->items[i], what)) return -1;
    }
    return 0;
}

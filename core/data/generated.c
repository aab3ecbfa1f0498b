/* The built-in generated dataset: one coloured shape, slightly rotated, on
 * a textured noisy background. The class is the shape; the box, mask and
 * keypoints are the shape's. Sample i of a split is drawn from a generator
 * seeded by (seed, split, i) alone, so any sample can be made on any thread
 * in any order. */
#define _POSIX_C_SOURCE 200809L
#include "data.h"

#include "registry.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *const lt_generated_class_names[LT_GENERATED_MAX_CLASSES] = {
    "circle", "square", "triangle", "cross", "diamond", "ring", "hexagon", "bar", "half_disc", "corner",
};

#define SQRT3_2 0.8660254f

/* Inside test of shape `cls` in its own frame: unit circumradius, u to the
 * right, v down. */
static bool inside_shape(int cls, float u, float v)
{
    float au = fabsf(u), av = fabsf(v), rr = u * u + v * v;
    switch (cls) {
    case 0: return rr <= 1.0f;
    case 1: return au <= 0.8f && av <= 0.8f;
    case 2: return v <= 0.75f && v >= -1.0f && au <= (v + 1.0f) * (0.95f / 1.75f);
    case 3: return (au <= 0.3f && av <= 1.0f) || (av <= 0.3f && au <= 1.0f);
    case 4: return au + av <= 1.0f;
    case 5: return rr <= 1.0f && rr >= 0.55f * 0.55f;
    case 6: return av <= SQRT3_2 && 2.0f * SQRT3_2 * au + av <= 2.0f * SQRT3_2;
    case 7: return au <= 1.0f && av <= 0.35f;
    case 8: return v >= -0.3f && u * u + (v + 0.3f) * (v + 0.3f) <= 1.0f; /* flat side up */
    default: return (au <= 0.8f && v >= 0.4f && v <= 0.8f) || (u >= -0.8f && u <= -0.4f && av <= 0.8f); /* an L */
    }
}

/* The four shape-specific keypoints (after the centre), in the shape frame. */
static const float shape_points[LT_GENERATED_MAX_CLASSES][4][2] = {
    {{0, -1}, {1, 0}, {0, 1}, {-1, 0}},                                        /* circle: top, right, bottom, left */
    {{-0.8f, -0.8f}, {0.8f, -0.8f}, {0.8f, 0.8f}, {-0.8f, 0.8f}},              /* square: corners clockwise */
    {{0, -1}, {0.95f, 0.75f}, {-0.95f, 0.75f}, {0, 0.75f}},                    /* triangle: apex, base ends, base middle */
    {{0, -1}, {1, 0}, {0, 1}, {-1, 0}},                                        /* cross: arm tips */
    {{0, -1}, {1, 0}, {0, 1}, {-1, 0}},                                        /* diamond: vertices */
    {{0, -1}, {1, 0}, {0, 1}, {-1, 0}},                                        /* ring: outer top, right, bottom, left */
    {{-0.5f, -SQRT3_2}, {0.5f, -SQRT3_2}, {0.5f, SQRT3_2}, {-0.5f, SQRT3_2}}, /* hexagon: top and bottom vertices */
    {{-1, -0.35f}, {1, -0.35f}, {1, 0.35f}, {-1, 0.35f}},                      /* bar: corners */
    {{-1, -0.3f}, {1, -0.3f}, {0, 0.7f}, {0, -0.3f}},                          /* half disc: diameter ends, arc, middle */
    {{-0.8f, -0.8f}, {-0.8f, 0.8f}, {0.8f, 0.8f}, {0.8f, 0.4f}},               /* corner: stem top, bend, foot end */
};

typedef struct generated {
    lt_generated_options o;
    uint64_t split_tag;
} generated;

typedef struct placement {
    int cls;
    float cx, cy, r, cos_t, sin_t; /* pixels; rotation of the shape */
    float fg[3], bg[3];
    float wave[2][3];               /* two background waves: fx, fy, phase */
} placement;

/* Pixel (x, y) into the unit shape frame. */
static void to_shape(const placement *p, float x, float y, float *u, float *v)
{
    float dx = (x - p->cx) / p->r, dy = (y - p->cy) / p->r;
    *u = p->cos_t * dx + p->sin_t * dy;
    *v = -p->sin_t * dx + p->cos_t * dy;
}

static float colour_distance(const float *a, const float *b)
{
    float d = 0;
    for (int c = 0; c < 3; c++) d += (a[c] - b[c]) * (a[c] - b[c]);
    return sqrtf(d);
}

static void place(placement *p, lt_rng *rng, int cls, int size)
{
    p->cls = cls;
    p->r = (float)size * (0.25f + 0.15f * lt_rng_uniform(rng));
    float margin = p->r * 1.05f;
    p->cx = margin + ((float)size - 2 * margin) * lt_rng_uniform(rng);
    p->cy = margin + ((float)size - 2 * margin) * lt_rng_uniform(rng);
    float theta = (lt_rng_uniform(rng) - 0.5f) * 0.52359878f; /* +-15 degrees: a square never looks like a diamond */
    p->cos_t = cosf(theta), p->sin_t = sinf(theta);
    for (int c = 0; c < 3; c++) p->bg[c] = lt_rng_uniform(rng);
    do { /* a foreground that stands out from the background */
        for (int c = 0; c < 3; c++) p->fg[c] = lt_rng_uniform(rng);
    } while (colour_distance(p->fg, p->bg) < 0.6f);
    for (int k = 0; k < 2; k++) {
        p->wave[k][0] = (lt_rng_uniform(rng) - 0.5f) * 1.2f;
        p->wave[k][1] = (lt_rng_uniform(rng) - 0.5f) * 1.2f;
        p->wave[k][2] = lt_rng_uniform(rng) * 6.2831853f;
    }
}

/* Fraction of the pixel covered by the shape (2x2 samples) and whether its
 * centre is inside (the mask). */
static float coverage(const placement *p, int x, int y, bool *centre)
{
    float u, v;
    to_shape(p, (float)x + 0.5f, (float)y + 0.5f, &u, &v);
    *centre = inside_shape(p->cls, u, v);
    int hits = 0;
    for (int s = 0; s < 4; s++) {
        to_shape(p, (float)x + 0.25f + 0.5f * (float)(s & 1), (float)y + 0.25f + 0.5f * (float)(s >> 1), &u, &v);
        hits += inside_shape(p->cls, u, v);
    }
    return (float)hits * 0.25f;
}

static uint8_t to_u8(float v)
{
    v = v < 0 ? 0 : v > 1 ? 1 : v;
    return (uint8_t)lrintf(v * 255.0f);
}

static void render(const placement *p, lt_rng *rng, lt_sample *s)
{
    int n = s->image.w;
    for (int y = 0; y < n; y++)
        for (int x = 0; x < n; x++) {
            bool centre;
            float a = coverage(p, x, y, &centre);
            float tex = 0;
            for (int k = 0; k < 2; k++)
                tex += 0.08f * sinf(p->wave[k][0] * (float)x + p->wave[k][1] * (float)y + p->wave[k][2]);
            uint8_t *px = s->image.px + ((size_t)y * n + x) * 3;
            for (int c = 0; c < 3; c++) {
                float v = a * p->fg[c] + (1 - a) * (p->bg[c] + tex) + 0.02f * lt_rng_normal(rng);
                px[c] = to_u8(v);
            }
            s->mask[(size_t)y * n + x] = centre;
        }
}

/* Tight box of the mask, normalised; an object always covers pixels since
 * its radius is at least a fifth of the image. */
static void mask_box(lt_sample *s)
{
    int n = s->image.w, x0 = n, y0 = n, x1 = -1, y1 = -1;
    for (int y = 0; y < n; y++)
        for (int x = 0; x < n; x++)
            if (s->mask[(size_t)y * n + x]) {
                x0 = x < x0 ? x : x0, x1 = x > x1 ? x : x1;
                y0 = y < y0 ? y : y0, y1 = y > y1 ? y : y1;
            }
    s->has_box = x1 >= 0;
    if (!s->has_box) return;
    float fn = (float)n;
    s->box[0] = (float)x0 / fn, s->box[1] = (float)y0 / fn;
    s->box[2] = (float)(x1 + 1 - x0) / fn, s->box[3] = (float)(y1 + 1 - y0) / fn;
}

static void keypoints(const placement *p, lt_sample *s)
{
    float fn = (float)s->image.w;
    s->n_keypoints = LT_GENERATED_KEYPOINTS;
    float pts[LT_GENERATED_KEYPOINTS][2] = {{0, 0}};
    memcpy(pts + 1, shape_points[p->cls], sizeof shape_points[0]);
    for (int k = 0; k < LT_GENERATED_KEYPOINTS; k++) { /* shape frame back to pixels */
        float u = pts[k][0] * p->r, v = pts[k][1] * p->r;
        float x = p->cx + p->cos_t * u - p->sin_t * v, y = p->cy + p->sin_t * u + p->cos_t * v;
        s->keypoints[3 * k] = x / fn;
        s->keypoints[3 * k + 1] = y / fn;
        s->keypoints[3 * k + 2] = 2; /* visible */
    }
}

static int generated_get(const lt_dataset *ds, int64_t index, lt_sample *out)
{
    const generated *g = ds->impl;
    memset(out, 0, sizeof *out);
    if (index < 0 || index >= ds->n)
        return lt_set_error("generated: sample %lld out of range [0, %lld)", (long long)index, (long long)ds->n);
    int n = g->o.image_size;
    if (lt_image_alloc(&out->image, n, n, 3)) return -1;
    if (!(out->mask = calloc((size_t)n * n, 1))) {
        lt_sample_free(out);
        return lt_set_error("generated: out of memory");
    }
    lt_rng rng;
    lt_rng_seed(&rng, lt_hash64(lt_hash64(g->o.seed ^ g->split_tag) ^ (uint64_t)index));
    placement p;
    place(&p, &rng, (int)(index % ds->n_classes), n);
    render(&p, &rng, out);
    mask_box(out);
    keypoints(&p, out);
    out->cls = p.cls;
    return 0;
}

static const char *generated_path(const lt_dataset *ds, int64_t index)
{
    (void)ds, (void)index;
    return NULL; /* made in memory: no file */
}

static void generated_destroy(lt_dataset *ds)
{
    free(ds->impl);
}

void lt_generated_defaults(lt_generated_options *o)
{
    *o = (lt_generated_options){.image_size = 32, .n_classes = 4, .n_train = 2048, .n_val = 512, .n_test = 512};
}

static int read_count(const lt_cfg *params, const char *key, int64_t lo, int64_t hi, int64_t *out)
{
    const lt_cfg *v = lt_cfg_get(params, key);
    if (!v) return 0;
    char what[64];
    snprintf(what, sizeof what, "loader.params.%s", key);
    int64_t x;
    if (lt_cfg_as_int(v, what, &x)) return -1;
    if (x < lo || x > hi)
        return lt_set_error("%s: %s: %lld is outside [%lld, %lld]", lt_cfg_where(v), what, (long long)x,
                            (long long)lo, (long long)hi);
    *out = x;
    return 0;
}

int lt_generated_options_from_cfg(const lt_cfg *params, lt_generated_options *o)
{
    static const char *const keys[] = {"image_size", "n_classes", "n_train", "n_val", "n_test", "seed",
                                       "dataset_type", "dataset_name", NULL};
    if (!params || lt_cfg_is_null(params)) return 0;
    if (params->type != LT_CFG_MAP)
        return lt_set_error("%s: loader.params: expected a map, got a %s", lt_cfg_where(params),
                            lt_cfg_type_name(params->type));
    for (int i = 0; i < params->n; i++) {
        int best = -1, best_d = 1 << 30;
        for (int k = 0; keys[k]; k++) {
            int d = lt_edit_distance(params->keys[i], keys[k]);
            if (d < best_d) best = k, best_d = d;
        }
        if (best_d == 0) continue;
        return lt_set_error("%s: loader.params.%s: unknown key for the generated dataset (did you mean '%s'?)",
                            lt_cfg_where(params->items[i]), params->keys[i], keys[best]);
    }
    int64_t size = o->image_size, classes = o->n_classes, seed = (int64_t)o->seed;
    if (read_count(params, "image_size", 16, 4096, &size) ||
        read_count(params, "n_classes", 2, LT_GENERATED_MAX_CLASSES, &classes) ||
        read_count(params, "n_train", 1, INT32_MAX, &o->n_train) ||
        read_count(params, "n_val", 1, INT32_MAX, &o->n_val) || read_count(params, "n_test", 1, INT32_MAX, &o->n_test) ||
        read_count(params, "seed", 0, INT64_MAX, &seed))
        return -1;
    lt_cfg_get(params, "dataset_type"); /* handled by the caller: mark them read */
    lt_cfg_get(params, "dataset_name");
    o->image_size = (int)size, o->n_classes = (int)classes, o->seed = (uint64_t)seed;
    return 0;
}

static int64_t split_size(const lt_generated_options *o, const char *view, uint64_t *tag)
{
    if (!strcmp(view, "train")) return *tag = 0x7472616e, o->n_train;
    if (!strcmp(view, "val") || !strcmp(view, "valid")) return *tag = 0x76616c, o->n_val;
    if (!strcmp(view, "test")) return *tag = 0x74657374, o->n_test;
    return -1;
}

lt_dataset *lt_generated_open(const lt_generated_options *o, const char *view)
{
    uint64_t tag = 0;
    int64_t n = split_size(o, view ? view : "train", &tag);
    if (n < 0) return lt_set_error("generated: unknown view '%s' (train, val or test)", view), NULL;
    if (o->image_size < 16 || o->n_classes < 2 || o->n_classes > LT_GENERATED_MAX_CLASSES || n < 1)
        return lt_set_error("generated: bad options: image_size %d (>= 16), n_classes %d (2..%d), %s size %lld (>= 1)",
                            o->image_size, o->n_classes, LT_GENERATED_MAX_CLASSES, view, (long long)n), NULL;
    lt_dataset *ds = calloc(1, sizeof *ds);
    generated *g = calloc(1, sizeof *g);
    char **names = calloc((size_t)o->n_classes, sizeof *names);
    int64_t *counts = calloc((size_t)o->n_classes, sizeof *counts);
    if (!ds || !g || !names || !counts) {
        free(ds), free(g), free(names), free(counts);
        return lt_set_error("generated: out of memory"), NULL;
    }
    g->o = *o, g->split_tag = lt_hash64(tag);
    *ds = (lt_dataset){.n = n, .n_classes = o->n_classes, .class_names = names, .class_counts = counts,
                       .has_boxes = true, .has_masks = true, .n_keypoints = LT_GENERATED_KEYPOINTS,
                       .get = generated_get, .path = generated_path, .destroy = generated_destroy, .impl = g};
    for (int k = 0; k < o->n_classes; k++) {
        counts[k] = n / o->n_classes + (k < n % o->n_classes);
        if (!(names[k] = strdup(lt_generated_class_names[k]))) {
            lt_dataset_free(ds);
            return lt_set_error("generated: out of memory"), NULL;
        }
    }
    return ds;
}

/* Pictures of predictions (core/visualize.h). */
#include "visualize.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <ltrain/autograd.h>
#include <ltrain/draw.h>
#include <ltrain/safetensors.h>

#include "modules.h"

enum { PAIR_GAP = 4, GRID_MARGIN = 4, PATH_SIZE = 4096 };

static const lt_rgb GRID_BACKGROUND = {32, 32, 32};

void lt_vis_paths_free(lt_vis_paths *p)
{
    if (!p) return;
    for (int i = 0; i < p->n; i++) free(p->paths[i]);
    free(p->paths);
    *p = (lt_vis_paths){0};
}

int lt_vis_paths_add(lt_vis_paths *p, const char *path)
{
    char **grown = realloc(p->paths, ((size_t)p->n + 1) * sizeof *grown);
    if (!grown) return lt_set_error("visualize: out of memory");
    p->paths = grown;
    if (!(p->paths[p->n] = strdup(path))) return lt_set_error("visualize: out of memory");
    p->n++;
    return 0;
}

int lt_vis_mkdir_p(const char *path)
{
    char buf[PATH_SIZE];
    if (snprintf(buf, sizeof buf, "%s", path) >= (int)sizeof buf) return lt_set_error("%s: path too long", path);
    for (char *s = buf + 1;; s++) {
        const char c = *s;
        if (c != '/' && c != '\0') continue;
        *s = '\0';
        if (mkdir(buf, 0777) != 0 && errno != EEXIST)
            return lt_set_error("%s: cannot create: %s", buf, strerror(errno));
        *s = c;
        if (c == '\0') break;
    }
    return 0;
}

/* ------------------------------------------------------------- canvases */

static int enlargement(int h, int w)
{
    const int side = h < w ? h : w;
    return side >= LT_VIS_MIN_CANVAS || side <= 0 ? 1 : (LT_VIS_MIN_CANVAS + side - 1) / side;
}

lt_tensor *lt_vis_canvases(const lt_preprocess *pp, const lt_tensor *images)
{
    const int C = lt_preprocess_channels(pp);
    if (!images || images->dtype != LT_F32 || images->ndim != 4 || images->shape[1] != C ||
        images->shape[2] != pp->height || images->shape[3] != pp->width) {
        char s[64];
        lt_set_error("visualize: images %s must be float32 [B,%d,%d,%d] (the preprocessing's output)",
                     images ? lt_shape_str(images, s, sizeof s) : "(null)", C, pp->height, pp->width);
        return NULL;
    }
    const int64_t B = images->shape[0], H = pp->height, W = pp->width;
    const int s = enlargement(pp->height, pp->width);
    lt_tensor *canvas = lt_tensor_new(LT_U8, 4, (const int64_t[]){B, 3, H * s, W * s});
    uint8_t *rgb = malloc((size_t)(H * W * 3));
    if (!canvas || !rgb) {
        lt_tensor_free(canvas);
        free(rgb);
        lt_set_error("visualize: out of memory");
        return NULL;
    }
    const int64_t plane = H * s * W * s;
    for (int64_t b = 0; b < B; b++) {
        lt_preprocess_to_rgb(pp, lt_f32(images) + b * C * H * W, rgb);
        uint8_t *dst = lt_u8(canvas) + b * 3 * plane;
        for (int64_t y = 0; y < H * s; y++)
            for (int64_t x = 0; x < W * s; x++)
                for (int c = 0; c < 3; c++) dst[c * plane + y * W * s + x] = rgb[((y / s) * W + x / s) * 3 + c];
    }
    free(rgb);
    return canvas;
}

/* Target and prediction of each image side by side: uint8 [B,3,H,2W+gap]. */
static lt_tensor *side_by_side(const lt_tensor *target, const lt_tensor *pred)
{
    const int64_t B = pred->shape[0], H = pred->shape[2], W = pred->shape[3], OW = 2 * W + PAIR_GAP;
    lt_tensor *out = lt_tensor_new(LT_U8, 4, (const int64_t[]){B, 3, H, OW});
    if (!out) {
        lt_set_error("visualize: out of memory");
        return NULL;
    }
    memset(lt_u8(out), GRID_BACKGROUND.r, (size_t)(B * 3 * H * OW));
    for (int64_t bc = 0; bc < B * 3; bc++)
        for (int64_t y = 0; y < H; y++) {
            uint8_t *row = lt_u8(out) + (bc * H + y) * OW;
            memcpy(row, lt_u8(target) + (bc * H + y) * W, (size_t)W);
            memcpy(row + W + PAIR_GAP, lt_u8(pred) + (bc * H + y) * W, (size_t)W);
        }
    return out;
}

static int save_grid(const lt_tensor *images, const char *path)
{
    lt_tensor *grid = lt_draw_grid(images, 0, GRID_MARGIN, GRID_BACKGROUND);
    if (!grid) return -1;
    const int rc = lt_image_save_png(path, lt_u8(grid), (int)grid->shape[0], (int)grid->shape[1], 3);
    lt_tensor_free(grid);
    return rc;
}

/* One visualizer on fresh canvases: its pictures, uint8 [B,3,H,W] (target
 * and prediction side by side when it returns a pair), or NULL. */
static lt_tensor *render_one(lt_attached *a, const lt_tensor *canvas, const lt_packet *packet, const lt_labels *labels)
{
    const size_t bytes = (size_t)canvas->numel;
    lt_tensor *pred = lt_tensor_new(LT_U8, 4, canvas->shape);
    lt_tensor *target = lt_tensor_new(LT_U8, 4, canvas->shape); /* drawn on only when there is a target */
    lt_tensor *out = NULL;
    if (!pred || !target) {
        lt_set_error("visualize: out of memory");
        goto done;
    }
    memcpy(lt_u8(pred), lt_u8(canvas), bytes);
    memcpy(lt_u8(target), lt_u8(canvas), bytes);
    const int kind = lt_attached_visualize(a, pred, target, packet, labels);
    if (kind == LT_VIS_PAIR) {
        out = side_by_side(target, pred);
    } else if (kind == LT_VIS_PREDICTION) {
        out = pred;
        pred = NULL;
    } else if (kind != LT_VIS_ERROR) {
        lt_set_error("%s: returned %d, expected LT_VIS_PREDICTION (1) or LT_VIS_PAIR (2)", lt_attached_identifier(a),
                     kind);
    }
done:
    lt_tensor_free(pred);
    lt_tensor_free(target);
    return out;
}

void lt_vis_batch_free(lt_vis_batch *b)
{
    if (!b) return;
    for (int s = 0; s < b->n; s++) lt_tensor_free(b->pictures[s]);
    free(b->pictures);
    free(b->node);
    free(b->viz);
    *b = (lt_vis_batch){0};
}

/* Appends a slot (taking `pictures`). */
static int vis_batch_add(lt_vis_batch *b, int node, lt_attached *viz, lt_tensor *pictures)
{
    const size_t n = (size_t)b->n + 1;
    int *nodes = realloc(b->node, n * sizeof *nodes);
    if (nodes) b->node = nodes;
    lt_attached **vizs = nodes ? realloc(b->viz, n * sizeof *vizs) : NULL;
    if (vizs) b->viz = vizs;
    lt_tensor **pics = vizs ? realloc(b->pictures, n * sizeof *pics) : NULL;
    if (!pics) {
        lt_tensor_free(pictures);
        return lt_set_error("visualize: out of memory");
    }
    b->pictures = pics;
    b->node[b->n] = node;
    b->viz[b->n] = viz;
    b->pictures[b->n++] = pictures;
    return 0;
}

int lt_vis_render_batch(lt_model *m, const lt_preprocess *pp, const lt_tensor *images, const lt_labels *labels,
                        lt_vis_batch *out)
{
    *out = (lt_vis_batch){0};
    lt_tensor *canvas = lt_vis_canvases(pp, images);
    if (!canvas) return -1;
    int rc = 0;
    for (int i = 0; rc == 0 && i < lt_model_n_nodes(m); i++) {
        const int n = lt_model_n_attached(m, i, LT_DESC_VISUALIZER);
        if (n == 0) continue;
        const char *node = lt_model_node_identifier(m, i);
        const lt_packet *packet = lt_model_packet(m, i);
        if (!packet) {
            rc = lt_set_error("visualize: node '%s' has no output (run a forward first)", node);
            break;
        }
        for (int k = 0; rc == 0 && k < n; k++) {
            lt_attached *a = lt_model_attached(m, i, LT_DESC_VISUALIZER, k);
            lt_tensor *pictures = render_one(a, canvas, packet, labels);
            if (!pictures) {
                char why[1024]; /* lt_last_error() is overwritten by lt_set_error */
                snprintf(why, sizeof why, "%s", lt_last_error());
                rc = lt_set_error("node '%s', visualizer '%s': %s", node, lt_attached_identifier(a), why);
                break;
            }
            rc = vis_batch_add(out, i, a, pictures);
        }
    }
    lt_tensor_free(canvas);
    if (rc) lt_vis_batch_free(out);
    return rc;
}

int lt_vis_save_picture(const lt_tensor *pictures, int64_t b, const char *path)
{
    const int64_t H = pictures->shape[2], W = pictures->shape[3], plane = H * W;
    uint8_t *rgb = malloc((size_t)(plane * 3));
    if (!rgb) return lt_set_error("visualize: out of memory");
    const uint8_t *src = lt_u8(pictures) + b * 3 * plane;
    for (int64_t p = 0; p < plane; p++)
        for (int c = 0; c < 3; c++) rgb[p * 3 + c] = src[c * plane + p];
    const int rc = lt_image_save_png(path, rgb, (int)H, (int)W, 3);
    free(rgb);
    return rc;
}

int lt_visualize_batch(lt_model *m, const lt_preprocess *pp, const lt_tensor *images, const lt_labels *labels,
                       const char *dir, int index, lt_vis_paths *out)
{
    lt_vis_batch b;
    if (lt_vis_render_batch(m, pp, images, labels, &b)) return -1;
    int rc = 0;
    for (int s = 0; rc == 0 && s < b.n; s++) {
        const char *node = lt_model_node_identifier(m, b.node[s]);
        char path[PATH_SIZE];
        snprintf(path, sizeof path, "%s/%s", dir, node);
        if ((rc = lt_vis_mkdir_p(path))) break;
        if (snprintf(path, sizeof path, "%s/%s/%s_%d.png", dir, node, lt_attached_identifier(b.viz[s]), index) >=
            (int)sizeof path) {
            rc = lt_set_error("%s: path too long", dir);
            break;
        }
        rc = save_grid(b.pictures[s], path);
        if (rc == 0) rc = lt_vis_paths_add(out, path);
    }
    lt_vis_batch_free(&b);
    return rc;
}

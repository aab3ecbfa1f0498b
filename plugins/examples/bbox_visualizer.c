/* Example plugin: the seed's "Visualizer", BBoxVisualizer.
 *
 * The common visualizer pattern: draw the predictions on prediction_canvas;
 * without a target return that one image, with one also draw the target on
 * target_canvas and return the pair. The canvases are the batch's images,
 * uint8 [B,3,H,W], drawn on in place.
 *   predictions  list of B tensors [N,6]: (x1, y1, x2, y2, score, class) in pixels
 *   target       optional [N,6]: (image, class, x_min, y_min, w, h) normalised
 * Boxes are outlined in a colour per class. Params: width (line width in
 * pixels, 1). */
#include <ltrain/plugin.h>

#include <math.h>

typedef struct bbox_vis_state {
    int width;
} bbox_vis_state;

static int bbox_vis_init(lt_module *m)
{
    bbox_vis_state *s = lt_module_state(m);
    int64_t width = lt_module_param_int(m, "width", 1);
    if (width < 1 || width > 64) return lt_set_error("params.width must be in 1..64, got %lld", (long long)width);
    s->width = (int)width;
    return 0;
}

static const uint8_t palette[8][3] = {
    {255, 56, 56}, {56, 255, 56}, {56, 56, 255}, {255, 157, 51}, {207, 56, 255}, {56, 219, 255}, {255, 255, 56},
    {255, 112, 180},
};

/* Fills the rows [y0, y1] x columns [x0, x1] (clipped) of image b. */
static void fill(lt_tensor *canvas, int64_t b, int64_t x0, int64_t y0, int64_t x1, int64_t y1, const uint8_t *rgb)
{
    const int64_t H = canvas->shape[2], W = canvas->shape[3];
    if (x0 < 0) x0 = 0;
    if (y0 < 0) y0 = 0;
    if (x1 >= W) x1 = W - 1;
    if (y1 >= H) y1 = H - 1;
    for (int c = 0; c < 3; c++) {
        uint8_t *plane = lt_u8(canvas) + (b * 3 + c) * H * W;
        for (int64_t y = y0; y <= y1; y++)
            for (int64_t x = x0; x <= x1; x++) plane[y * W + x] = rgb[c];
    }
}

/* The outline of a box (pixel corners, inclusive), `width` pixels thick inside it. */
static void draw_box(lt_tensor *canvas, int64_t b, float x1, float y1, float x2, float y2, int cls, int width)
{
    if (!(x1 <= x2 && y1 <= y2)) return; /* also skips NaN */
    const int64_t l = lroundf(x1), t = lroundf(y1), r = lroundf(x2), d = lroundf(y2);
    const uint8_t *rgb = palette[(cls < 0 ? -cls : cls) % 8];
    fill(canvas, b, l, t, r, t + width - 1, rgb);
    fill(canvas, b, l, d - width + 1, r, d, rgb);
    fill(canvas, b, l, t, l + width - 1, d, rgb);
    fill(canvas, b, r - width + 1, t, r, d, rgb);
}

static int check_boxes(const char *what, const lt_tensor *t)
{
    char shape[64];
    if (!t || t->dtype != LT_F32 || t->ndim != 2 || t->shape[1] != 6)
        return lt_set_error("%s must be float32 [N,6], got %s%s", what, t ? lt_dtype_name(t->dtype) : "NULL",
                            t ? lt_shape_str(t, shape, sizeof shape) : "");
    return 0;
}

static int draw_predictions(lt_tensor *canvas, const lt_tensor_list *predictions, int width)
{
    if (predictions->n != canvas->shape[0])
        return lt_set_error("predictions holds boxes for %d images but the canvas has %lld", predictions->n,
                            (long long)canvas->shape[0]);
    for (int b = 0; b < predictions->n; b++) {
        const lt_tensor *p = predictions->items[b];
        if (check_boxes("predictions item", p) != 0) return -1;
        for (int64_t i = 0; i < p->shape[0]; i++) {
            const float *row = lt_f32(p) + i * 6;
            draw_box(canvas, b, row[0], row[1], row[2], row[3], (int)row[5], width);
        }
    }
    return 0;
}

static int draw_targets(lt_tensor *canvas, const lt_tensor *target, int width)
{
    if (check_boxes("target", target) != 0) return -1;
    const float H = (float)canvas->shape[2], W = (float)canvas->shape[3];
    for (int64_t i = 0; i < target->shape[0]; i++) {
        const float *row = lt_f32(target) + i * 6;
        const int64_t b = (int64_t)row[0];
        if (b < 0 || b >= canvas->shape[0])
            return lt_set_error("target row %lld is for image %g; the canvas has %lld", (long long)i, (double)row[0],
                                (long long)canvas->shape[0]);
        const float x = row[2] * W, y = row[3] * H;
        draw_box(canvas, b, x, y, x + row[4] * W - 1.0f, y + row[5] * H - 1.0f, (int)row[1], width);
    }
    return 0;
}

static int bbox_vis_forward(lt_module *m, lt_tensor *prediction_canvas, lt_tensor *target_canvas,
                            const lt_tensor_list *predictions, lt_tensor *target)
{
    const bbox_vis_state *s = lt_module_state(m);
    if (draw_predictions(prediction_canvas, predictions, s->width) != 0) return LT_VIS_ERROR;
    if (!target) return LT_VIS_PREDICTION;
    if (draw_targets(target_canvas, target, s->width) != 0) return LT_VIS_ERROR;
    return LT_VIS_PAIR;
}

static const lt_visualizer_desc bbox_visualizer = {
    .header = LT_DESC_HEADER(LT_DESC_VISUALIZER, lt_visualizer_desc, "BBoxVisualizer"),
    .supported_tasks = (const char *const[]){"boundingbox", NULL},
    .state_size = sizeof(bbox_vis_state),
    .init = bbox_vis_init,
    .args = (const lt_arg_spec[]){
        {"predictions", LT_ARG_LIST, 0},
        {"target", LT_ARG_TENSOR, LT_ARG_OPTIONAL},
        {0},
    },
    .forward = LT_FN(bbox_vis_forward),
};

LT_PLUGIN("example_bbox_visualizer", "1.0", &bbox_visualizer.header)

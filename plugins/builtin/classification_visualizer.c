/* Built-in visualizer: luxonis-train's ClassificationVisualizer.
 *
 *     visualizers:
 *       - name: ClassificationVisualizer
 *         params: {include_plot: true, font_scale: null, color: [255, 0, 0], thickness: 2, multilabel: false}
 *
 * Arguments: predictions [B,C] logits, optional target (class indices [B],
 * or one-hot / multi-hot [B,C]). On each prediction-canvas image it writes
 * "Pred: <class> (<probability>)" (softmax; with multilabel every class whose
 * sigmoid exceeds 0.5, with its probability, or "-" when none does); with a
 * target it writes "GT: <class>" on the target canvas and returns the pair,
 * else the prediction canvas alone. Text is DejaVu Sans (lt_font_open: the
 * LTRAIN_FONT variable overrides the path) on a translucent dark box, so it
 * reads on any image; a label too wide for the image lists one class a
 * line, and is set smaller if that is still too wide.
 *
 * Params as the reference:
 *   font_scale  OpenCV-style scale (1.0 ~ 22 px capitals, FONT_HERSHEY_SIMPLEX's
 *               size); unset: the reference's size rule, a weighted mean of H and
 *               W over 500, with a floor of 10 px so small images stay legible.
 *   color       text colour [R, G, B], default [255, 0, 0].
 *   thickness   stroke weight (1 = regular); the automatic size uses 1 below
 *               scale 1, as the reference.
 *   multilabel  independent classes: sigmoid > 0.5 (the reference thresholds
 *               the raw prediction; a logit threshold of 0.5 is not a
 *               probability of 0.5, so we apply the sigmoid it plots).
 *   include_plot  the reference's class-probability bar plot, drawn here as a
 *               translucent panel along the bottom of the prediction canvas
 *               (one bar per class; predicted classes in `color`, the true
 *               class outlined in green).
 */
#include <ltrain/draw.h>
#include <ltrain/plugin.h>

#include <math.h>
#include <stdio.h>
#include <string.h>

#define HERSHEY_EM_PX 30.0 /* em size whose capitals match FONT_HERSHEY_SIMPLEX at scale 1 */
#define MIN_TEXT_PX 10
#define MAX_TEXT 1024

typedef struct cls_vis_state {
    lt_font *font;
    double font_scale; /* <= 0: automatic */
    lt_rgb color;
    int thickness;
    bool multilabel;
    bool include_plot;
    int n_classes;
} cls_vis_state;

static int read_color(lt_module *m, lt_rgb *out)
{
    double rgb[3];
    const int n = lt_module_param_floats(m, "color", rgb, 3);
    if (n < 0) return 0; /* absent: the default (a type error is recorded and reported by the core) */
    if (n != 3) return lt_set_error("%s: params.color must be [R, G, B], got %d numbers", lt_module_name(m), n);
    for (int i = 0; i < 3; i++)
        if (!(rgb[i] >= 0.0 && rgb[i] <= 255.0))
            return lt_set_error("%s: params.color[%d] = %g is outside 0..255", lt_module_name(m), i, rgb[i]);
    *out = (lt_rgb){(uint8_t)lround(rgb[0]), (uint8_t)lround(rgb[1]), (uint8_t)lround(rgb[2])};
    return 0;
}

static int cls_vis_init(lt_module *m)
{
    cls_vis_state *s = lt_module_state(m);
    s->include_plot = lt_module_param_bool(m, "include_plot", true);
    s->font_scale = lt_module_param_float(m, "font_scale", 0.0);
    s->multilabel = lt_module_param_bool(m, "multilabel", false);
    const int64_t thickness = lt_module_param_int(m, "thickness", 2);
    s->color = (lt_rgb){255, 0, 0};
    if (read_color(m, &s->color) != 0) return -1;
    if (thickness < 1 || thickness > 16)
        return lt_set_error("%s: params.thickness must be in 1..16, got %lld", lt_module_name(m), (long long)thickness);
    if (s->font_scale < 0.0 || s->font_scale > 50.0)
        return lt_set_error("%s: params.font_scale must be in 0..50 (0 or unset: sized to the image), got %g",
                            lt_module_name(m), s->font_scale);
    s->thickness = (int)thickness;
    s->n_classes = lt_module_n_classes(m);
    s->font = lt_font_open(NULL);
    if (!s->font) {
        char why[512];
        snprintf(why, sizeof why, "%s", lt_last_error());
        return lt_set_error("%s: %s", lt_module_name(m), why);
    }
    return 0;
}

static void cls_vis_fini(lt_module *m)
{
    cls_vis_state *s = lt_module_state(m);
    lt_font_close(s->font);
    s->font = NULL;
}

/* The text style for an H x W image (the reference's size and thickness rules). */
static lt_text_style text_style(const cls_vis_state *s, int64_t H, int64_t W)
{
    double scale = s->font_scale;
    int weight = s->thickness;
    if (scale <= 0.0) {
        const double w = fmin(0.4, (double)W / (10.0 * (double)(H > 1 ? H : 1)));
        scale = ((1.0 - w) * (double)H + w * (double)W) / 500.0;
        if (scale < 1.0) weight = 1;
    }
    int size = (int)lround(scale * HERSHEY_EM_PX);
    if (size < MIN_TEXT_PX && s->font_scale <= 0.0) size = MIN_TEXT_PX;
    if (size < 1) size = 1;
    return (lt_text_style){.size = size,
                           .color = s->color,
                           .weight = weight,
                           .background = true,
                           .background_color = {0, 0, 0},
                           .background_alpha = 0.6f,
                           .padding = size / 6 + 1};
}

/* Breaks a list "a, b, c" into one entry a line (in place, same length). */
static void one_entry_per_line(char *text)
{
    for (char *c = strstr(text, ", "); c; c = strstr(c + 2, ", ")) c[1] = '\n';
}

/* Draws the label at the image's top-left. A label too wide for the image
 * puts each class on its own line, then is set smaller until it fits. */
static int draw_label(const cls_vis_state *s, lt_draw_image *img, char *text)
{
    lt_text_style st = text_style(s, img->height, img->width);
    const int inset = img->width >= 64 ? 4 : 1, room = img->width - 2 * inset;
    int w, h;
    if (lt_text_size(s->font, text, &st, &w, &h) != 0) return -1;
    if (w > room && strstr(text, ", ")) {
        one_entry_per_line(text);
        if (lt_text_size(s->font, text, &st, &w, &h) != 0) return -1;
    }
    if (w > room && w > 0) {
        const int fitted = (int)((double)st.size * room / w);
        st.size = fitted > 6 ? fitted : 6;
        st.padding = st.size / 6 + 1;
        if (st.weight > 1 && st.size < HERSHEY_EM_PX) st.weight = 1;
    }
    return lt_draw_text(img, s->font, inset, inset, text, &st, NULL, NULL);
}

static const char *class_name(lt_module *m, int c, char *buf, size_t size)
{
    const char *name = c < lt_module_n_classes(m) ? lt_module_class_name(m, c) : NULL;
    if (name && *name) return name;
    snprintf(buf, size, "class %d", c);
    return buf;
}

static double sigmoid(double x) { return 1.0 / (1.0 + exp(-x)); }

/* Probabilities of one row of logits: softmax, or sigmoid per class. */
static void probabilities(const float *logits, int C, bool multilabel, double *p)
{
    if (multilabel) {
        for (int c = 0; c < C; c++) p[c] = sigmoid(logits[c]);
        return;
    }
    double max = logits[0], sum = 0.0;
    for (int c = 1; c < C; c++) max = fmax(max, logits[c]);
    for (int c = 0; c < C; c++) sum += p[c] = exp(logits[c] - max);
    for (int c = 0; c < C; c++) p[c] /= sum;
}

static int argmax_d(const double *p, int C)
{
    int best = 0;
    for (int c = 1; c < C; c++)
        if (p[c] > p[best]) best = c; /* first maximum wins, as torch.argmax */
    return best;
}

/* Appends to buf (truncating safely). */
static void append(char *buf, size_t size, const char *fmt, const char *name, double prob)
{
    const size_t used = strlen(buf);
    if (used + 1 < size) snprintf(buf + used, size - used, fmt, name, prob);
}

static void prediction_text(lt_module *m, const cls_vis_state *s, const double *p, int C, char *buf, size_t size)
{
    char tmp[32];
    snprintf(buf, size, "Pred: ");
    if (!s->multilabel) {
        const int c = argmax_d(p, C);
        append(buf, size, "%s (%.2f)", class_name(m, c, tmp, sizeof tmp), p[c]);
        return;
    }
    bool any = false;
    for (int c = 0; c < C; c++)
        if (p[c] > 0.5) {
            append(buf, size, any ? ", %s %.2f" : "%s %.2f", class_name(m, c, tmp, sizeof tmp), p[c]);
            any = true;
        }
    if (!any) append(buf, size, "%s", "-", 0.0);
}

/* Target row b as class flags in `hit` (one class unless multilabel). */
static int target_classes(lt_module *m, const cls_vis_state *s, const lt_tensor *target, int64_t b, int C, bool *hit)
{
    memset(hit, 0, (size_t)C * sizeof *hit);
    if (target->ndim == 1) {
        const double v = target->dtype == LT_I32 ? lt_i32(target)[b]
                         : target->dtype == LT_U8 ? lt_u8(target)[b]
                                                  : lt_f32(target)[b];
        if (!(v >= 0.0 && v < C) || v != floor(v))
            return lt_set_error("%s: target class %g of image %lld is outside [0, %d)", lt_module_name(m), v,
                                (long long)b, C);
        hit[(int)v] = true;
        return 0;
    }
    double row[C];
    for (int c = 0; c < C; c++)
        row[c] = target->dtype == LT_I32  ? lt_i32(target)[b * C + c]
                 : target->dtype == LT_U8 ? lt_u8(target)[b * C + c]
                                          : lt_f32(target)[b * C + c];
    if (!s->multilabel) {
        hit[argmax_d(row, C)] = true;
        return 0;
    }
    for (int c = 0; c < C; c++) hit[c] = row[c] > 0.5;
    return 0;
}

static void target_text(lt_module *m, const bool *hit, int C, char *buf, size_t size)
{
    char tmp[32];
    bool any = false;
    snprintf(buf, size, "GT: ");
    for (int c = 0; c < C; c++)
        if (hit[c]) {
            append(buf, size, any ? ", %s" : "%s", class_name(m, c, tmp, sizeof tmp), 0.0);
            any = true;
        }
    if (!any) append(buf, size, "%s", "-", 0.0);
}

/* The probability bar plot along the bottom of the image. */
static void draw_plot(const cls_vis_state *s, lt_draw_image *img, const double *p, const bool *truth, int C)
{
    const int panel_h = img->height * 3 / 10, inset = img->width >= 64 ? 4 : 1;
    const int panel_w = img->width - 2 * inset;
    if (panel_h < 8 || panel_w < C) return; /* too small to read */
    const int top = img->height - inset - panel_h;
    lt_draw_blend_rect(img, inset, top, panel_w, panel_h, (lt_rgb){255, 255, 255}, 0.6f);
    const int predicted = s->multilabel ? -1 : argmax_d(p, C);
    const int slot = panel_w / C, gap = slot >= 4 ? slot / 4 : 0, usable = panel_h - 2;
    for (int c = 0; c < C; c++) {
        const int x = inset + c * slot + gap / 2, bar_h = (int)lround(p[c] * usable);
        const bool chosen = s->multilabel ? p[c] > 0.5 : c == predicted;
        const lt_rgb fill = chosen ? s->color : (lt_rgb){110, 110, 110};
        lt_draw_fill_rect(img, x, top + 1 + usable - bar_h, slot - gap, bar_h, fill);
        if (truth && truth[c]) lt_draw_rect(img, x, top + 1, slot - gap, usable, (lt_rgb){0, 170, 0}, 1);
    }
}

static int check_inputs(lt_module *m, const cls_vis_state *s, const lt_tensor *canvas, const lt_tensor *pred,
                        const lt_tensor *target)
{
    char cs[64], ps[64], ts[64];
    if (!pred || pred->dtype != LT_F32 || pred->ndim != 2 || pred->shape[0] != canvas->shape[0] ||
        pred->shape[1] < 1 || (s->n_classes > 0 && pred->shape[1] != s->n_classes))
        return lt_set_error("%s: predictions %s %s must be float32 [B,C] with B = %lld (canvas %s) and C = %d",
                            lt_module_name(m), pred ? lt_dtype_name(pred->dtype) : "NULL",
                            pred ? lt_shape_str(pred, ps, sizeof ps) : "", (long long)canvas->shape[0],
                            lt_shape_str(canvas, cs, sizeof cs), s->n_classes);
    if (pred->shape[1] > 4096)
        return lt_set_error("%s: %lld classes are too many to draw", lt_module_name(m), (long long)pred->shape[1]);
    if (!target) return 0;
    const bool dtype_ok = target->dtype == LT_F32 || target->dtype == LT_I32 || target->dtype == LT_U8;
    const bool shape_ok = (target->ndim == 1 && target->shape[0] == pred->shape[0]) ||
                          (target->ndim == 2 && lt_same_shape(target, pred));
    if (!dtype_ok || !shape_ok)
        return lt_set_error("%s: target %s %s must be class indices [B] or one-hot [B,C] matching predictions %s",
                            lt_module_name(m), lt_dtype_name(target->dtype), lt_shape_str(target, ts, sizeof ts),
                            lt_shape_str(pred, ps, sizeof ps));
    return 0;
}

static int cls_vis_forward(lt_module *m, lt_tensor *prediction_canvas, lt_tensor *target_canvas,
                           lt_tensor *predictions, lt_tensor *target)
{
    const cls_vis_state *s = lt_module_state(m);
    lt_draw_image img;
    if (lt_draw_image_from_canvas(prediction_canvas, 0, &img) != 0) return LT_VIS_ERROR;
    if (target && lt_draw_image_from_canvas(target_canvas, 0, &img) != 0) return LT_VIS_ERROR;
    if (target && !lt_same_shape(prediction_canvas, target_canvas)) {
        char a[64], b[64];
        lt_set_error("%s: prediction canvas %s and target canvas %s differ", lt_module_name(m),
                     lt_shape_str(prediction_canvas, a, sizeof a), lt_shape_str(target_canvas, b, sizeof b));
        return LT_VIS_ERROR;
    }
    if (check_inputs(m, s, prediction_canvas, predictions, target) != 0) return LT_VIS_ERROR;
    const int C = (int)predictions->shape[1];
    double p[C];
    bool truth[C];
    char text[MAX_TEXT];
    for (int64_t b = 0; b < predictions->shape[0]; b++) {
        probabilities(lt_f32(predictions) + b * C, C, s->multilabel, p);
        if (target) {
            if (target_classes(m, s, target, b, C, truth) != 0) return LT_VIS_ERROR;
            target_text(m, truth, C, text, sizeof text);
            if (lt_draw_image_from_canvas(target_canvas, b, &img) != 0 || draw_label(s, &img, text) != 0)
                return LT_VIS_ERROR;
        }
        prediction_text(m, s, p, C, text, sizeof text);
        if (lt_draw_image_from_canvas(prediction_canvas, b, &img) != 0 || draw_label(s, &img, text) != 0)
            return LT_VIS_ERROR;
        if (s->include_plot) draw_plot(s, &img, p, target ? truth : NULL, C);
    }
    return target ? LT_VIS_PAIR : LT_VIS_PREDICTION;
}

static const lt_visualizer_desc classification_visualizer = {
    .header = {
        .abi_version = LT_PLUGIN_ABI_VERSION,
        .size = sizeof(lt_visualizer_desc),
        .kind = LT_DESC_VISUALIZER,
        .name = "ClassificationVisualizer",
        .summary = "writes the predicted class (+ probability) and the true class on the images; probability plot",
    },
    .supported_tasks = (const char *const[]){"classification", NULL},
    .state_size = sizeof(cls_vis_state),
    .init = cls_vis_init,
    .fini = cls_vis_fini,
    .args = (const lt_arg_spec[]){
        {"predictions", LT_ARG_TENSOR, 0},
        {"target", LT_ARG_TENSOR, LT_ARG_OPTIONAL},
        {0},
    },
    .forward = LT_FN(cls_vis_forward),
};

LT_PLUGIN("ltrain_classification_visualizer", "1.0", &classification_visualizer.header)

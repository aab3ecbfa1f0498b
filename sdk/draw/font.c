/* Text with FreeType: anti-aliased glyph coverage blended onto the image. */
#include <ltrain/draw.h>

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <ft2build.h>
#include FT_FREETYPE_H
#include FT_OUTLINE_H

struct lt_font {
    FT_Library library;
    FT_Face face;
    char *path;
};

LT_API lt_font *lt_font_open(const char *path)
{
    const char *env = getenv("LTRAIN_FONT");
    const char *from = path && *path ? "argument" : env && *env ? "LTRAIN_FONT" : "default";
    if (!path || !*path) path = env && *env ? env : LT_DRAW_DEFAULT_FONT;
    FILE *f = fopen(path, "rb");
    if (!f) {
        lt_set_error("font: cannot open %s (%s font): %s; install fonts-dejavu-core or set LTRAIN_FONT to a "
                     ".ttf file",
                     path, from, strerror(errno));
        return NULL;
    }
    fclose(f);
    lt_font *font = calloc(1, sizeof *font);
    if (!font || !(font->path = strdup(path))) {
        free(font);
        lt_set_error("font: out of memory opening %s", path);
        return NULL;
    }
    FT_Error err = FT_Init_FreeType(&font->library);
    if (err) {
        lt_set_error("font: FreeType failed to start (error %d)", (int)err);
        lt_font_close(font);
        return NULL;
    }
    err = FT_New_Face(font->library, path, 0, &font->face);
    if (err) {
        font->face = NULL;
        lt_set_error("font: %s (%s font) is not a font FreeType can read (error %d); set LTRAIN_FONT to a .ttf "
                     "file",
                     path, from, (int)err);
        lt_font_close(font);
        return NULL;
    }
    if (!FT_IS_SCALABLE(font->face)) {
        lt_set_error("font: %s is a bitmap font; a scalable (TrueType/OpenType) font is needed", path);
        lt_font_close(font);
        return NULL;
    }
    return font;
}

LT_API void lt_font_close(lt_font *font)
{
    if (!font) return;
    if (font->face) FT_Done_Face(font->face);
    if (font->library) FT_Done_FreeType(font->library);
    free(font->path);
    free(font);
}

LT_API const char *lt_font_path(const lt_font *font)
{
    return font ? font->path : NULL;
}

/* Next code point of UTF-8 text (advancing *s); U+FFFD for malformed bytes. */
static uint32_t next_code_point(const char **s)
{
    const unsigned char *p = (const unsigned char *)*s;
    uint32_t c = p[0];
    int extra = c < 0x80 ? 0 : (c & 0xE0) == 0xC0 ? 1 : (c & 0xF0) == 0xE0 ? 2 : (c & 0xF8) == 0xF0 ? 3 : -1;
    if (extra < 0) {
        *s += 1;
        return 0xFFFD;
    }
    c &= extra == 0 ? 0x7F : 0x3F >> extra;
    for (int i = 1; i <= extra; i++) {
        if ((p[i] & 0xC0) != 0x80) {
            *s += i;
            return 0xFFFD;
        }
        c = (c << 6) | (p[i] & 0x3F);
    }
    *s += 1 + extra;
    return c;
}

static int check_style(const lt_font *font, const char *text, const lt_text_style *st)
{
    if (!font || !text || !st) return lt_set_error("draw_text: font, text and style must not be NULL");
    if (st->size < 1 || st->size > 2048) return lt_set_error("draw_text: size must be in 1..2048, got %d", st->size);
    if (st->weight < 1 || st->weight > 16)
        return lt_set_error("draw_text: weight must be in 1..16, got %d", st->weight);
    if (st->padding < 0 || st->padding > 4096)
        return lt_set_error("draw_text: padding must be in 0..4096, got %d", st->padding);
    return 0;
}

/* Emboldening strength in 26.6 pixels: size/24 px per weight step above 1. */
static FT_Pos embolden_strength(const lt_text_style *st)
{
    return (FT_Pos)(st->weight - 1) * st->size * 64 / 24;
}

typedef struct text_metrics {
    int ascender, line_height; /* pixels */
} text_metrics;

static int set_size(lt_font *font, const lt_text_style *st, text_metrics *m)
{
    FT_Error err = FT_Set_Pixel_Sizes(font->face, 0, (FT_UInt)st->size);
    if (err)
        return lt_set_error("draw_text: %s cannot be set to %d px (FreeType error %d)", font->path, st->size,
                            (int)err);
    const FT_Size_Metrics *sm = &font->face->size->metrics;
    m->ascender = (int)((sm->ascender + 63) >> 6);
    m->line_height = m->ascender + (int)((-sm->descender + 63) >> 6) + (int)((embolden_strength(st) + 63) >> 6);
    return 0;
}

/* Loads (and emboldens) glyph `index` into the face's slot, rendered when
 * `render`; returns its advance in 26.6 pixels, or -1 with an error. */
static FT_Pos load_glyph(lt_font *font, FT_UInt index, const lt_text_style *st, bool render)
{
    FT_Error err = FT_Load_Glyph(font->face, index, FT_LOAD_DEFAULT | FT_LOAD_NO_BITMAP);
    if (err)
        return lt_set_error("draw_text: glyph %u of %s failed to load (FreeType error %d)", index, font->path,
                            (int)err);
    FT_GlyphSlot slot = font->face->glyph;
    const FT_Pos strength = embolden_strength(st);
    if (strength > 0 && slot->format == FT_GLYPH_FORMAT_OUTLINE) FT_Outline_Embolden(&slot->outline, strength);
    if (render && (err = FT_Render_Glyph(slot, FT_RENDER_MODE_NORMAL)))
        return lt_set_error("draw_text: glyph %u of %s failed to render (FreeType error %d)", index, font->path,
                            (int)err);
    return slot->advance.x + strength;
}

/* Blends the rendered glyph's coverage bitmap, its top-left at (left, top). */
static void blit_glyph(lt_draw_image *img, const FT_Bitmap *bm, int left, int top, lt_rgb color)
{
    const uint8_t rgb[3] = {color.r, color.g, color.b};
    for (unsigned r = 0; r < bm->rows; r++) {
        const int64_t y = (int64_t)top + r;
        if (y < 0 || y >= img->height) continue;
        const unsigned char *cov = bm->buffer + (int64_t)r * bm->pitch;
        for (unsigned i = 0; i < bm->width; i++) {
            const int64_t x = (int64_t)left + i;
            if (x < 0 || x >= img->width || cov[i] == 0) continue;
            const int a = cov[i] + (cov[i] >> 7); /* 0..255 -> 0..256 */
            uint8_t *p = img->data + y * img->row_stride + x * img->pixel_stride;
            for (int c = 0; c < 3; c++) {
                uint8_t *q = p + c * img->channel_stride;
                *q = (uint8_t)((*q * (256 - a) + rgb[c] * a + 128) >> 8);
            }
        }
    }
}

/* Lays out the text; draws it when img is non-NULL with the first baseline
 * at (x, baseline). Reports the widest line's advance and the line count. */
static int layout(lt_font *font, const char *text, const lt_text_style *st, const text_metrics *m,
                  lt_draw_image *img, int x, int baseline, int *max_width, int *lines)
{
    FT_Pos pen = 0, widest = 0;
    FT_UInt previous = 0;
    int line = 0;
    const bool kerning = FT_HAS_KERNING(font->face);
    for (const char *s = text; *s;) {
        const uint32_t c = next_code_point(&s);
        if (c == '\n') {
            widest = pen > widest ? pen : widest;
            pen = 0, previous = 0, line++;
            continue;
        }
        const FT_UInt index = FT_Get_Char_Index(font->face, c);
        if (kerning && previous && index) {
            FT_Vector k;
            if (!FT_Get_Kerning(font->face, previous, index, FT_KERNING_DEFAULT, &k)) pen += k.x;
        }
        const FT_Pos advance = load_glyph(font, index, st, img != NULL);
        if (advance < 0) return -1;
        if (img) {
            const FT_GlyphSlot slot = font->face->glyph;
            blit_glyph(img, &slot->bitmap, x + (int)((pen + 32) >> 6) + slot->bitmap_left,
                       baseline + line * m->line_height - slot->bitmap_top, st->color);
        }
        pen += advance;
        previous = index;
    }
    widest = pen > widest ? pen : widest;
    *max_width = (int)((widest + 63) >> 6);
    *lines = line + 1;
    return 0;
}

LT_API int lt_text_size(lt_font *font, const char *text, const lt_text_style *style, int *width, int *height)
{
    text_metrics m = {0, 0};
    int w, lines;
    if (check_style(font, text, style) != 0 || set_size(font, style, &m) != 0) return -1;
    if (layout(font, text, style, &m, NULL, 0, 0, &w, &lines) != 0) return -1;
    if (width) *width = w + 2 * style->padding;
    if (height) *height = lines * m.line_height + 2 * style->padding;
    return 0;
}

LT_API int lt_draw_text(lt_draw_image *img, lt_font *font, int x, int y, const char *text,
                        const lt_text_style *style, int *width, int *height)
{
    if (!img || !img->data) return lt_set_error("draw_text: image is NULL");
    int w, h;
    if (lt_text_size(font, text, style, &w, &h) != 0) return -1;
    if (style->background) lt_draw_blend_rect(img, x, y, w, h, style->background_color, style->background_alpha);
    text_metrics m = {0, 0};
    int ignored_w, ignored_lines;
    if (set_size(font, style, &m) != 0) return -1;
    const FT_Pos half_strength = embolden_strength(style) / 2;
    /* Emboldening grows the outline by strength/2 on each side: shift right by it. */
    if (layout(font, text, style, &m, img, x + style->padding + (int)((half_strength + 32) >> 6),
               y + style->padding + m.ascender, &ignored_w, &ignored_lines) != 0)
        return -1;
    if (width) *width = w;
    if (height) *height = h;
    return 0;
}

/* Image files: PNG (libpng) and JPEG (libjpeg-turbo) decoding into 8-bit
 * RGB, and PNG encoding. Both libraries report fatal errors through a
 * callback that must not return; ours record the library's message and
 * longjmp back to the decode call, which frees what it allocated and fails
 * with "PATH: reason". */
#define _POSIX_C_SOURCE 200809L
#include "data.h"

#include <errno.h>
#include <limits.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jerror.h>
#include <jpeglib.h>
#include <png.h>

/* Decoded images larger than this are refused rather than allocated: a
 * corrupt header can claim any size. */
#define MAX_PIXELS ((int64_t)1 << 28)

int lt_image_alloc(lt_image *im, int h, int w, int c)
{
    memset(im, 0, sizeof *im);
    if (h <= 0 || w <= 0 || c <= 0 || c > 4 || (int64_t)h * w > MAX_PIXELS)
        return lt_set_error("image: bad size %dx%dx%d", h, w, c);
    im->px = calloc((size_t)h * w * c, 1);
    if (!im->px) return lt_set_error("image: out of memory for %dx%dx%d", h, w, c);
    im->h = h, im->w = w, im->c = c;
    return 0;
}

void lt_image_free(lt_image *im)
{
    if (!im) return;
    free(im->px);
    memset(im, 0, sizeof *im);
}

/* ---- PNG ---- */

typedef struct png_io {
    const uint8_t *data;
    size_t size, pos;
    char message[200];
    png_bytep *rows;
} png_io;

static void png_on_error(png_structp png, png_const_charp msg)
{
    png_io *io = png_get_error_ptr(png);
    snprintf(io->message, sizeof io->message, "%s", msg);
    png_longjmp(png, 1);
}

static void png_on_warning(png_structp png, png_const_charp msg)
{
    (void)png, (void)msg; /* benign (e.g. an unknown chunk); errors longjmp */
}

static void png_read_mem(png_structp png, png_bytep out, png_size_t n)
{
    png_io *io = png_get_io_ptr(png);
    if (n > io->size - io->pos) png_error(png, "file is truncated");
    memcpy(out, io->data + io->pos, n);
    io->pos += n;
}

/* Asks libpng for 8-bit RGB whatever the stored format. */
static void png_want_rgb8(png_structp png, png_infop info)
{
    int color = png_get_color_type(png, info);
    if (png_get_bit_depth(png, info) == 16) png_set_scale_16(png);
    if (color == PNG_COLOR_TYPE_PALETTE) png_set_palette_to_rgb(png);
    if (color == PNG_COLOR_TYPE_GRAY || color == PNG_COLOR_TYPE_GRAY_ALPHA) {
        png_set_expand_gray_1_2_4_to_8(png);
        png_set_gray_to_rgb(png);
    }
    if (png_get_valid(png, info, PNG_INFO_tRNS)) png_set_tRNS_to_alpha(png);
    png_set_strip_alpha(png);
    png_set_interlace_handling(png);
    png_read_update_info(png, info);
}

static int png_decode(const uint8_t *data, size_t size, const char *name, lt_image *out)
{
    png_io io = {.data = data, .size = size};
    png_structp png = png_create_read_struct(PNG_LIBPNG_VER_STRING, &io, png_on_error, png_on_warning);
    png_infop info = png ? png_create_info_struct(png) : NULL;
    if (!info) {
        png_destroy_read_struct(&png, NULL, NULL);
        return lt_set_error("%s: out of memory starting libpng", name);
    }
    memset(out, 0, sizeof *out);
    if (setjmp(png_jmpbuf(png))) {
        free(io.rows);
        lt_image_free(out);
        png_destroy_read_struct(&png, &info, NULL);
        return lt_set_error("%s: corrupt PNG: %s", name, io.message);
    }
    png_set_read_fn(png, &io, png_read_mem);
    png_set_user_limits(png, 1 << 20, 1 << 20);
    png_read_info(png, info);
    png_want_rgb8(png, info);
    int w = (int)png_get_image_width(png, info), h = (int)png_get_image_height(png, info);
    if (png_get_rowbytes(png, info) != (size_t)w * 3) png_error(png, "unexpected row layout after conversion");
    if (lt_image_alloc(out, h, w, 3)) png_error(png, "image too large");
    io.rows = malloc(sizeof *io.rows * (size_t)h);
    if (!io.rows) png_error(png, "out of memory");
    for (int y = 0; y < h; y++) io.rows[y] = out->px + (size_t)y * w * 3;
    png_read_image(png, io.rows);
    png_read_end(png, NULL);
    free(io.rows);
    png_destroy_read_struct(&png, &info, NULL);
    return 0;
}

/* ---- JPEG ---- */

typedef struct jpeg_err {
    struct jpeg_error_mgr mgr;
    jmp_buf jump;
    char message[JMSG_LENGTH_MAX];
} jpeg_err;

static void jpeg_on_error(j_common_ptr cinfo)
{
    jpeg_err *e = (jpeg_err *)cinfo->err;
    e->mgr.format_message(cinfo, e->message);
    longjmp(e->jump, 1);
}

/* Warnings are silent except truncation, which libjpeg would otherwise
 * paper over with gray rows: a truncated file is an error here. */
static void jpeg_on_message(j_common_ptr cinfo, int level)
{
    jpeg_err *e = (jpeg_err *)cinfo->err;
    if (level < 0 && e->mgr.msg_code == JWRN_JPEG_EOF) jpeg_on_error(cinfo);
}

/* CMYK / YCCK scanline to RGB. Adobe writers store inverted inks, which
 * is what libjpeg hands back when the Adobe marker is present. */
static void cmyk_to_rgb(const uint8_t *in, uint8_t *out, int w, bool inverted)
{
    for (int x = 0; x < w; x++) {
        int k = inverted ? in[4 * x + 3] : 255 - in[4 * x + 3];
        for (int c = 0; c < 3; c++) {
            int v = inverted ? in[4 * x + c] : 255 - in[4 * x + c];
            out[3 * x + c] = (uint8_t)((v * k + 127) / 255);
        }
    }
}

typedef struct jpeg_job {
    struct jpeg_decompress_struct cinfo;
    jpeg_err err;
    uint8_t *cmyk_row;
} jpeg_job;

static int jpeg_decode(const uint8_t *data, size_t size, const char *name, lt_image *out)
{
    jpeg_job *job = calloc(1, sizeof *job); /* heap: nothing local changes between setjmp and longjmp */
    if (!job) return lt_set_error("%s: out of memory", name);
    memset(out, 0, sizeof *out);
    job->cinfo.err = jpeg_std_error(&job->err.mgr);
    job->err.mgr.error_exit = jpeg_on_error;
    job->err.mgr.emit_message = jpeg_on_message;
    if (setjmp(job->err.jump)) {
        lt_set_error("%s: corrupt JPEG: %s", name, job->err.message);
        jpeg_destroy_decompress(&job->cinfo);
        lt_image_free(out);
        free(job->cmyk_row);
        free(job);
        return -1;
    }
    jpeg_create_decompress(&job->cinfo);
    jpeg_mem_src(&job->cinfo, data, (unsigned long)size);
    jpeg_read_header(&job->cinfo, TRUE);
    J_COLOR_SPACE src = job->cinfo.jpeg_color_space;
    bool cmyk = src == JCS_CMYK || src == JCS_YCCK;
    job->cinfo.out_color_space = cmyk ? JCS_CMYK : JCS_RGB;
    jpeg_start_decompress(&job->cinfo);
    int w = (int)job->cinfo.output_width, h = (int)job->cinfo.output_height;
    if (job->cinfo.output_components != (cmyk ? 4 : 3)) ERREXIT(&job->cinfo, JERR_BAD_IN_COLORSPACE);
    if (lt_image_alloc(out, h, w, 3)) ERREXIT1(&job->cinfo, JERR_OUT_OF_MEMORY, 1);
    if (cmyk && !(job->cmyk_row = malloc((size_t)w * 4))) ERREXIT1(&job->cinfo, JERR_OUT_OF_MEMORY, 2);
    while (job->cinfo.output_scanline < job->cinfo.output_height) {
        uint8_t *row = out->px + (size_t)job->cinfo.output_scanline * w * 3;
        JSAMPROW dst = cmyk ? job->cmyk_row : row;
        jpeg_read_scanlines(&job->cinfo, &dst, 1);
        if (cmyk) cmyk_to_rgb(job->cmyk_row, row, w, job->cinfo.saw_Adobe_marker);
    }
    jpeg_finish_decompress(&job->cinfo);
    jpeg_destroy_decompress(&job->cinfo);
    free(job->cmyk_row);
    free(job);
    return 0;
}

/* ---- files ---- */

int lt_image_decode(const void *data, size_t size, const char *name, lt_image *out)
{
    static const uint8_t png_sig[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
    const uint8_t *b = data;
    memset(out, 0, sizeof *out);
    if (size >= 8 && memcmp(b, png_sig, 8) == 0) return png_decode(b, size, name, out);
    if (size >= 3 && b[0] == 0xff && b[1] == 0xd8 && b[2] == 0xff) return jpeg_decode(b, size, name, out);
    if (size == 0) return lt_set_error("%s: empty file", name);
    return lt_set_error("%s: not a PNG or JPEG file (unknown signature)", name);
}

static int read_file(const char *path, uint8_t **data, size_t *size)
{
    FILE *f = fopen(path, "rb");
    if (!f) return lt_set_error("%s: cannot open: %s", path, strerror(errno));
    size_t cap = 1 << 16, n = 0;
    uint8_t *buf = malloc(cap);
    while (buf) {
        n += fread(buf + n, 1, cap - n, f);
        if (n < cap) break;
        uint8_t *bigger = cap < SIZE_MAX / 2 ? realloc(buf, cap * 2) : NULL;
        if (!bigger) free(buf);
        buf = bigger, cap *= 2;
    }
    int failed = ferror(f);
    fclose(f);
    if (!buf) return lt_set_error("%s: out of memory reading the file", path);
    if (failed) {
        free(buf);
        return lt_set_error("%s: read error", path);
    }
    *data = buf, *size = n;
    return 0;
}

int lt_image_load(const char *path, lt_image *out)
{
    uint8_t *data = NULL;
    size_t size = 0;
    memset(out, 0, sizeof *out);
    if (read_file(path, &data, &size)) return -1;
    int rc = lt_image_decode(data, size, path, out);
    free(data);
    return rc;
}

typedef struct png_writer {
    FILE *f;
    char message[200];
} png_writer;

static void png_on_write_error(png_structp png, png_const_charp msg)
{
    png_writer *pw = png_get_error_ptr(png);
    snprintf(pw->message, sizeof pw->message, "%s", msg);
    png_longjmp(png, 1);
}

static int write_png_rows(png_writer *pw, const uint8_t *px, int h, int w, int c)
{
    static const int color_of[5] = {0, PNG_COLOR_TYPE_GRAY, 0, PNG_COLOR_TYPE_RGB, PNG_COLOR_TYPE_RGBA};
    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, pw, png_on_write_error, png_on_warning);
    png_infop info = png ? png_create_info_struct(png) : NULL;
    if (!info) {
        png_destroy_write_struct(&png, NULL);
        snprintf(pw->message, sizeof pw->message, "out of memory starting libpng");
        return -1;
    }
    if (setjmp(png_jmpbuf(png))) {
        png_destroy_write_struct(&png, &info);
        return -1;
    }
    png_init_io(png, pw->f);
    png_set_IHDR(png, info, (png_uint_32)w, (png_uint_32)h, 8, color_of[c], PNG_INTERLACE_NONE,
                 PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    png_write_info(png, info);
    for (int y = 0; y < h; y++) png_write_row(png, px + (size_t)y * w * c);
    png_write_end(png, NULL);
    png_destroy_write_struct(&png, &info);
    return 0;
}

int lt_image_save_png(const char *path, const uint8_t *px, int h, int w, int c)
{
    if (!px || h <= 0 || w <= 0 || (c != 1 && c != 3 && c != 4))
        return lt_set_error("%s: cannot write a %dx%dx%d PNG (1, 3 or 4 channels)", path, h, w, c);
    size_t len = strlen(path);
    char *tmp = malloc(len + 5);
    if (!tmp) return lt_set_error("%s: out of memory", path);
    memcpy(tmp, path, len);
    memcpy(tmp + len, ".tmp", 5);
    png_writer pw = {.f = fopen(tmp, "wb")};
    if (!pw.f) {
        lt_set_error("%s: cannot create: %s", tmp, strerror(errno));
        free(tmp);
        return -1;
    }
    int rc = write_png_rows(&pw, px, h, w, c);
    if (fclose(pw.f) != 0 && rc == 0) {
        rc = -1;
        snprintf(pw.message, sizeof pw.message, "%s", strerror(errno));
    }
    if (rc == 0 && rename(tmp, path) != 0) {
        rc = -1;
        snprintf(pw.message, sizeof pw.message, "rename failed: %s", strerror(errno));
    }
    if (rc) {
        remove(tmp);
        lt_set_error("%s: cannot write PNG: %s", path, pw.message);
    }
    free(tmp);
    return rc;
}

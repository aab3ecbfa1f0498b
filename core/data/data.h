/* ltrain core — datasets, image files, preprocessing and batching (private).
 *
 * The data path of a run, in the order a sample travels:
 *
 *   lt_dataset      a numbered collection of samples: a `clsdir` folder of
 *                   PNG/JPEG files (clsdir.c) or the built-in generated
 *                   shapes (generated.c). get() is thread-safe.
 *   lt_sample       one decoded sample: an 8-bit HWC RGB image and its labels
 *                   (class, and for the generated set one object's box, mask
 *                   and keypoints), coordinates normalised to [0,1].
 *   lt_preprocess   the trainer.preprocessing section: augmentations by name
 *                   (geometric ones move the labels too), resize or
 *                   letterbox to train_image_size, pixel transforms, colour
 *                   space and normalisation into float32 CHW (augment.c).
 *   lt_batcher      per-epoch shuffled batches built by n_workers threads
 *                   ahead of the consumer (batcher.c).
 *
 * Randomness: every random choice of a sample comes from a generator seeded
 * by (seed, epoch, dataset index), so batches are the same bits for any
 * worker count.
 *
 * Errors follow include/ltrain/common.h: NULL / -1 with lt_last_error()
 * naming the file, key or augmentation and what was expected. */
#ifndef LTRAIN_CORE_DATA_H
#define LTRAIN_CORE_DATA_H

#include <ltrain/cfg.h>
#include <ltrain/rng.h>
#include <ltrain/tensor.h>

/* ------------------------------------------------------------------ */
/* Images (image_io.c)                                                 */
/* ------------------------------------------------------------------ */

/* An 8-bit image, HWC, `c` channels (3 = RGB unless said otherwise).
 * `px` is malloc'd and owned by the image. */
typedef struct lt_image {
    int h, w, c;
    uint8_t *px;
} lt_image;

/* A zeroed image of h x w x c; -1 on a bad size or out of memory. */
int lt_image_alloc(lt_image *im, int h, int w, int c);
void lt_image_free(lt_image *im);

/* Decodes a PNG (gray, gray+alpha, RGB, RGBA, palette, 1-16 bit) or JPEG
 * (gray, RGB, YCbCr, CMYK/YCCK) file into 8-bit RGB. The format is taken
 * from the file's signature, not its name. Alpha is dropped (not blended),
 * 16-bit samples are scaled to 8 bits. -1 with "PATH: reason" (the library's
 * own message for corrupt data) on any failure; never crashes. */
int lt_image_load(const char *path, lt_image *out);
/* The same from a memory buffer; `name` is used in error messages. */
int lt_image_decode(const void *data, size_t size, const char *name, lt_image *out);

/* Writes an 8-bit PNG of 1 (gray), 3 (RGB) or 4 (RGBA) channels, HWC. The
 * file is written to PATH.tmp and renamed, so it is never left half-written. */
int lt_image_save_png(const char *path, const uint8_t *px, int h, int w, int c);

/* ------------------------------------------------------------------ */
/* Samples and datasets                                                */
/* ------------------------------------------------------------------ */

#define LT_DATA_MAX_KEYPOINTS 8

/* One sample. Box and keypoints are normalised to [0,1] of the image
 * (x_min, y_min, w, h; x, y, visibility 0/1/2, the reference's layout). */
typedef struct lt_sample {
    lt_image image;          /* RGB, owned */
    int32_t cls;             /* class id, -1 when unknown (inference) */
    bool has_box;            /* the object's box (and keypoints) survived */
    float box[4];
    uint8_t *mask;           /* image.h x image.w, 0/1, owned; NULL when none */
    int n_keypoints;         /* 0 when the dataset has none */
    float keypoints[LT_DATA_MAX_KEYPOINTS * 3];
} lt_sample;

void lt_sample_free(lt_sample *s);

typedef struct lt_dataset lt_dataset;
struct lt_dataset {
    int64_t n;               /* samples */
    int n_classes;
    char **class_names;      /* n_classes names, owned */
    int64_t *class_counts;   /* samples per class, owned */
    bool has_boxes, has_masks;
    int n_keypoints;
    /* Fills `out` with sample `index` (0 <= index < n); thread-safe. -1 with
     * an error naming the file on failure (out is then empty). */
    int (*get)(const lt_dataset *ds, int64_t index, lt_sample *out);
    /* Path of sample `index`; always set, returns NULL for generated
     * samples (and out-of-range indices). */
    const char *(*path)(const lt_dataset *ds, int64_t index);
    void (*destroy)(lt_dataset *ds); /* frees impl */
    void *impl;
};

void lt_dataset_free(lt_dataset *ds);

/* ---- clsdir (clsdir.c) ---- */

typedef struct lt_clsdir_options {
    /* true: decode every image once when opening, leave the corrupt ones out
     * and list them in lt_clsdir_skipped(); false: a corrupt image fails the
     * batch that reads it, naming its path. */
    bool skip_corrupt;
} lt_clsdir_options;

/* Opens split `view` ("train", "val" or "test"; "val" also finds a folder
 * named "valid", "valid" also finds "val") of the folder `dir`: one
 * sub-folder per class (sorted by name), each holding .png/.jpg/.jpeg files
 * (case-insensitive; other files are ignored). Class names come from the
 * split's folders. Errors: missing dir or split (listing the splits that
 * exist), a split without classes, an empty class folder. */
lt_dataset *lt_clsdir_open(const char *dir, const char *view, const lt_clsdir_options *opt);
/* Paths of the images left out by skip_corrupt, with the reasons
 * ("PATH: reason"); borrowed from ds. */
int lt_clsdir_n_skipped(const lt_dataset *ds);
const char *lt_clsdir_skipped(const lt_dataset *ds, int i);

/* ---- generated shapes (generated.c) ---- */

/* Shapes in class order; a dataset uses the first n_classes of them. */
#define LT_GENERATED_MAX_CLASSES 10
extern const char *const lt_generated_class_names[LT_GENERATED_MAX_CLASSES];
/* Keypoints of every generated object: centre, then four shape-specific
 * points (the circle's top/right/bottom/left, the square's corners, ...). */
#define LT_GENERATED_KEYPOINTS 5

typedef struct lt_generated_options {
    int image_size;          /* square images; default 32 */
    int n_classes;           /* 2..LT_GENERATED_MAX_CLASSES; default 4 */
    int64_t n_train, n_val, n_test; /* defaults 2048, 512, 512 */
    uint64_t seed;           /* default 0 */
} lt_generated_options;

/* Defaults as listed above. */
void lt_generated_defaults(lt_generated_options *o);
/* Reads the generated dataset's loader.params (image_size, n_classes,
 * n_train, n_val, n_test, seed); absent keys keep o's values. NULL cfg is
 * fine. Unknown keys fail with the closest valid one. */
int lt_generated_options_from_cfg(const lt_cfg *params, lt_generated_options *o);
/* A generated split: view "train", "val" or "test". Sample i of a split
 * depends only on (seed, view, i). */
lt_dataset *lt_generated_open(const lt_generated_options *o, const char *view);

/* ------------------------------------------------------------------ */
/* Preprocessing and augmentation (augment.c)                          */
/* ------------------------------------------------------------------ */

typedef enum lt_stage {
    LT_STAGE_TRAIN = 1,
    LT_STAGE_VAL = 2,
    LT_STAGE_TEST = 4,
} lt_stage;

typedef enum lt_color_space { LT_RGB = 0, LT_BGR, LT_GRAY } lt_color_space;

typedef enum lt_aug_kind {
    LT_AUG_HFLIP,
    LT_AUG_VFLIP,
    LT_AUG_ROTATE90,
    LT_AUG_RESIZED_CROP,
    LT_AUG_COLOR_JITTER,
    LT_AUG_BRIGHTNESS_CONTRAST,
    LT_AUG_COUNT
} lt_aug_kind;

typedef struct lt_aug {
    lt_aug_kind kind;
    float p;                 /* probability of applying; default 0.5 (1 for RandomResizedCrop) */
    unsigned stages;         /* lt_stage bits; default train */
    /* RandomResizedCrop: output size (default train_image_size), scale and
     * ratio ranges (torchvision defaults (0.08,1), (3/4,4/3)). */
    int height, width;
    float scale[2], ratio[2];
    /* ColorJitter: ranges of the brightness, contrast and saturation
     * factors and of the hue shift (a scalar v in the config means
     * [max(0, 1-v), 1+v], and [-v, v] for hue). */
    float jitter[4][2];
    /* RandomBrightnessContrast: beta and alpha-1 ranges (scalar v: [-v, v]);
     * brightness as a fraction of 255 (by_max) or of the image mean. */
    float brightness_limit[2], contrast_limit[2];
    bool brightness_by_max;
} lt_aug;

#define LT_MAX_AUGS 32

typedef struct lt_preprocess {
    int height, width;       /* train_image_size [H, W]; default 256 x 256 */
    bool keep_aspect_ratio;  /* letterbox; default true */
    lt_color_space color_space;
    bool normalize;          /* default true, ImageNet mean/std */
    float mean[3], std[3];
    int n_augs;
    lt_aug augs[LT_MAX_AUGS];
} lt_preprocess;

/* The reference's defaults: 256x256, letterbox, RGB, ImageNet normalize,
 * no augmentations. */
void lt_preprocess_defaults(lt_preprocess *pp);
/* Reads a trainer.preprocessing map (NULL = defaults): train_image_size,
 * keep_aspect_ratio, color_space, normalize {active, params {mean, std}},
 * augmentations [{name, params, active, apply_on_stages}]. A Normalize
 * augmentation replaces normalize.params. Unknown augmentation names, keys
 * and params fail naming the config location and the closest valid name. */
int lt_preprocess_from_cfg(const lt_cfg *preprocessing, lt_preprocess *pp);
/* Channels of the output (1 for GRAY, else 3). */
int lt_preprocess_channels(const lt_preprocess *pp);
/* Stage of a view name: train when it contains "train", else val or test. */
lt_stage lt_stage_of_view(const char *view);

/* The generator for sample `index` of `epoch` (what lt_preprocess_apply
 * uses). */
void lt_sample_rng(lt_rng *rng, uint64_t seed, int64_t epoch, int64_t index);

/* Runs the pipeline on `s` (modified in place: image resized, labels moved)
 * and writes the result as float32 CHW (channels x height x width) into
 * out. Augmentations whose stages exclude `stage` are skipped. */
int lt_preprocess_apply(const lt_preprocess *pp, lt_stage stage, lt_rng *rng, lt_sample *s, float *out);

/* Undoes normalisation and colour space of a CHW float image back into 8-bit
 * RGB HWC (for pictures). out holds pp->height * pp->width * 3 bytes. */
void lt_preprocess_to_rgb(const lt_preprocess *pp, const float *chw, uint8_t *out);

/* Single transforms on 8-bit images (exposed for tests and infer). Labels
 * in s follow the geometry. */
void lt_aug_hflip(lt_sample *s);
void lt_aug_vflip(lt_sample *s);
/* Rotates by k * 90 degrees counter-clockwise (numpy.rot90). */
int lt_aug_rot90(lt_sample *s, int k);
/* Crops the pixel rectangle (x, y, w, h) (inside the image) and resizes it
 * to out_h x out_w. */
int lt_aug_crop_resize(lt_sample *s, int x, int y, int w, int h, int out_h, int out_w);
/* Resize (bilinear when enlarging, exact area average when shrinking, each
 * axis on its own) to h x w. */
int lt_aug_resize(lt_sample *s, int h, int w);
/* Letterbox: scale to fit inside h x w keeping the aspect ratio, centre,
 * pad with zeros. */
int lt_aug_letterbox(lt_sample *s, int h, int w);

/* ------------------------------------------------------------------ */
/* Batches (batcher.c)                                                 */
/* ------------------------------------------------------------------ */

/* One batch; every tensor is owned (lt_tensor_new) and lives until
 * lt_batch_free, independent of any step. */
typedef struct lt_batch {
    int64_t epoch, index;    /* which batch of which epoch */
    int n;                   /* images in the batch */
    int64_t *sample_ids;     /* n dataset indices */
    lt_tensor *images;       /* [n, C, H, W] float32 */
    lt_tensor *classes;      /* [n] int32 class ids (the reference collates a [n, C]
                              * one-hot; modules that want that expand these) */
    lt_tensor *boxes;        /* [M, 6] float32 (batch_idx, class, x, y, w, h), or NULL */
    lt_tensor *masks;        /* [M, H, W] float32 0/1, rows as boxes, or NULL */
    lt_tensor *keypoints;    /* [M, 1 + K*3] float32 (batch_idx, x, y, v ...), or NULL */
} lt_batch;

void lt_batch_free(lt_batch *b);

typedef struct lt_batcher_options {
    int batch_size;          /* > 0 */
    bool shuffle;            /* a new order each epoch from (seed, epoch) */
    bool drop_last;          /* skip a last incomplete batch */
    int n_workers;           /* 0: built on the caller's thread */
    int prefetch;            /* batches ready ahead; default 2 per worker */
    int64_t limit;           /* use only the first `limit` samples (0: all) */
    uint64_t seed;
    lt_stage stage;          /* which augmentations run */
} lt_batcher_options;

typedef struct lt_batcher lt_batcher;

/* Borrows ds and pp: they must outlive the batcher. */
lt_batcher *lt_batcher_new(const lt_dataset *ds, const lt_preprocess *pp, const lt_batcher_options *o);
int64_t lt_batcher_n_batches(const lt_batcher *b);
/* Starts (or restarts) epoch `epoch`: work of an unfinished epoch is
 * dropped. */
int lt_batcher_start_epoch(lt_batcher *b, int64_t epoch);
/* The next batch of the epoch, in order: 1 with *out (caller frees with
 * lt_batch_free), 0 at the end of the epoch, -1 with the error of the
 * sample that failed (the epoch then ends). */
int lt_batcher_next(lt_batcher *b, lt_batch **out);
/* Stops and joins the workers, frees batches not taken. NULL is fine. */
void lt_batcher_free(lt_batcher *b);

#endif

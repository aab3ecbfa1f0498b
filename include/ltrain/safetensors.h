/* ltrain SDK — safetensors files and state dicts.
 *
 * The safetensors format (https://github.com/huggingface/safetensors):
 *
 *   8 bytes   N, the header length, unsigned 64-bit little-endian
 *   N bytes   JSON object, UTF-8, padded at the end with spaces so that the
 *             data section starts on an 8-byte boundary:
 *               {"__metadata__": {"epoch": "12", ...},          (optional)
 *                "conv1.weight": {"dtype": "F32", "shape": [4,3,3,3],
 *                                 "data_offsets": [begin, end]}, ...}
 *   rest      the data section: each tensor's elements, row-major,
 *             little-endian, at [begin, end) relative to the data start.
 *
 * ltrain reads and writes the dtypes F32, I32, U8 and I64 (LT_F32, LT_I32,
 * LT_U8, LT_I64); a file holding any other dtype (F16, BF16, F64, BOOL, ...)
 * is rejected with an error naming the tensor and the dtype. Files written
 * here are readable by any safetensors reader (Python `safetensors`,
 * the Rust crate), and files written by them load here.
 *
 * Byte order: the data section is little-endian by definition and is used
 * as it is, so only little-endian hosts are supported (x86-64, AArch64);
 * on a big-endian host load and save fail with an error instead of
 * returning byte-swapped values.
 *
 * Errors follow common.h: NULL / -1 and lt_last_error(), which names the
 * file and the tensor or header field at fault, e.g.
 *   "safetensors: 'ckpt.safetensors': tensor 'fc.weight': data_offsets [0,80]
 *    hold 80 bytes but F32 [5,6] needs 120".
 */
#ifndef LTRAIN_SAFETENSORS_H
#define LTRAIN_SAFETENSORS_H

#include "optim.h" /* lt_named_tensor */

#ifdef __cplusplus
extern "C" {
#endif

/* Tensors to write are lt_named_tensor (optim.h: {name, tensor}), the type
 * optimizer state comes in, so lt_optimizer_state()'s items save as they
 * are. The tensors may have any lifetime (owned, parameter, step tensor) and
 * are only read. Names must be unique, non-empty and not "__metadata__". */

/* One entry of the header's "__metadata__" map (string to string). */
typedef struct lt_metadata_entry {
    const char *key;
    const char *value;
} lt_metadata_entry;

/* ---------------- writing ---------------- */

/* Writes `tensors` (header entries in the given order, data packed in the
 * same order) and the metadata map (omitted when n_meta is 0) to `path`.
 *
 * Atomic: everything is validated first, then written to a new temporary
 * file next to `path` ("<path>.tmp.<pid>.<n>"), flushed with fsync and
 * renamed over `path` (the directory is fsync'd too). On any failure the
 * temporary file is removed and an existing `path` is left untouched, so a
 * crash never leaves a truncated checkpoint. The file gets mode 0666 minus
 * the umask, like fopen(path, "w"). */
LT_API int lt_safetensors_save(const char *path, const lt_named_tensor *tensors, size_t n_tensors,
                               const lt_metadata_entry *meta, size_t n_meta);

/* ---------------- reading ---------------- */

/* A loaded file: every tensor and the metadata map, owned by the handle. */
typedef struct lt_safetensors lt_safetensors;

/* Reads the whole file into memory (read(2), no mmap: the file may be
 * replaced or deleted right after) and validates it. Rejected, with an
 * error naming the file and the tensor or field: a file shorter than 8
 * bytes, a header length beyond the end of the file, a header that is not a
 * JSON object (or has trailing bytes other than whitespace), duplicate
 * tensor names, an entry that is not {dtype, shape, data_offsets}, an
 * unknown or unsupported dtype, a shape with negative or non-integer
 * dimensions or more than LT_MAX_DIMS of them, offsets that are reversed,
 * past the data section, overlapping another tensor's, or that leave bytes
 * of the data section to no tensor, a byte size that does not match
 * dtype x shape, and a "__metadata__" that is not an object of strings. */
LT_API lt_safetensors *lt_safetensors_load(const char *path);
/* Frees the handle and every tensor it returned. NULL is ignored. */
LT_API void lt_safetensors_free(lt_safetensors *f);

/* The path given to lt_safetensors_load (borrowed). */
LT_API const char *lt_safetensors_path(const lt_safetensors *f);

/* Tensors in the header's order. The tensors are views of storage owned by
 * the handle (flags LT_VIEW; t->name is the tensor's name): read them, copy
 * them (lt_tensor_clone_owned gives an owned copy), but never free them or
 * use them after lt_safetensors_free(). Data is aligned for its dtype. */
LT_API size_t lt_safetensors_count(const lt_safetensors *f);
LT_API const lt_tensor *lt_safetensors_at(const lt_safetensors *f, size_t i);
/* Tensor by name, or NULL (no error set). */
LT_API const lt_tensor *lt_safetensors_find(const lt_safetensors *f, const char *name);

/* The "__metadata__" map, in the file's order (borrowed strings). */
LT_API size_t lt_safetensors_meta_count(const lt_safetensors *f);
LT_API lt_metadata_entry lt_safetensors_meta_at(const lt_safetensors *f, size_t i);
/* Value of metadata `key`, or NULL when absent (no error set). */
LT_API const char *lt_safetensors_meta(const lt_safetensors *f, const char *key);

/* ---------------- state dicts (implemented in sdk/io/state_dict.c) ---------------- */

/* Renames file names before matching: a name that starts with `from` has it
 * replaced by `to`. {"model.", ""} strips a prefix, {"", "backbone."} puts
 * torchvision names under a node. The first matching rule applies; a name no
 * rule matches is used as it is. */
typedef struct lt_name_map {
    const char *from;
    const char *to;
} lt_name_map;

typedef struct lt_state_dict_options {
    /* true: fail (loading nothing) when a store tensor has no file tensor or
     * a file tensor matches no store tensor; the error names them all (as
     * far as the message holds; the report holds every one). */
    bool strict;
    const lt_name_map *maps;
    size_t n_maps;
    /* When set, only store tensors whose names start with `scope` take part:
     * others are neither loaded nor reported missing (load a backbone's
     * weights into a model that also has a head). */
    const char *scope;
} lt_state_dict_options;

/* What a load did. Lists are owned (free with lt_state_dict_report_free). */
typedef struct lt_state_dict_report {
    size_t n_loaded;
    char **missing;    /* store names with no tensor in the file */
    size_t n_missing;
    char **unexpected; /* file names (as written in the file) that matched no store tensor */
    size_t n_unexpected;
} lt_state_dict_report;

LT_API void lt_state_dict_report_free(lt_state_dict_report *r);

/* Copies the file's tensors into the store by name (PyTorch state_dict
 * names, after `o->maps`). o may be NULL (strict, no maps, no scope).
 *
 * Every matched pair must have the same shape (an error in strict and
 * non-strict mode alike, as in PyTorch). Dtypes convert where no value
 * changes: any integer dtype to another integer dtype when every value fits
 * (I64 num_batches_tracked into an I32 buffer), integers to F32 when every
 * value is exact in float32 (|v| <= 2^24); F32 never converts to an integer.
 *
 * Old PyTorch state dicts (before 0.4.1, e.g. the original torchvision
 * model-zoo weights) lack "<bn>.num_batches_tracked": as PyTorch does for
 * them, such a counter is set to 0 and not reported missing when
 * "<bn>.running_mean" is in the file.
 *
 * All or nothing: everything is checked before the first tensor is written,
 * so on failure the store is unchanged. `report` (may be NULL) is filled on
 * success and on a strict-mode key failure. Written tensors get their
 * `version` bumped. */
LT_API int lt_state_dict_load(lt_params *p, const lt_safetensors *f, const lt_state_dict_options *o,
                              lt_state_dict_report *report);
/* lt_state_dict_load of the file at `path`. */
LT_API int lt_state_dict_load_file(lt_params *p, const char *path, const lt_state_dict_options *o,
                                   lt_state_dict_report *report);

/* Saves every tensor of the store (parameters and buffers, registration
 * order, their own names), then the `extra` tensors (e.g. the items of
 * lt_optimizer_state(), renamed under an "optimizer." prefix by the caller),
 * and the metadata,
 * atomically as lt_safetensors_save. */
LT_API int lt_state_dict_save(const lt_params *p, const char *path, const lt_named_tensor *extra, size_t n_extra,
                              const lt_metadata_entry *meta, size_t n_meta);

#ifdef __cplusplus
}
#endif
#endif

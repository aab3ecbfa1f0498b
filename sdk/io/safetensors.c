/* safetensors files (see safetensors.h): an atomic writer and a validating
 * reader. The JSON header goes through jansson; the data section is copied
 * as raw little-endian bytes. */
#define _POSIX_C_SOURCE 200809L

#include "../internal.h"

#include <ltrain/safetensors.h>

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* The reference implementation refuses headers above 100 MB; so do we, so a
 * corrupt length cannot make us allocate gigabytes for JSON. */
#define MAX_HEADER_BYTES (100u * 1000u * 1000u)
#define DATA_ALIGN 64

static const struct {
    const char *name;
    lt_dtype dtype;
} st_dtypes[] = {{"F32", LT_F32}, {"I32", LT_I32}, {"U8", LT_U8}, {"I64", LT_I64}};

/* Valid safetensors dtypes that ltrain has no tensor type for. */
static const char *const st_unsupported[] = {"BOOL", "I8", "I16", "U16", "F16", "BF16", "U32",
                                             "F64", "U64", "F8_E4M3", "F8_E5M2"};

static const char *st_dtype_name(lt_dtype dtype)
{
    for (size_t i = 0; i < sizeof st_dtypes / sizeof st_dtypes[0]; i++)
        if (st_dtypes[i].dtype == dtype) return st_dtypes[i].name;
    return NULL;
}

static bool host_is_little_endian(void)
{
    const uint16_t one = 1;
    return *(const uint8_t *)&one == 1;
}

/* "safetensors: '<path>': <message>" */
static int st_fail(const char *path, const char *fmt, ...) LT_PRINTF(2, 3);
static int st_fail(const char *path, const char *fmt, ...)
{
    char msg[768];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return lt_set_error("safetensors: '%s': %s", path ? path : "(null)", msg);
}

static void put_le64(unsigned char *b, uint64_t v)
{
    for (int i = 0; i < 8; i++) b[i] = (unsigned char)(v >> (8 * i));
}

static uint64_t get_le64(const unsigned char *b)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++) v |= (uint64_t)b[i] << (8 * i);
    return v;
}

static size_t tensor_bytes(const lt_tensor *t) { return (size_t)t->numel * lt_dtype_size(t->dtype); }

/* ================================================================ writer */

static int check_tensor_entry(const char *path, const lt_named_tensor *tensors, size_t i)
{
    const char *name = tensors[i].name;
    const lt_tensor *t = tensors[i].tensor;
    if (!name || !*name) return st_fail(path, "tensor #%zu has %s name", i, name ? "an empty" : "a NULL");
    if (!strcmp(name, "__metadata__"))
        return st_fail(path, "tensor #%zu: the name '__metadata__' is reserved for the metadata map", i);
    if (!t) return st_fail(path, "tensor '%s' is NULL", name);
    if (!st_dtype_name(t->dtype))
        return st_fail(path, "tensor '%s': dtype %d is not one of F32, I32, U8, I64", name, (int)t->dtype);
    if (t->ndim < 0 || t->ndim > LT_MAX_DIMS || t->numel < 0)
        return st_fail(path, "tensor '%s': invalid tensor (ndim %d, numel %lld)", name, t->ndim,
                       (long long)t->numel);
    if (t->numel > 0 && !t->data) return st_fail(path, "tensor '%s' %s has no data", name, lt__shp(t));
    for (size_t j = 0; j < i; j++)
        if (!strcmp(tensors[j].name, name))
            return st_fail(path, "duplicate tensor name '%s' (#%zu and #%zu)", name, j, i);
    return 0;
}

static int check_meta_entry(const char *path, const lt_metadata_entry *meta, size_t i)
{
    if (!meta[i].key) return st_fail(path, "metadata entry #%zu has a NULL key", i);
    if (!meta[i].value) return st_fail(path, "metadata '%s' has a NULL value", meta[i].key);
    for (size_t j = 0; j < i; j++)
        if (!strcmp(meta[j].key, meta[i].key)) return st_fail(path, "duplicate metadata key '%s'", meta[i].key);
    return 0;
}

static json_t *tensor_json(const lt_tensor *t, uint64_t begin)
{
    json_t *shape = json_array();
    for (int d = 0; shape && d < t->ndim; d++)
        if (json_array_append_new(shape, json_integer(t->shape[d]))) {
            json_decref(shape);
            return NULL;
        }
    json_t *offsets = json_pack("[I,I]", (json_int_t)begin, (json_int_t)(begin + tensor_bytes(t)));
    return json_pack("{s:s, s:o, s:o}", "dtype", st_dtype_name(t->dtype), "shape", shape, "data_offsets",
                     offsets);
}

/* The padded JSON header (malloc'd, *len bytes, no terminator needed). */
static char *build_header(const char *path, const lt_named_tensor *tensors, size_t n_tensors,
                          const lt_metadata_entry *meta, size_t n_meta, size_t *len)
{
    json_t *root = json_object();
    if (!root) goto oom;
    if (n_meta) {
        json_t *m = json_object();
        if (!m || json_object_set_new(root, "__metadata__", m)) goto oom;
        for (size_t i = 0; i < n_meta; i++) {
            json_t *v = json_string(meta[i].value);
            if (!v) {
                st_fail(path, "metadata '%s': value is not valid UTF-8", meta[i].key);
                goto fail;
            }
            if (json_object_set_new(m, meta[i].key, v)) {
                st_fail(path, "metadata key '%s' is not valid UTF-8", meta[i].key);
                goto fail;
            }
        }
    }
    uint64_t offset = 0;
    for (size_t i = 0; i < n_tensors; i++) {
        const lt_tensor *t = tensors[i].tensor;
        json_t *info = tensor_json(t, offset);
        if (!info) goto oom;
        if (json_object_set_new(root, tensors[i].name, info)) {
            st_fail(path, "tensor name '%s' is not valid UTF-8", tensors[i].name);
            goto fail;
        }
        offset += tensor_bytes(t);
    }
    char *text = json_dumps(root, JSON_COMPACT);
    if (!text) goto oom;
    json_decref(root);
    /* Pad with spaces so the data section starts 8-byte aligned. */
    size_t n = strlen(text), padded = (n + 7) / 8 * 8;
    char *out = realloc(text, padded ? padded : 8);
    if (!out) {
        free(text);
        st_fail(path, "out of memory for the header");
        return NULL;
    }
    memset(out + n, ' ', padded - n);
    *len = padded;
    return out;
oom:
    st_fail(path, "out of memory building the header");
fail:
    json_decref(root);
    return NULL;
}

static int write_all(int fd, const void *buf, size_t n)
{
    const unsigned char *p = buf;
    while (n) {
        ssize_t w = write(fd, p, n);
        if (w < 0) {
            if (errno == EINTR) continue;
            return -1;
        }
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

/* Creates "<path>.tmp.<pid>.<n>" exclusively; returns the fd and the name. */
static int create_temp(const char *path, char **tmp_out)
{
    static atomic_uint counter;
    size_t len = strlen(path) + 64;
    char *tmp = malloc(len);
    if (!tmp) {
        errno = ENOMEM;
        return -1;
    }
    for (int attempt = 0; attempt < 100; attempt++) {
        snprintf(tmp, len, "%s.tmp.%ld.%u", path, (long)getpid(), atomic_fetch_add(&counter, 1));
        int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
        if (fd >= 0) {
            *tmp_out = tmp;
            return fd;
        }
        if (errno != EEXIST) break;
    }
    int saved = errno;
    free(tmp);
    errno = saved;
    return -1;
}

/* fsync of the directory holding `path`, so the rename itself is durable.
 * Best effort: some file systems refuse fsync on directories. */
static void sync_parent_dir(const char *path)
{
    const char *slash = strrchr(path, '/');
    char *dir = slash ? strndup(path, slash == path ? 1 : (size_t)(slash - path)) : strdup(".");
    if (!dir) return;
    int fd = open(dir, O_RDONLY | O_CLOEXEC);
    if (fd >= 0) {
        fsync(fd);
        close(fd);
    }
    free(dir);
}

static int write_file(const char *path, const char *header, size_t header_len, const lt_named_tensor *tensors,
                      size_t n_tensors)
{
    char *tmp = NULL;
    int fd = create_temp(path, &tmp);
    if (fd < 0) return st_fail(path, "cannot create a temporary file next to it: %s", strerror(errno));
    unsigned char len_bytes[8];
    put_le64(len_bytes, header_len);
    int err = 0;
    const char *stage = "write";
    if (write_all(fd, len_bytes, 8) || write_all(fd, header, header_len)) err = errno;
    for (size_t i = 0; !err && i < n_tensors; i++) {
        const lt_tensor *t = tensors[i].tensor;
        if (tensor_bytes(t) && write_all(fd, t->data, tensor_bytes(t))) err = errno;
    }
    if (!err && fsync(fd)) {
        err = errno;
        stage = "fsync";
    }
    if (close(fd) && !err) {
        err = errno;
        stage = "close";
    }
    if (!err && rename(tmp, path)) {
        err = errno;
        stage = "rename";
    }
    if (err) {
        unlink(tmp);
        st_fail(path, "%s of temporary file '%s' failed: %s (the destination is unchanged)", stage, tmp,
                strerror(err));
        free(tmp);
        return -1;
    }
    free(tmp);
    sync_parent_dir(path);
    return 0;
}

int lt_safetensors_save(const char *path, const lt_named_tensor *tensors, size_t n_tensors,
                        const lt_metadata_entry *meta, size_t n_meta)
{
    if (!path || !*path) return st_fail(path, "empty destination path");
    if (!host_is_little_endian()) return st_fail(path, "big-endian hosts are not supported");
    if ((n_tensors && !tensors) || (n_meta && !meta)) return st_fail(path, "NULL tensor or metadata list");
    for (size_t i = 0; i < n_tensors; i++)
        if (check_tensor_entry(path, tensors, i)) return -1;
    for (size_t i = 0; i < n_meta; i++)
        if (check_meta_entry(path, meta, i)) return -1;
    size_t header_len = 0;
    char *header = build_header(path, tensors, n_tensors, meta, n_meta, &header_len);
    if (!header) return -1;
    int rc = write_file(path, header, header_len, tensors, n_tensors);
    free(header);
    return rc;
}

/* ================================================================ reader */

struct lt_safetensors {
    char *path;
    size_t count;
    lt_tensor *tensors; /* count headers; data points into `data` or `own[i]` */
    char **names;
    void **own;         /* per-tensor storage for data misaligned in the file, else NULL */
    void *data;         /* the data section */
    size_t n_meta;
    lt_metadata_entry *meta; /* key/value strings owned (malloc'd) */
};

void lt_safetensors_free(lt_safetensors *f)
{
    if (!f) return;
    for (size_t i = 0; i < f->count; i++) {
        if (f->names) free(f->names[i]);
        if (f->own) free(f->own[i]);
    }
    for (size_t i = 0; i < f->n_meta; i++) {
        free((char *)f->meta[i].key);
        free((char *)f->meta[i].value);
    }
    free(f->tensors);
    free(f->names);
    free(f->own);
    free(f->data);
    free(f->meta);
    free(f->path);
    free(f);
}

/* Reads exactly n bytes at the current position; a short read is a file
 * that shrank after fstat. */
static int read_exact(int fd, void *buf, size_t n, const char *path, const char *what)
{
    unsigned char *p = buf;
    while (n) {
        ssize_t r = read(fd, p, n);
        if (r < 0 && errno == EINTR) continue;
        if (r < 0) return st_fail(path, "reading the %s failed: %s", what, strerror(errno));
        if (r == 0) return st_fail(path, "file truncated while reading the %s", what);
        p += r;
        n -= (size_t)r;
    }
    return 0;
}

/* One tensor entry of the header, validated against the data section. */
typedef struct entry_info {
    lt_dtype dtype;
    int ndim;
    int64_t shape[LT_MAX_DIMS];
    uint64_t begin, end;
} entry_info;

static int parse_dtype(const char *path, const char *name, json_t *v, lt_dtype *out)
{
    if (!json_is_string(v)) return st_fail(path, "tensor '%s': \"dtype\" must be a string", name);
    const char *s = json_string_value(v);
    for (size_t i = 0; i < sizeof st_dtypes / sizeof st_dtypes[0]; i++)
        if (!strcmp(s, st_dtypes[i].name)) {
            *out = st_dtypes[i].dtype;
            return 0;
        }
    for (size_t i = 0; i < sizeof st_unsupported / sizeof st_unsupported[0]; i++)
        if (!strcmp(s, st_unsupported[i]))
            return st_fail(path, "tensor '%s': dtype %s is not supported (ltrain reads F32, I32, U8, I64)", name, s);
    return st_fail(path, "tensor '%s': unknown dtype \"%s\"", name, s);
}

static int parse_shape(const char *path, const char *name, json_t *v, entry_info *e)
{
    if (!json_is_array(v)) return st_fail(path, "tensor '%s': \"shape\" must be an array", name);
    size_t n = json_array_size(v);
    if (n > LT_MAX_DIMS)
        return st_fail(path, "tensor '%s': shape has %zu dimensions, more than the %d supported", name, n, LT_MAX_DIMS);
    e->ndim = (int)n;
    for (size_t d = 0; d < n; d++) {
        json_t *x = json_array_get(v, d);
        if (!json_is_integer(x) || json_integer_value(x) < 0)
            return st_fail(path, "tensor '%s': shape dimension %zu is not a non-negative integer", name, d);
        e->shape[d] = json_integer_value(x);
    }
    return 0;
}

static int parse_offsets(const char *path, const char *name, json_t *v, uint64_t data_size, entry_info *e)
{
    json_t *b = json_array_get(v, 0), *x = json_array_get(v, 1);
    if (!json_is_array(v) || json_array_size(v) != 2 || !json_is_integer(b) || !json_is_integer(x) ||
        json_integer_value(b) < 0 || json_integer_value(x) < 0)
        return st_fail(path, "tensor '%s': \"data_offsets\" must be [begin, end] of non-negative integers", name);
    e->begin = (uint64_t)json_integer_value(b);
    e->end = (uint64_t)json_integer_value(x);
    if (e->begin > e->end)
        return st_fail(path, "tensor '%s': data_offsets [%llu,%llu] end before they begin", name,
                       (unsigned long long)e->begin, (unsigned long long)e->end);
    if (e->end > data_size)
        return st_fail(path, "tensor '%s': data_offsets [%llu,%llu] run past the data section of %llu bytes",
                       name, (unsigned long long)e->begin, (unsigned long long)e->end,
                       (unsigned long long)data_size);
    return 0;
}

/* Checks that dtype x shape needs exactly end - begin bytes. */
static int check_size(const char *path, const char *name, const entry_info *e)
{
    uint64_t bytes = lt_dtype_size(e->dtype);
    bool overflow = false;
    for (int d = 0; d < e->ndim; d++) overflow |= __builtin_mul_overflow(bytes, (uint64_t)e->shape[d], &bytes);
    if (overflow || bytes != e->end - e->begin)
        return st_fail(path, "tensor '%s': data_offsets [%llu,%llu] hold %llu bytes but %s %s needs %s%llu", name,
                       (unsigned long long)e->begin, (unsigned long long)e->end,
                       (unsigned long long)(e->end - e->begin), st_dtype_name(e->dtype),
                       lt__shape_dims(e->ndim, e->shape), overflow ? "more than " : "",
                       (unsigned long long)(overflow ? UINT64_MAX : bytes));
    return 0;
}

static int parse_entry(const char *path, const char *name, json_t *v, uint64_t data_size, entry_info *e)
{
    if (!json_is_object(v)) return st_fail(path, "tensor '%s': entry must be an object", name);
    const char *key;
    json_t *field;
    json_object_foreach(v, key, field)
    {
        if (strcmp(key, "dtype") && strcmp(key, "shape") && strcmp(key, "data_offsets"))
            return st_fail(path, "tensor '%s': unknown field \"%s\" (expected dtype, shape, data_offsets)", name, key);
    }
    static const char *const required[] = {"dtype", "shape", "data_offsets"};
    for (int i = 0; i < 3; i++)
        if (!json_object_get(v, required[i])) return st_fail(path, "tensor '%s': missing \"%s\"", name, required[i]);
    if (parse_dtype(path, name, json_object_get(v, "dtype"), &e->dtype) ||
        parse_shape(path, name, json_object_get(v, "shape"), e) ||
        parse_offsets(path, name, json_object_get(v, "data_offsets"), data_size, e))
        return -1;
    return check_size(path, name, e);
}

static int parse_metadata(const char *path, json_t *m, lt_safetensors *f)
{
    if (!json_is_object(m)) return st_fail(path, "\"__metadata__\" must be an object of strings");
    f->meta = calloc(json_object_size(m) + 1, sizeof *f->meta);
    if (!f->meta) return st_fail(path, "out of memory");
    const char *key;
    json_t *v;
    json_object_foreach(m, key, v)
    {
        if (!json_is_string(v)) return st_fail(path, "\"__metadata__\" value of '%s' is not a string", key);
        lt_metadata_entry *e = &f->meta[f->n_meta];
        e->key = strdup(key);
        e->value = strndup(json_string_value(v), json_string_length(v));
        f->n_meta++;
        if (!e->key || !e->value) return st_fail(path, "out of memory");
    }
    return 0;
}

typedef struct span {
    uint64_t begin, end;
    size_t index;
} span;

static int span_cmp(const void *a, const void *b)
{
    const span *x = a, *y = b;
    if (x->begin != y->begin) return x->begin < y->begin ? -1 : 1;
    if (x->end != y->end) return x->end < y->end ? -1 : 1;
    return x->index < y->index ? -1 : x->index > y->index;
}

/* The tensors must tile the data section: sorted by offset, each begins
 * where the previous ended and the last ends at the end of the section. */
static int check_tiling(const char *path, const lt_safetensors *f, const entry_info *e, uint64_t data_size)
{
    span *s = malloc((f->count + 1) * sizeof *s);
    if (!s) return st_fail(path, "out of memory");
    for (size_t i = 0; i < f->count; i++) s[i] = (span){e[i].begin, e[i].end, i};
    qsort(s, f->count, sizeof *s, span_cmp);
    uint64_t pos = 0;
    int rc = 0;
    for (size_t k = 0; k < f->count && !rc; k++) {
        const char *name = f->names[s[k].index];
        if (s[k].begin < pos)
            rc = st_fail(path, "tensor '%s': data_offsets [%llu,%llu] overlap tensor '%s' (which ends at %llu)",
                         name, (unsigned long long)s[k].begin, (unsigned long long)s[k].end,
                         f->names[s[k - 1].index], (unsigned long long)pos);
        else if (s[k].begin > pos)
            rc = st_fail(path, "bytes [%llu,%llu) of the data section belong to no tensor (before tensor '%s')",
                         (unsigned long long)pos, (unsigned long long)s[k].begin, name);
        pos = s[k].end;
    }
    if (!rc && pos != data_size)
        rc = st_fail(path, "bytes [%llu,%llu) at the end of the data section belong to no tensor",
                     (unsigned long long)pos, (unsigned long long)data_size);
    free(s);
    return rc;
}

/* Fills the tensor headers; data misaligned for its dtype gets its own copy. */
static int make_tensors(const char *path, lt_safetensors *f, const entry_info *e)
{
    for (size_t i = 0; i < f->count; i++) {
        lt_tensor *t = &f->tensors[i];
        *t = (lt_tensor){.name = f->names[i], .ndim = e[i].ndim, .dtype = e[i].dtype, .flags = LT_VIEW, .numel = 1};
        for (int d = 0; d < LT_MAX_DIMS; d++) t->shape[d] = d < e[i].ndim ? e[i].shape[d] : 1;
        for (int d = 0; d < e[i].ndim; d++) t->numel *= e[i].shape[d];
        unsigned char *src = (unsigned char *)f->data + e[i].begin;
        if (e[i].begin % lt_dtype_size(e[i].dtype) == 0) {
            t->data = src;
            continue;
        }
        f->own[i] = malloc(e[i].end - e[i].begin);
        if (!f->own[i]) return st_fail(path, "out of memory");
        memcpy(f->own[i], src, e[i].end - e[i].begin);
        t->data = f->own[i];
    }
    return 0;
}

/* Parses the header JSON into f (names, metadata) and validates every entry. */
static int parse_header(const char *path, const char *text, size_t len, uint64_t data_size, lt_safetensors *f)
{
    json_error_t jerr;
    json_t *root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
    if (!root) {
        if (json_error_code(&jerr) == json_error_duplicate_key)
            return st_fail(path, "header has a duplicate tensor name: %s (byte %d)", jerr.text, jerr.position);
        return st_fail(path, "header is not valid JSON (byte %d): %s", jerr.position, jerr.text);
    }
    int rc = -1;
    entry_info *e = NULL;
    if (!json_is_object(root)) {
        st_fail(path, "header is not a JSON object");
        goto done;
    }
    size_t n = json_object_size(root) + 1;
    f->tensors = calloc(n, sizeof *f->tensors);
    f->names = calloc(n, sizeof *f->names);
    f->own = calloc(n, sizeof *f->own);
    e = calloc(n, sizeof *e);
    if (!f->tensors || !f->names || !f->own || !e) {
        st_fail(path, "out of memory");
        goto done;
    }
    const char *key;
    json_t *v;
    json_object_foreach(root, key, v)
    {
        if (!strcmp(key, "__metadata__")) {
            if (parse_metadata(path, v, f)) goto done;
            continue;
        }
        f->names[f->count] = strdup(key);
        if (!f->names[f->count]) {
            st_fail(path, "out of memory");
            goto done;
        }
        if (parse_entry(path, key, v, data_size, &e[f->count++])) goto done;
    }
    rc = check_tiling(path, f, e, data_size);
    if (!rc) rc = make_tensors(path, f, e);
done:
    free(e);
    json_decref(root);
    return rc;
}

/* Reads the 8-byte length and the header text; returns the header length. */
static char *read_header(int fd, const char *path, uint64_t file_size, uint64_t *header_len)
{
    unsigned char len_bytes[8];
    if (file_size < 8) {
        st_fail(path, "file is %llu bytes, too short for the 8-byte header length (truncated?)",
                (unsigned long long)file_size);
        return NULL;
    }
    if (read_exact(fd, len_bytes, 8, path, "header length")) return NULL;
    uint64_t n = get_le64(len_bytes);
    if (n > file_size - 8) {
        st_fail(path, "header length %llu runs past the end of the file (%llu bytes; truncated?)",
                (unsigned long long)n, (unsigned long long)file_size);
        return NULL;
    }
    if (n > MAX_HEADER_BYTES) {
        st_fail(path, "header length %llu exceeds the %u-byte limit", (unsigned long long)n, MAX_HEADER_BYTES);
        return NULL;
    }
    char *text = malloc(n ? n : 1);
    if (!text) {
        st_fail(path, "out of memory for a %llu-byte header", (unsigned long long)n);
        return NULL;
    }
    if (read_exact(fd, text, n, path, "header")) {
        free(text);
        return NULL;
    }
    if (n == 0 || text[0] != '{') {
        st_fail(path, "header does not start with '{' (not a safetensors file?)");
        free(text);
        return NULL;
    }
    *header_len = n;
    return text;
}

static int load_fd(int fd, const char *path, lt_safetensors *f)
{
    struct stat st;
    if (fstat(fd, &st)) return st_fail(path, "stat failed: %s", strerror(errno));
    if (!S_ISREG(st.st_mode)) return st_fail(path, "not a regular file");
    uint64_t file_size = (uint64_t)st.st_size, header_len = 0;
    char *text = read_header(fd, path, file_size, &header_len);
    if (!text) return -1;
    uint64_t data_size = file_size - 8 - header_len;
    /* Always a real (aligned) block, so empty tensors have a valid pointer. */
    size_t alloc = (size_t)(data_size + DATA_ALIGN - 1) / DATA_ALIGN * DATA_ALIGN;
    f->data = aligned_alloc(DATA_ALIGN, alloc ? alloc : DATA_ALIGN);
    int rc = -1;
    if (!f->data)
        st_fail(path, "out of memory for %llu bytes of tensor data", (unsigned long long)data_size);
    else if (!read_exact(fd, f->data, data_size, path, "tensor data"))
        rc = parse_header(path, text, header_len, data_size, f);
    free(text);
    return rc;
}

lt_safetensors *lt_safetensors_load(const char *path)
{
    if (!path) {
        st_fail(path, "path is NULL");
        return NULL;
    }
    if (!host_is_little_endian()) {
        st_fail(path, "big-endian hosts are not supported");
        return NULL;
    }
    lt_safetensors *f = calloc(1, sizeof *f);
    if (!f || !(f->path = strdup(path))) {
        free(f);
        st_fail(path, "out of memory");
        return NULL;
    }
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        st_fail(path, "cannot open: %s", strerror(errno));
        lt_safetensors_free(f);
        return NULL;
    }
    int rc = load_fd(fd, path, f);
    close(fd);
    if (rc) {
        lt_safetensors_free(f);
        return NULL;
    }
    return f;
}

const char *lt_safetensors_path(const lt_safetensors *f) { return f ? f->path : NULL; }

size_t lt_safetensors_count(const lt_safetensors *f) { return f ? f->count : 0; }

const lt_tensor *lt_safetensors_at(const lt_safetensors *f, size_t i)
{
    return f && i < f->count ? &f->tensors[i] : NULL;
}

const lt_tensor *lt_safetensors_find(const lt_safetensors *f, const char *name)
{
    for (size_t i = 0; f && name && i < f->count; i++)
        if (!strcmp(f->names[i], name)) return &f->tensors[i];
    return NULL;
}

size_t lt_safetensors_meta_count(const lt_safetensors *f) { return f ? f->n_meta : 0; }

lt_metadata_entry lt_safetensors_meta_at(const lt_safetensors *f, size_t i)
{
    return f && i < f->n_meta ? f->meta[i] : (lt_metadata_entry){NULL, NULL};
}

const char *lt_safetensors_meta(const lt_safetensors *f, const char *key)
{
    for (size_t i = 0; f && key && i < f->n_meta; i++)
        if (!strcmp(f->meta[i].key, key)) return f->meta[i].value;
    return NULL;
}

/* The `clsdir` dataset: DIR/<split>/<class>/<image>.{png,jpg,jpeg}.
 * Classes and files are sorted by name (strcmp, like sorted() in Python)
 * so sample numbering never depends on the file system's order. */
#define _POSIX_C_SOURCE 200809L
#include "data.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

typedef struct clsdir {
    char **paths;    /* n sample paths */
    int32_t *labels; /* n class ids */
    int64_t cap;
    char **skipped;  /* "PATH: reason" */
    int n_skipped;
} clsdir;

typedef struct name_list {
    char **names;
    int n, cap;
} name_list;

static void names_free(name_list *l)
{
    for (int i = 0; i < l->n; i++) free(l->names[i]);
    free(l->names);
    memset(l, 0, sizeof *l);
}

static int names_push(name_list *l, const char *name)
{
    if (l->n == l->cap) {
        int cap = l->cap ? 2 * l->cap : 16;
        char **bigger = realloc(l->names, sizeof *bigger * (size_t)cap);
        if (!bigger) return -1;
        l->names = bigger, l->cap = cap;
    }
    if (!(l->names[l->n] = strdup(name))) return -1;
    l->n++;
    return 0;
}

static int cmp_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static char *join(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    char *s = malloc(la + lb + 2);
    if (!s) return NULL;
    memcpy(s, a, la);
    s[la] = '/';
    memcpy(s + la + 1, b, lb + 1);
    return s;
}

static bool is_dir(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

static bool is_image_name(const char *name)
{
    const char *dot = strrchr(name, '.');
    return dot && (!strcasecmp(dot, ".png") || !strcasecmp(dot, ".jpg") || !strcasecmp(dot, ".jpeg"));
}

/* Sorted entries of `dir` that are folders (want_dirs) or image files.
 * Hidden entries are ignored. */
static int list_dir(const char *dir, bool want_dirs, name_list *out)
{
    memset(out, 0, sizeof *out);
    DIR *d = opendir(dir);
    if (!d) return lt_set_error("clsdir: cannot open folder '%s': %s", dir, strerror(errno));
    struct dirent *e;
    int rc = 0;
    while (rc == 0 && (e = readdir(d))) {
        if (e->d_name[0] == '.') continue;
        char *full = join(dir, e->d_name);
        if (!full) {
            rc = lt_set_error("clsdir: out of memory");
            break;
        }
        bool keep = want_dirs ? is_dir(full) : (is_image_name(e->d_name) && !is_dir(full));
        free(full);
        if (keep && names_push(out, e->d_name)) rc = lt_set_error("clsdir: out of memory");
    }
    closedir(d);
    if (rc) {
        names_free(out);
        return -1;
    }
    if (out->n > 1) qsort(out->names, (size_t)out->n, sizeof *out->names, cmp_names);
    return 0;
}

/* The split folder for `view`: the reference's view names (train, val,
 * test) and the Roboflow-style "valid". */
static char *find_split(const char *dir, const char *view)
{
    static const char *const val_names[] = {"val", "valid", "validation", NULL};
    const char *const single[] = {view, NULL};
    bool val = !strcmp(view, "val") || !strcmp(view, "valid") || !strcmp(view, "validation");
    for (const char *const *n = val ? val_names : single; *n; n++) {
        char *p = join(dir, *n);
        if (p && is_dir(p)) return p;
        free(p);
    }
    name_list have;
    if (list_dir(dir, true, &have)) return NULL;
    char listing[512] = "";
    for (int i = 0; i < have.n && i < 8; i++) { /* the first few are enough to spot a typo */
        size_t used = strlen(listing);
        snprintf(listing + used, sizeof listing - used, "%s'%s'%s", i ? ", " : "", have.names[i],
                 i == 7 && have.n > 8 ? ", ..." : "");
    }
    lt_set_error("clsdir: dataset_dir '%s' has no '%s' split%s (its folders: %s)", dir, view,
                 val ? " (looked for val/, valid/, validation/)" : "", have.n ? listing : "none");
    names_free(&have);
    return NULL;
}

static int add_sample(clsdir *c, int64_t *n, char *path, int32_t label)
{
    if (*n == c->cap) {
        int64_t cap = c->cap ? 2 * c->cap : 256;
        char **p = realloc(c->paths, sizeof *p * (size_t)cap);
        if (p) c->paths = p;
        int32_t *l = realloc(c->labels, sizeof *l * (size_t)cap);
        if (l) c->labels = l;
        if (!p || !l) return lt_set_error("clsdir: out of memory");
        c->cap = cap;
    }
    c->paths[*n] = path;
    c->labels[*n] = label;
    (*n)++;
    return 0;
}

/* Decodes the image once; a failure is recorded and the sample dropped. */
static int keep_if_decodes(clsdir *c, const char *path, bool *keep)
{
    lt_image im;
    *keep = lt_image_load(path, &im) == 0;
    lt_image_free(&im);
    if (*keep) return 0;
    char **bigger = realloc(c->skipped, sizeof *bigger * (size_t)(c->n_skipped + 1));
    if (!bigger) return lt_set_error("clsdir: out of memory");
    c->skipped = bigger;
    if (!(c->skipped[c->n_skipped] = strdup(lt_last_error()))) return lt_set_error("clsdir: out of memory");
    c->n_skipped++;
    return 0;
}

static int scan_class(lt_dataset *ds, clsdir *c, const char *split, int cls, bool skip_corrupt)
{
    char *cdir = join(split, ds->class_names[cls]);
    name_list files;
    if (!cdir || list_dir(cdir, false, &files)) {
        free(cdir);
        return -1;
    }
    int rc = 0;
    for (int i = 0; rc == 0 && i < files.n; i++) {
        char *path = join(cdir, files.names[i]);
        bool keep = true;
        if (!path) rc = lt_set_error("clsdir: out of memory");
        else if (skip_corrupt) rc = keep_if_decodes(c, path, &keep);
        if (rc == 0 && keep) rc = add_sample(c, &ds->n, path, cls);
        else free(path);
        if (rc == 0 && keep) ds->class_counts[cls]++;
    }
    if (rc == 0 && ds->class_counts[cls] == 0)
        rc = lt_set_error("clsdir: class folder '%s' has no %simages (.png, .jpg, .jpeg)", cdir,
                          files.n ? "readable " : "");
    names_free(&files);
    free(cdir);
    return rc;
}

static int clsdir_get(const lt_dataset *ds, int64_t index, lt_sample *out)
{
    const clsdir *c = ds->impl;
    memset(out, 0, sizeof *out);
    if (index < 0 || index >= ds->n)
        return lt_set_error("clsdir: sample %lld out of range [0, %lld)", (long long)index, (long long)ds->n);
    if (lt_image_load(c->paths[index], &out->image)) return -1;
    out->cls = c->labels[index];
    return 0;
}

static const char *clsdir_path(const lt_dataset *ds, int64_t index)
{
    const clsdir *c = ds->impl;
    return index >= 0 && index < ds->n ? c->paths[index] : NULL;
}

static void clsdir_destroy(lt_dataset *ds)
{
    clsdir *c = ds->impl;
    if (!c) return;
    for (int64_t i = 0; i < ds->n; i++) free(c->paths[i]);
    for (int i = 0; i < c->n_skipped; i++) free(c->skipped[i]);
    free(c->paths);
    free(c->labels);
    free(c->skipped);
    free(c);
}

void lt_dataset_free(lt_dataset *ds)
{
    if (!ds) return;
    if (ds->destroy) ds->destroy(ds);
    for (int i = 0; i < ds->n_classes && ds->class_names; i++) free(ds->class_names[i]);
    free(ds->class_names);
    free(ds->class_counts);
    free(ds);
}

static int take_classes(lt_dataset *ds, name_list *classes, const char *split)
{
    if (classes->n == 0)
        return lt_set_error("clsdir: split folder '%s' has no class folders (expected one folder per class)", split);
    ds->n_classes = classes->n;
    ds->class_names = classes->names; /* ownership moves to ds */
    memset(classes, 0, sizeof *classes);
    ds->class_counts = calloc((size_t)ds->n_classes, sizeof *ds->class_counts);
    return ds->class_counts ? 0 : lt_set_error("clsdir: out of memory");
}

lt_dataset *lt_clsdir_open(const char *dir, const char *view, const lt_clsdir_options *opt)
{
    if (!dir || !*dir) return lt_set_error("clsdir: loader.params.dataset_dir is not set"), NULL;
    struct stat st;
    if (stat(dir, &st) != 0)
        return lt_set_error("clsdir: dataset_dir '%s' cannot be read: %s", dir, strerror(errno)), NULL;
    if (!S_ISDIR(st.st_mode)) return lt_set_error("clsdir: dataset_dir '%s' is not a folder", dir), NULL;
    char *split = find_split(dir, view ? view : "train");
    if (!split) return NULL;
    lt_dataset *ds = calloc(1, sizeof *ds);
    clsdir *c = calloc(1, sizeof *c);
    name_list classes = {0};
    int rc = ds && c ? 0 : lt_set_error("clsdir: out of memory");
    if (rc == 0) {
        ds->impl = c, ds->destroy = clsdir_destroy, ds->get = clsdir_get, ds->path = clsdir_path;
        rc = list_dir(split, true, &classes);
    }
    if (rc == 0) rc = take_classes(ds, &classes, split);
    for (int k = 0; rc == 0 && k < ds->n_classes; k++) rc = scan_class(ds, c, split, k, opt && opt->skip_corrupt);
    names_free(&classes);
    free(split);
    if (rc) {
        if (ds) lt_dataset_free(ds);
        else free(c);
        return NULL;
    }
    return ds;
}

int lt_clsdir_n_skipped(const lt_dataset *ds)
{
    return ds && ds->destroy == clsdir_destroy ? ((const clsdir *)ds->impl)->n_skipped : 0;
}

const char *lt_clsdir_skipped(const lt_dataset *ds, int i)
{
    if (i < 0 || i >= lt_clsdir_n_skipped(ds)) return NULL;
    return ((const clsdir *)ds->impl)->skipped[i];
}

void lt_sample_free(lt_sample *s)
{
    if (!s) return;
    lt_image_free(&s->image);
    free(s->mask);
    memset(s, 0, sizeof *s);
}

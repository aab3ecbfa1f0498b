/* The oneDNN convolution backend: the three passes of kernels/backend.h run
 * as oneDNN (libdnnl 2.x, C API) direct convolutions with AVX-512 JIT
 * kernels, the same library PyTorch's CPU convolutions use.
 *
 * Plans: a primitive is expensive to create (oneDNN picks an implementation
 * and JIT-compiles it), so each (geometry, pass, flags, thread count) gets a
 * plan once and keeps it for the life of the process: the convolution
 * primitive, created with format "any" so that oneDNN picks its blocked
 * layouts (nChw16c activations, OIhw16i16o-like weights), plus a reorder
 * per argument whose plain NCHW / OIHW layout differs from the blocked one.
 * Outputs that accumulate (y +=, dx +=, dw +=, db +=) reorder back through
 * a "sum" post-op, so accumulation costs nothing extra.
 *
 * Memory: primitives run with a user-managed scratchpad; it and the blocked
 * copies of the arguments come from the step arena and are handed back when
 * the pass returns (no allocation in the step loop once plans exist).
 *
 * Threads: oneDNN (Debian's build) uses the same OpenMP runtime as ltrain
 * and plans its work split for omp_get_max_threads(), which is part of the
 * plan key: a fixed thread count gives the same bits every run. Inside an
 * OpenMP parallel region the im2col backend runs instead (supports() says
 * no), since a plan made for the team would run on one thread.
 *
 * Geometries oneDNN refuses (or with a negative right padding), and passes
 * where it is measurably slower (im2col_faster), run on the im2col backend. */
#include "backend.h"

#include <oneapi/dnnl/dnnl.h>
#include <omp.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

enum { PASS_FORWARD, PASS_BACKWARD_DATA, PASS_BACKWARD_WEIGHT };
enum { MAX_PORTS = 4, TABLE_SIZE = 256, ALIGN = 64 };
#define MIN_MACS ((int64_t)1 << 22)

typedef struct plan_key {
    lt_conv_geom geom;
    int pass;
    int threads;
    int accumulate; /* the output is summed into (forward, backward_data) */
    int bias;       /* forward with bias / backward_weight with db */
} plan_key;

/* One argument of the convolution. */
typedef struct port {
    int arg;                   /* DNNL_ARG_* */
    bool output;
    dnnl_memory_t user;        /* the caller's plain buffer */
    dnnl_memory_t inner;       /* the primitive's layout; == user when no reorder */
    dnnl_primitive_t reorder;  /* user -> inner (inputs), inner -> user (outputs) */
    dnnl_memory_t reorder_scratch;
    size_t inner_bytes;        /* arena bytes of inner, 0 when inner == user */
} port;

typedef struct plan {
    plan_key key;
    struct plan *next;
    bool usable; /* false: oneDNN refused it, run on im2col */
    pthread_mutex_t lock;
    dnnl_primitive_desc_t hint; /* forward descriptor the backward passes were made from */
    dnnl_primitive_t conv;
    dnnl_memory_t conv_scratch;
    size_t scratch_bytes; /* largest scratchpad of conv and reorders */
    int n_ports;
    port ports[MAX_PORTS];
} plan;

static dnnl_engine_t engine;
static dnnl_stream_t stream;
static bool engine_ok;
static pthread_once_t engine_once = PTHREAD_ONCE_INIT;

static plan *table[TABLE_SIZE];
static pthread_mutex_t table_lock = PTHREAD_MUTEX_INITIALIZER;

/* LTRAIN_ONEDNN_EVERY_PASS=1: no im2col_faster() shortcuts, so that tests
 * run every geometry oneDNN accepts through it. */
static bool every_pass;

static void make_engine(void)
{
    const char *env = getenv("LTRAIN_ONEDNN_EVERY_PASS");
    every_pass = env && strcmp(env, "1") == 0;
    engine_ok = dnnl_engine_create(&engine, dnnl_cpu, 0) == dnnl_success &&
                dnnl_stream_create(&stream, engine, dnnl_stream_default_flags) == dnnl_success;
}

static bool onednn_available(void)
{
    pthread_once(&engine_once, make_engine);
    return engine_ok;
}

/* Right padding that makes oneDNN's output size formula give n_out. */
static int64_t pad_right(int64_t n_in, int64_t n_out, int64_t k, int64_t stride, int64_t pad, int64_t dil)
{
    return (n_out - 1) * stride + (k - 1) * dil + 1 - n_in - pad;
}

static bool onednn_supports(const lt_conv_geom *g)
{
    if (omp_in_parallel()) return false;
    if (g->batch <= 0 || g->c_in <= 0 || g->c_out <= 0 || g->h_out <= 0 || g->w_out <= 0) return false;
    /* few output channels leave the 16-wide blocks mostly empty: U-Net's
     * 1x1 16->3 head is 5x slower on oneDNN */
    if (g->c_out < 8) return false;
    return pad_right(g->h_in, g->h_out, g->k_h, g->stride_h, g->pad_h, g->dil_h) >= 0 &&
           pad_right(g->w_in, g->w_out, g->k_w, g->stride_w, g->pad_w, g->dil_w) >= 0;
}

/* Passes the im2col backend runs faster, measured with bench_ops (ResNet-18
 * at 64 and 224 px, U-Net; one thread): on small output planes oneDNN's
 * blocked kernels have too little work per weight block (ResNet-18 layer4
 * at 2x2: weight gradient 4x slower), and its data gradient for few input
 * channels (the 3-channel stems) falls back to a slow GEMM path. */
static bool im2col_faster(const lt_conv_geom *g, int pass)
{
    const int64_t plane = g->h_out * g->w_out;
    const int64_t macs = g->batch * g->c_out * plane * (g->c_in / g->groups) * g->k_h * g->k_w;
    if (every_pass) return false;
    /* a tiny conv gains less than making its plan costs (JIT compilation) */
    if (macs < MIN_MACS) return true;
    if (pass == PASS_FORWARD) return plane < 16;
    if (pass == PASS_BACKWARD_DATA)
        return g->c_in / g->groups < 16 || plane < 16 || (plane < 64 && (g->stride_h > 1 || g->stride_w > 1));
    return plane < 100;
}

/* ---------------- plan creation ---------------- */

static uint64_t key_hash(const plan_key *k)
{
    const unsigned char *p = (const unsigned char *)k;
    uint64_t h = 1469598103934665603ull; /* FNV-1a */
    for (size_t i = 0; i < sizeof *k; i++) h = (h ^ p[i]) * 1099511628211ull;
    return h;
}

static dnnl_primitive_attr_t user_scratch_attr(bool sum)
{
    dnnl_primitive_attr_t attr = NULL;
    if (dnnl_primitive_attr_create(&attr) != dnnl_success) return NULL;
    bool ok = dnnl_primitive_attr_set_scratchpad_mode(attr, dnnl_scratchpad_mode_user) == dnnl_success;
    if (ok && sum) {
        dnnl_post_ops_t po = NULL;
        ok = dnnl_post_ops_create(&po) == dnnl_success && dnnl_post_ops_append_sum(po, 1.0f) == dnnl_success &&
             dnnl_primitive_attr_set_post_ops(attr, po) == dnnl_success;
        if (po) dnnl_post_ops_destroy(po);
    }
    if (!ok) {
        dnnl_primitive_attr_destroy(attr);
        return NULL;
    }
    return attr;
}

/* The scratchpad memory of primitive descriptor pd (NULL when it needs none). */
static bool make_scratch(const_dnnl_primitive_desc_t pd, dnnl_memory_t *mem, size_t *max_bytes)
{
    const dnnl_memory_desc_t *md = dnnl_primitive_desc_query_md(pd, dnnl_query_scratchpad_md, 0);
    const size_t bytes = md ? dnnl_memory_desc_get_size(md) : 0;
    *mem = NULL;
    if (bytes == 0) return true;
    if (bytes > *max_bytes) *max_bytes = bytes;
    return dnnl_memory_create(mem, md, engine, DNNL_MEMORY_NONE) == dnnl_success;
}

/* Adds argument `arg`: the caller's plain layout user_md, the primitive's
 * inner_md; a reorder between them when they differ or when the output is
 * summed into. */
static bool add_port(plan *pl, int arg, bool output, bool accumulate, const dnnl_memory_desc_t *user_md,
                     const dnnl_memory_desc_t *inner_md)
{
    port *pt = &pl->ports[pl->n_ports++];
    pt->arg = arg;
    pt->output = output;
    if (dnnl_memory_create(&pt->user, user_md, engine, DNNL_MEMORY_NONE) != dnnl_success) return false;
    if (dnnl_memory_desc_equal(user_md, inner_md) && !accumulate) {
        pt->inner = pt->user;
        return true;
    }
    pt->inner_bytes = dnnl_memory_desc_get_size(inner_md);
    if (dnnl_memory_create(&pt->inner, inner_md, engine, DNNL_MEMORY_NONE) != dnnl_success) return false;
    dnnl_primitive_attr_t attr = user_scratch_attr(accumulate);
    if (!attr) return false;
    dnnl_primitive_desc_t pd = NULL;
    bool ok = (output ? dnnl_reorder_primitive_desc_create(&pd, inner_md, engine, user_md, engine, attr)
                      : dnnl_reorder_primitive_desc_create(&pd, user_md, engine, inner_md, engine, attr)) ==
              dnnl_success;
    dnnl_primitive_attr_destroy(attr);
    ok = ok && make_scratch(pd, &pt->reorder_scratch, &pl->scratch_bytes) &&
         dnnl_primitive_create(&pt->reorder, pd) == dnnl_success;
    if (pd) dnnl_primitive_desc_destroy(pd);
    return ok;
}

typedef struct descs {
    dnnl_memory_desc_t src, wei, bias, dst;     /* plain */
    dnnl_memory_desc_t src_any, wei_any, dst_any;
    dnnl_dims_t strides, dilates, pad_l, pad_r;
} descs;

static bool init_descs(const lt_conv_geom *g, descs *d)
{
    const dnnl_dims_t src = {g->batch, g->c_in, g->h_in, g->w_in}, dst = {g->batch, g->c_out, g->h_out, g->w_out};
    const dnnl_dims_t bias = {g->c_out};
    const dnnl_dims_t wei = {g->c_out, g->c_in / g->groups, g->k_h, g->k_w};
    const dnnl_dims_t gwei = {g->groups, g->c_out / g->groups, g->c_in / g->groups, g->k_h, g->k_w};
    const bool grouped = g->groups > 1;
    const int wei_nd = grouped ? 5 : 4;
    const int64_t *wd = grouped ? gwei : wei;
    d->strides[0] = g->stride_h, d->strides[1] = g->stride_w;
    d->dilates[0] = g->dil_h - 1, d->dilates[1] = g->dil_w - 1;
    d->pad_l[0] = g->pad_h, d->pad_l[1] = g->pad_w;
    d->pad_r[0] = pad_right(g->h_in, g->h_out, g->k_h, g->stride_h, g->pad_h, g->dil_h);
    d->pad_r[1] = pad_right(g->w_in, g->w_out, g->k_w, g->stride_w, g->pad_w, g->dil_w);
    return dnnl_memory_desc_init_by_tag(&d->src, 4, src, dnnl_f32, dnnl_nchw) == dnnl_success &&
           dnnl_memory_desc_init_by_tag(&d->dst, 4, dst, dnnl_f32, dnnl_nchw) == dnnl_success &&
           dnnl_memory_desc_init_by_tag(&d->bias, 1, bias, dnnl_f32, dnnl_x) == dnnl_success &&
           dnnl_memory_desc_init_by_tag(&d->wei, wei_nd, wd, dnnl_f32, grouped ? dnnl_goihw : dnnl_oihw) ==
               dnnl_success &&
           dnnl_memory_desc_init_by_tag(&d->src_any, 4, src, dnnl_f32, dnnl_format_tag_any) == dnnl_success &&
           dnnl_memory_desc_init_by_tag(&d->dst_any, 4, dst, dnnl_f32, dnnl_format_tag_any) == dnnl_success &&
           dnnl_memory_desc_init_by_tag(&d->wei_any, wei_nd, wd, dnnl_f32, dnnl_format_tag_any) == dnnl_success;
}

/* The forward descriptor (also the hint the backward passes are made from). */
static bool forward_pd(const descs *d, bool bias, const_dnnl_primitive_attr_t attr, dnnl_primitive_desc_t *pd)
{
    dnnl_convolution_desc_t cd;
    return dnnl_dilated_convolution_forward_desc_init(&cd, dnnl_forward_training, dnnl_convolution_direct,
                                                      &d->src_any, &d->wei_any, bias ? &d->bias : NULL,
                                                      &d->dst_any, d->strides, d->dilates, d->pad_l,
                                                      d->pad_r) == dnnl_success &&
           dnnl_primitive_desc_create(pd, &cd, attr, engine, NULL) == dnnl_success;
}

static const dnnl_memory_desc_t *md_of(const_dnnl_primitive_desc_t pd, dnnl_query_t what, int index)
{
    return dnnl_primitive_desc_query_md(pd, what, index);
}

static bool build_plan(plan *pl)
{
    const plan_key *k = &pl->key;
    descs d;
    if (!init_descs(&k->geom, &d)) return false;
    dnnl_primitive_attr_t attr = user_scratch_attr(false);
    if (!attr) return false;
    dnnl_primitive_desc_t pd = NULL;
    bool ok;
    if (k->pass == PASS_FORWARD) {
        ok = forward_pd(&d, k->bias, attr, &pd) &&
             add_port(pl, DNNL_ARG_SRC, false, false, &d.src, md_of(pd, dnnl_query_src_md, 0)) &&
             add_port(pl, DNNL_ARG_WEIGHTS, false, false, &d.wei, md_of(pd, dnnl_query_weights_md, 0)) &&
             (!k->bias ||
              add_port(pl, DNNL_ARG_BIAS, false, false, &d.bias, md_of(pd, dnnl_query_weights_md, 1))) &&
             add_port(pl, DNNL_ARG_DST, true, k->accumulate, &d.dst, md_of(pd, dnnl_query_dst_md, 0));
    } else if (k->pass == PASS_BACKWARD_DATA) {
        dnnl_convolution_desc_t cd;
        ok = forward_pd(&d, false, NULL, &pl->hint) &&
             dnnl_dilated_convolution_backward_data_desc_init(&cd, dnnl_convolution_direct, &d.src_any,
                                                              &d.wei_any, &d.dst_any, d.strides, d.dilates,
                                                              d.pad_l, d.pad_r) == dnnl_success &&
             dnnl_primitive_desc_create(&pd, &cd, attr, engine, pl->hint) == dnnl_success &&
             add_port(pl, DNNL_ARG_DIFF_DST, false, false, &d.dst, md_of(pd, dnnl_query_diff_dst_md, 0)) &&
             add_port(pl, DNNL_ARG_WEIGHTS, false, false, &d.wei, md_of(pd, dnnl_query_weights_md, 0)) &&
             add_port(pl, DNNL_ARG_DIFF_SRC, true, k->accumulate, &d.src, md_of(pd, dnnl_query_diff_src_md, 0));
    } else {
        dnnl_convolution_desc_t cd;
        ok = forward_pd(&d, k->bias, NULL, &pl->hint) &&
             dnnl_dilated_convolution_backward_weights_desc_init(&cd, dnnl_convolution_direct, &d.src_any,
                                                                 &d.wei_any, k->bias ? &d.bias : NULL, &d.dst_any,
                                                                 d.strides, d.dilates, d.pad_l,
                                                                 d.pad_r) == dnnl_success &&
             dnnl_primitive_desc_create(&pd, &cd, attr, engine, pl->hint) == dnnl_success &&
             add_port(pl, DNNL_ARG_SRC, false, false, &d.src, md_of(pd, dnnl_query_src_md, 0)) &&
             add_port(pl, DNNL_ARG_DIFF_DST, false, false, &d.dst, md_of(pd, dnnl_query_diff_dst_md, 0)) &&
             add_port(pl, DNNL_ARG_DIFF_WEIGHTS, true, true, &d.wei, md_of(pd, dnnl_query_diff_weights_md, 0)) &&
             (!k->bias ||
              add_port(pl, DNNL_ARG_DIFF_BIAS, true, true, &d.bias, md_of(pd, dnnl_query_diff_weights_md, 1)));
    }
    dnnl_primitive_attr_destroy(attr);
    ok = ok && make_scratch(pd, &pl->conv_scratch, &pl->scratch_bytes) &&
         dnnl_primitive_create(&pl->conv, pd) == dnnl_success;
    if (pd) dnnl_primitive_desc_destroy(pd);
    return ok;
}

/* The plan for key k, made on first use (NULL only when out of memory). */
static plan *find_plan(const plan_key *k)
{
    const size_t slot = key_hash(k) % TABLE_SIZE;
    pthread_mutex_lock(&table_lock);
    plan *pl = table[slot];
    while (pl && memcmp(&pl->key, k, sizeof *k) != 0) pl = pl->next;
    if (!pl && (pl = calloc(1, sizeof *pl)) != NULL) {
        pl->key = *k;
        pthread_mutex_init(&pl->lock, NULL);
        /* a half-built plan keeps its objects (never run) */
        pl->usable = build_plan(pl);
        pl->next = table[slot];
        table[slot] = pl;
    }
    pthread_mutex_unlock(&table_lock);
    return pl;
}

static plan *plan_for(const lt_conv_geom *g, int pass, bool accumulate, bool bias)
{
    plan_key k;
    memset(&k, 0, sizeof k); /* padding bytes take part in the hash and compare */
    k.geom = *g;
    k.pass = pass;
    k.threads = omp_get_max_threads();
    k.accumulate = accumulate;
    k.bias = bias;
    plan *pl = find_plan(&k);
    return pl && pl->usable ? pl : NULL;
}

/* ---------------- running a plan ---------------- */

static size_t round_up(size_t n) { return (n + ALIGN - 1) / ALIGN * ALIGN; }

static bool exec(dnnl_primitive_t p, int n, const dnnl_exec_arg_t *args)
{
    return dnnl_primitive_execute(p, stream, n, args) == dnnl_success;
}

/* Runs plan pl on the callers' buffers (one per port, in port order). */
static int run_plan(const char *op, plan *pl, void *const *buffers)
{
    size_t bytes = round_up(pl->scratch_bytes);
    for (int i = 0; i < pl->n_ports; i++) bytes += round_up(pl->ports[i].inner_bytes);
    lt_arena_mark mark = lt__arena_mark();
    unsigned char *mem = lt__alloc(op, bytes ? bytes : ALIGN);
    if (!mem) {
        lt__arena_rewind(mark);
        return -1;
    }
    pthread_mutex_lock(&pl->lock);
    unsigned char *scratch = mem, *next = mem + round_up(pl->scratch_bytes);
    bool ok = !pl->conv_scratch || dnnl_memory_set_data_handle_v2(pl->conv_scratch, scratch, stream) == dnnl_success;
    dnnl_exec_arg_t args[MAX_PORTS + 1];
    int n_args = 0;
    for (int i = 0; i < pl->n_ports && ok; i++) {
        port *pt = &pl->ports[i];
        ok = dnnl_memory_set_data_handle_v2(pt->user, buffers[i], stream) == dnnl_success;
        if (ok && pt->reorder) {
            ok = dnnl_memory_set_data_handle_v2(pt->inner, next, stream) == dnnl_success &&
                 (!pt->reorder_scratch ||
                  dnnl_memory_set_data_handle_v2(pt->reorder_scratch, scratch, stream) == dnnl_success);
            next += round_up(pt->inner_bytes);
        }
        args[n_args++] = (dnnl_exec_arg_t){pt->arg, pt->inner};
    }
    if (pl->conv_scratch) args[n_args++] = (dnnl_exec_arg_t){DNNL_ARG_SCRATCHPAD, pl->conv_scratch};
    for (int i = 0; i < pl->n_ports && ok; i++) { /* inputs into the primitive's layouts */
        port *pt = &pl->ports[i];
        if (pt->output || !pt->reorder) continue;
        dnnl_exec_arg_t r[3] = {{DNNL_ARG_FROM, pt->user}, {DNNL_ARG_TO, pt->inner}, {DNNL_ARG_SCRATCHPAD, pt->reorder_scratch}};
        ok = exec(pt->reorder, pt->reorder_scratch ? 3 : 2, r);
    }
    ok = ok && exec(pl->conv, n_args, args);
    for (int i = 0; i < pl->n_ports && ok; i++) { /* outputs back (summed into when accumulating) */
        port *pt = &pl->ports[i];
        if (!pt->output || !pt->reorder) continue;
        dnnl_exec_arg_t r[3] = {{DNNL_ARG_FROM, pt->inner}, {DNNL_ARG_TO, pt->user}, {DNNL_ARG_SCRATCHPAD, pt->reorder_scratch}};
        ok = exec(pt->reorder, pt->reorder_scratch ? 3 : 2, r);
    }
    ok = ok && dnnl_stream_wait(stream) == dnnl_success;
    pthread_mutex_unlock(&pl->lock);
    lt__arena_rewind(mark);
    return ok ? 0 : lt__fail(op, "oneDNN convolution failed to run");
}

/* ---------------- the backend ---------------- */

static int onednn_forward(const char *op, const lt_conv_geom *g, const float *x, const float *w, const float *bias,
                          float *y, bool accumulate)
{
    if (g->batch == 0) return 0;
    plan *pl = im2col_faster(g, PASS_FORWARD) ? NULL : plan_for(g, PASS_FORWARD, accumulate, bias != NULL);
    if (!pl) return lt__conv_backend_im2col.forward(op, g, x, w, bias, y, accumulate);
    void *const buffers[] = {(void *)x, (void *)w, bias ? (void *)bias : y, y};
    void *const no_bias[] = {(void *)x, (void *)w, y};
    return run_plan(op, pl, bias ? buffers : no_bias);
}

static int onednn_backward_data(const char *op, const lt_conv_geom *g, const float *dy, const float *w, float *dx,
                                bool accumulate)
{
    if (g->batch == 0) return 0;
    plan *pl = im2col_faster(g, PASS_BACKWARD_DATA) ? NULL : plan_for(g, PASS_BACKWARD_DATA, accumulate, false);
    if (!pl) return lt__conv_backend_im2col.backward_data(op, g, dy, w, dx, accumulate);
    void *const buffers[] = {(void *)dy, (void *)w, dx};
    return run_plan(op, pl, buffers);
}

static int onednn_backward_weight(const char *op, const lt_conv_geom *g, const float *x, const float *dy, float *dw,
                                  float *db)
{
    if (g->batch == 0) return 0;
    plan *pl = !dw || im2col_faster(g, PASS_BACKWARD_WEIGHT) ? NULL
                                                             : plan_for(g, PASS_BACKWARD_WEIGHT, true, db != NULL);
    if (!pl) /* also for db alone: no convolution to run */ return lt__conv_backend_im2col.backward_weight(op, g, x, dy, dw, db);
    void *const buffers[] = {(void *)x, (void *)dy, dw, db};
    return run_plan(op, pl, buffers);
}

const lt_conv_backend lt__conv_backend_onednn = {
    .name = "onednn",
    .available = onednn_available,
    .supports = onednn_supports,
    .forward = onednn_forward,
    .backward_data = onednn_backward_data,
    .backward_weight = onednn_backward_weight,
};

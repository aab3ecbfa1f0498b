/* dtype conversion (no gradient).
 *
 * Conversions follow PyTorch 1.13 on x86-64:
 *   float -> integer  truncates toward zero; NaN, infinities and values out
 *                     of range give the minimum of int32 / int64 (the CPU's
 *                     "integer indefinite"); float -> uint8 keeps the low
 *                     byte of the int64 value (-1.5 -> 255, 300.7 -> 44);
 *   integer -> narrower integer keeps the low bits (two's complement wrap);
 *   integer -> float  rounds to nearest. */
#include "../internal.h"

#include <string.h>

static inline int32_t f32_to_i32(float v)
{
    return (v >= -2147483648.0f && v < 2147483648.0f) ? (int32_t)v : INT32_MIN;
}

static inline int64_t f32_to_i64(float v)
{
    return (v >= -9223372036854775808.0f && v < 9223372036854775808.0f) ? (int64_t)v : INT64_MIN;
}

/* Low bits of a two's complement value, without implementation-defined
 * signed conversions. */
static inline int32_t wrap_i32(int64_t v) { return (int32_t)(uint32_t)(uint64_t)v; }
static inline uint8_t wrap_u8(int64_t v) { return (uint8_t)(uint64_t)v; }

#define CAST_LOOP(TS, TD, conv)                                                                                 \
    do {                                                                                                        \
        const TS *src = (const TS *)x->data;                                                                    \
        TD *dst = (TD *)out->data;                                                                              \
        _Pragma("omp parallel for schedule(static) if (n > LT_PAR_MIN)")                                        \
        for (int64_t i = 0; i < n; i++) {                                                                       \
            const TS v = src[i];                                                                                \
            dst[i] = (TD)(conv);                                                                                \
        }                                                                                                       \
    } while (0)

/* Pairs are written as (from << 2 | to); LT_DTYPE_COUNT is 4. */
#define PAIR(from, to) ((int)(from) << 2 | (int)(to))
static_assert(LT_DTYPE_COUNT <= 4, "PAIR packs a dtype in 2 bits");

static void convert(const lt_tensor *x, lt_tensor *out)
{
    const int64_t n = x->numel;
    switch (PAIR(x->dtype, out->dtype)) {
    case PAIR(LT_F32, LT_I32): CAST_LOOP(float, int32_t, f32_to_i32(v)); break;
    case PAIR(LT_F32, LT_U8): CAST_LOOP(float, uint8_t, wrap_u8(f32_to_i64(v))); break;
    case PAIR(LT_F32, LT_I64): CAST_LOOP(float, int64_t, f32_to_i64(v)); break;
    case PAIR(LT_I32, LT_F32): CAST_LOOP(int32_t, float, v); break;
    case PAIR(LT_I32, LT_U8): CAST_LOOP(int32_t, uint8_t, wrap_u8(v)); break;
    case PAIR(LT_I32, LT_I64): CAST_LOOP(int32_t, int64_t, v); break;
    case PAIR(LT_U8, LT_F32): CAST_LOOP(uint8_t, float, v); break;
    case PAIR(LT_U8, LT_I32): CAST_LOOP(uint8_t, int32_t, v); break;
    case PAIR(LT_U8, LT_I64): CAST_LOOP(uint8_t, int64_t, v); break;
    case PAIR(LT_I64, LT_F32): CAST_LOOP(int64_t, float, v); break;
    case PAIR(LT_I64, LT_I32): CAST_LOOP(int64_t, int32_t, wrap_i32(v)); break;
    case PAIR(LT_I64, LT_U8): CAST_LOOP(int64_t, uint8_t, wrap_u8(v)); break;
    default: /* same dtype */ memcpy(out->data, x->data, (size_t)n * lt_dtype_size(x->dtype)); break;
    }
}

lt_tensor *lt_cast(lt_tensor *x, lt_dtype dtype)
{
    LT__PROFILE_OP(LT_OP_CAST);
    const char *name = "cast";
    if (!x) return NULL;
    if ((unsigned)dtype >= LT_DTYPE_COUNT) {
        lt__fail(name, "unknown target dtype %d for x %s (%s)", (int)dtype, lt__shp(x), lt_dtype_name(x->dtype));
        return NULL;
    }
    lt_tensor *out = lt__result(name, dtype, x->ndim, x->shape);
    if (!out) return NULL;
    if (x->numel > 0) convert(x, out);
    return out;
}

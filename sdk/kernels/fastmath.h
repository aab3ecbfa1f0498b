/* Vectorisable exp and log for the SDK's kernels: libm's expf/logf do not
 * vectorise without -ffast-math, these do, within 1 ulp of libm. */
#ifndef LTRAIN_SDK_FASTMATH_H
#define LTRAIN_SDK_FASTMATH_H

#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

/* expf that vectorises (libm's does not without -ffast-math): within 1 ulp
 * of expf for finite x, 0 below -87, inf above 88.5, NaN for NaN. */
static inline float lt__exp_poly(float x)
{
    /* Clamp so that 2^n stays a normal float; NaN passes the comparisons. */
    float xc = x < -87.0f ? -87.0f : x;
    xc = xc > 88.5f ? 88.5f : xc;
    /* n = round(x / ln2) by the 1.5 * 2^23 shifter trick: t's low mantissa
     * bits then hold n, which becomes 2^n without a float-to-int conversion. */
    const float shifter = 12582912.0f;
    const float t = xc * 1.44269504088896341f + shifter;
    const float n = t - shifter;
    float r = xc - n * 0.693359375f; /* ln2 split in two (Cody-Waite) */
    r = r - n * -2.12194440e-4f;
    float p = 1.9875691500e-4f; /* Cephes minimax polynomial on [-ln2/2, ln2/2] */
    p = p * r + 1.3981999507e-3f;
    p = p * r + 8.3334519073e-3f;
    p = p * r + 4.1665795894e-2f;
    p = p * r + 1.6666665459e-1f;
    p = p * r + 5.0000001201e-1f;
    p = p * r * r + r + 1.0f;
    uint32_t bits;
    memcpy(&bits, &t, sizeof bits);
    bits = (bits - 0x4B400000u + 127u) << 23;
    float scale;
    memcpy(&scale, &bits, sizeof scale);
    const float y = p * scale;
    return x < -87.0f ? 0.0f : (x > 88.5f ? INFINITY : y);
}

/* log(y) for y in [1, 2] (all this loss needs), within 1 ulp of logf:
 * Cephes' polynomial for log(1 + f), f in [-0.29, 0.42]. NaN for NaN. */
static inline float lt__log_1_2(float y)
{
    const bool high = y > 1.41421356f; /* log(y) = log(y / 2) + ln2 */
    const float e = high ? 1.0f : 0.0f;
    const float f = (high ? 0.5f * y : y) - 1.0f;
    const float z = f * f;
    float p = 7.0376836292e-2f;
    p = p * f - 1.1514610310e-1f;
    p = p * f + 1.1676998740e-1f;
    p = p * f - 1.2420140846e-1f;
    p = p * f + 1.4249322787e-1f;
    p = p * f - 1.6668057665e-1f;
    p = p * f + 2.0000714765e-1f;
    p = p * f - 2.4999993993e-1f;
    p = p * f + 3.3333331174e-1f;
    float r = p * f * z;
    r += -2.12194440e-4f * e; /* ln2 split in two (Cody-Waite) */
    r += -0.5f * z;
    return f + r + 0.693359375f * e;
}

#endif

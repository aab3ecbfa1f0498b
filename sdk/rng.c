/* xoshiro256** seeded by splitmix64 (see rng.h). */
#include "internal.h"

#include <math.h>

uint64_t lt_hash64(uint64_t x)
{
    x += 0x9e3779b97f4a7c15ull;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
    return x ^ (x >> 31);
}

void lt_rng_seed(lt_rng *rng, uint64_t seed)
{
    for (int i = 0; i < 4; i++) {
        seed = lt_hash64(seed);
        rng->s[i] = seed;
    }
}

static inline uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

uint64_t lt_rng_next(lt_rng *rng)
{
    uint64_t *s = rng->s;
    uint64_t result = rotl(s[1] * 5, 7) * 9;
    uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return result;
}

float lt_rng_uniform(lt_rng *rng) { return (float)(lt_rng_next(rng) >> 40) * (1.0f / 16777216.0f); }

float lt_rng_normal(lt_rng *rng)
{
    double u1 = ((double)(lt_rng_next(rng) >> 11) + 1.0) * (1.0 / 9007199254740993.0);
    double u2 = (double)(lt_rng_next(rng) >> 11) * (1.0 / 9007199254740992.0);
    return (float)(sqrt(-2.0 * log(u1)) * cos(2.0 * M_PI * u2));
}

uint64_t lt_rng_below(lt_rng *rng, uint64_t n)
{
    if (n == 0) return 0;
    uint64_t limit = UINT64_MAX - UINT64_MAX % n;
    uint64_t x;
    do x = lt_rng_next(rng);
    while (x >= limit);
    return x % n;
}

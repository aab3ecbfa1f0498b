/* ltrain SDK — deterministic random numbers.
 *
 * lt_rng is a small counter-free generator (xoshiro256**) seeded through
 * splitmix64, used for initialisation and data generation. Its stream depends
 * only on the seed, never on threads. Dropout uses a counter-based hash of
 * (seed, draw, element index) instead, so masks are the same for any thread
 * count. */
#ifndef LTRAIN_RNG_H
#define LTRAIN_RNG_H

#include "common.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct lt_rng {
    uint64_t s[4];
} lt_rng;

LT_API void lt_rng_seed(lt_rng *rng, uint64_t seed);
LT_API uint64_t lt_rng_next(lt_rng *rng);
/* Uniform in [0, 1) with 24 random bits (exactly representable as float). */
LT_API float lt_rng_uniform(lt_rng *rng);
/* Standard normal (Box-Muller). */
LT_API float lt_rng_normal(lt_rng *rng);
/* Uniform integer in [0, n). */
LT_API uint64_t lt_rng_below(lt_rng *rng, uint64_t n);

/* splitmix64 finaliser: a well-mixed 64-bit hash of x. */
LT_API uint64_t lt_hash64(uint64_t x);

#ifdef __cplusplus
}
#endif
#endif

/*
 * sim_rng.h - the simulator's only source of randomness: xoshiro256**
 * seeded through splitmix64 from one 64-bit seed.
 *
 * Header-only and free of Check, so the scale benchmark (bench/bench_sim.c)
 * can use the simulator without the test framework.  No wall clock and no
 * rand(): the same seed gives the same run.
 */
#ifndef TESTS_SIM_RNG_H
#define TESTS_SIM_RNG_H

#include <stdbool.h>
#include <stdint.h>

#include "crdt/splitmix.h"

typedef struct sim_rng {
	uint64_t s[4];
} sim_rng;

/* splitmix64 step: also used on its own to derive per-peer engine seeds. */
static inline uint64_t sim_mix(uint64_t *x)
{
	return splitmix64_next(x);
}

static inline void sim_rng_seed(sim_rng *r, uint64_t seed)
{
	uint64_t x = seed;
	for (int i = 0; i < 4; i++)
		r->s[i] = sim_mix(&x);
}

static inline uint64_t sim_rotl(uint64_t x, int k)
{
	return (x << k) | (x >> (64 - k));
}

static inline uint64_t sim_next(sim_rng *r)
{
	uint64_t *s = r->s;
	uint64_t out = sim_rotl(s[1] * 5, 7) * 9;
	uint64_t t = s[1] << 17;
	s[2] ^= s[0];
	s[3] ^= s[1];
	s[1] ^= s[2];
	s[0] ^= s[3];
	s[2] ^= t;
	s[3] = sim_rotl(s[3], 45);
	return out;
}

/* Uniform in [0, n); 0 when n == 0.  The modulo bias is irrelevant for
 * the small n the simulator draws. */
static inline uint64_t sim_below(sim_rng *r, uint64_t n)
{
	return n ? sim_next(r) % n : 0;
}

/* Uniform in [lo, hi] (lo <= hi). */
static inline uint64_t sim_range(sim_rng *r, uint64_t lo, uint64_t hi)
{
	return lo + sim_below(r, hi - lo + 1);
}

/* True with probability pct/100. */
static inline bool sim_pct(sim_rng *r, unsigned pct)
{
	return sim_below(r, 100) < pct;
}

#endif

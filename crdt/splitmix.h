/*
 * splitmix.h - splitmix64 (Steele, Lea, Flood), the one small seedable
 * generator of the project: the engine's peer choice, fault injection and
 * the tests' generators all step a caller-owned state with it, so every run
 * is reproducible from its seed.  Not for anything secret.
 */
#ifndef CRDT_SPLITMIX_H
#define CRDT_SPLITMIX_H

#include <stdint.h>

static inline uint64_t splitmix64_next(uint64_t *state)
{
	uint64_t z = (*state += UINT64_C(0x9E3779B97F4A7C15));
	z = (z ^ (z >> 30)) * UINT64_C(0xBF58476D1CE4E5B9);
	z = (z ^ (z >> 27)) * UINT64_C(0x94D049BB133111EB);
	return z ^ (z >> 31);
}

#endif

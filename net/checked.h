/*
 * checked.h - arithmetic on integers that came from the wire.
 *
 * Contract: every sum, product or narrowing that involves a received value
 * goes through one of these helpers instead of a bare operator, so that a
 * wrap is a refusal and never an index.  Each helper returns true when the
 * exact mathematical result fits its destination (and stores it), false
 * when it does not (and leaves *out unspecified); the caller refuses the
 * message on false.  The saturating helpers are for values the engine
 * itself advances (incarnations), where refusing is not an option: they
 * stop at a stated maximum instead of wrapping.
 *
 * They are thin wrappers over the compiler's __builtin_*_overflow, which
 * compute in infinite precision: no undefined behaviour, no casts that hide
 * a truncation.
 */
#ifndef NET_CHECKED_H
#define NET_CHECKED_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

static inline bool checked_add_u32(uint32_t a, uint32_t b, uint32_t *out)
{
	return !__builtin_add_overflow(a, b, out);
}

static inline bool checked_add_u64(uint64_t a, uint64_t b, uint64_t *out)
{
	return !__builtin_add_overflow(a, b, out);
}

static inline bool checked_add_size(size_t a, size_t b, size_t *out)
{
	return !__builtin_add_overflow(a, b, out);
}

static inline bool checked_mul_u32(uint32_t a, uint32_t b, uint32_t *out)
{
	return !__builtin_mul_overflow(a, b, out);
}

static inline bool checked_mul_size(size_t a, size_t b, size_t *out)
{
	return !__builtin_mul_overflow(a, b, out);
}

/* Narrows v into a uint32_t. */
static inline bool checked_u64_to_u32(uint64_t v, uint32_t *out)
{
	return !__builtin_add_overflow(v, 0, out);
}

/* Is [first, first + count) inside [0, limit)?  The one question every
 * "first, count" pair from the wire asks; true for count 0 only when first
 * <= limit. */
static inline bool checked_range_within(uint64_t first, uint64_t count, uint64_t limit)
{
	uint64_t end;
	return checked_add_u64(first, count, &end) && end <= limit;
}

/* v + 1, or max when that would pass max (or wrap).  v > max gives max. */
static inline uint64_t checked_inc_sat(uint64_t v, uint64_t max)
{
	uint64_t r;
	if (!checked_add_u64(v, 1, &r) || r > max)
		return max;
	return r;
}

#endif

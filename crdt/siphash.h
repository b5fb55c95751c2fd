/*
 * siphash.h - SipHash-2-4 with a 64-bit output (Aumasson and Bernstein),
 * inline, for the store's hot hashes: the id hash of every store lookup and
 * the entry hash of every write.
 *
 * Why not libsodium's crypto_shorthash, which computes the same function:
 * through the library call, with its byte-wise key and output handling, a
 * 27-byte input cost about 450 instructions, twice per add; the key is
 * fixed per use, so it is loaded into words once (siphash_key) and the
 * whole hash inlines into its caller.  The output equals crypto_shorthash's
 * first 8 bytes read little-endian (tests/test_codec_siphash.c holds the
 * two to that at every length up to 300, with extreme keys and bytes, and
 * to the paper's vector), so digests and buckets are unchanged on the wire.
 *
 * Not a secret-keyed MAC here: every use in crdt/ has a public key.
 */
#ifndef CRDT_SIPHASH_H
#define CRDT_SIPHASH_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

typedef struct siphash_key {
	uint64_t k0, k1;
} siphash_key;

static inline uint64_t siphash_le64(const uint8_t *p)
{
	uint64_t v;
	memcpy(&v, p, 8);
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
	v = __builtin_bswap64(v);
#endif
	return v;
}

/* The key as SipHash reads it: 16 bytes, two little-endian words. */
static inline siphash_key siphash_key_from(const unsigned char k[16])
{
	siphash_key key = { siphash_le64(k), siphash_le64(k + 8) };
	return key;
}

#define SIPHASH_ROTL(x, b) (((x) << (b)) | ((x) >> (64 - (b))))
#define SIPHASH_ROUND(v0, v1, v2, v3)                                                    \
	do {                                                                                 \
		v0 += v1; v1 = SIPHASH_ROTL(v1, 13); v1 ^= v0; v0 = SIPHASH_ROTL(v0, 32);       \
		v2 += v3; v3 = SIPHASH_ROTL(v3, 16); v3 ^= v2;                                  \
		v0 += v3; v3 = SIPHASH_ROTL(v3, 21); v3 ^= v0;                                  \
		v2 += v1; v1 = SIPHASH_ROTL(v1, 17); v1 ^= v2; v2 = SIPHASH_ROTL(v2, 32);       \
	} while (0)

/*
 * The hash in pieces, for input written out a window at a time (the
 * store's digests, store_digest.c): siphash_begin, then siphash_blocks
 * over whole 8-byte blocks as they come, then siphash_end over the last
 * 0..7 bytes.  The result equals siphash24 over the whole input.
 */
typedef struct siphash_state {
	uint64_t v0, v1, v2, v3;
	uint64_t len;               /* bytes absorbed so far (a multiple of 8) */
} siphash_state;

static inline void siphash_begin(siphash_state *s, siphash_key key)
{
	s->v0 = key.k0 ^ UINT64_C(0x736f6d6570736575);
	s->v1 = key.k1 ^ UINT64_C(0x646f72616e646f6d);
	s->v2 = key.k0 ^ UINT64_C(0x6c7967656e657261);
	s->v3 = key.k1 ^ UINT64_C(0x7465646279746573);
	s->len = 0;
}

/* Absorbs nblocks 8-byte blocks at p. */
static inline void siphash_blocks(siphash_state *s, const uint8_t *p, size_t nblocks)
{
	uint64_t v0 = s->v0, v1 = s->v1, v2 = s->v2, v3 = s->v3;

	for (const uint8_t *end = p + 8 * nblocks; p != end; p += 8) {
		uint64_t m = siphash_le64(p);
		v3 ^= m;
		SIPHASH_ROUND(v0, v1, v2, v3);
		SIPHASH_ROUND(v0, v1, v2, v3);
		v0 ^= m;
	}
	s->v0 = v0, s->v1 = v1, s->v2 = v2, s->v3 = v3;
	s->len += 8 * (uint64_t)nblocks;
}

/* The hash, after the last 0..7 bytes at p (len < 8). */
static inline uint64_t siphash_end(const siphash_state *s, const uint8_t *p, size_t len)
{
	uint64_t v0 = s->v0, v1 = s->v1, v2 = s->v2, v3 = s->v3;
	/* The last 0..7 bytes, and the whole length in the top byte. */
	uint64_t b = (s->len + len) << 56;
	switch (len & 7) {
	case 7: b |= (uint64_t)p[6] << 48; /* fall through */
	case 6: b |= (uint64_t)p[5] << 40; /* fall through */
	case 5: b |= (uint64_t)p[4] << 32; /* fall through */
	case 4: b |= (uint64_t)p[3] << 24; /* fall through */
	case 3: b |= (uint64_t)p[2] << 16; /* fall through */
	case 2: b |= (uint64_t)p[1] << 8;  /* fall through */
	case 1: b |= (uint64_t)p[0]; break;
	default: break;
	}
	v3 ^= b;
	SIPHASH_ROUND(v0, v1, v2, v3);
	SIPHASH_ROUND(v0, v1, v2, v3);
	v0 ^= b;
	v2 ^= 0xff;
	SIPHASH_ROUND(v0, v1, v2, v3);
	SIPHASH_ROUND(v0, v1, v2, v3);
	SIPHASH_ROUND(v0, v1, v2, v3);
	SIPHASH_ROUND(v0, v1, v2, v3);
	return v0 ^ v1 ^ v2 ^ v3;
}

/* SipHash-2-4 of in[0..len) under key. */
static inline uint64_t siphash24(siphash_key key, const void *in, size_t len)
{
	siphash_state s;
	const uint8_t *p = in;

	siphash_begin(&s, key);
	siphash_blocks(&s, p, len / 8);
	return siphash_end(&s, p + (len & ~(size_t)7), len & 7);
}

#endif

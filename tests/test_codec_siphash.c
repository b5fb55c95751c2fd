/*
 * test_codec_siphash.c - crdt/siphash.h against libsodium's
 * crypto_shorthash (the same SipHash-2-4), which the store used before:
 * every cart digest, digest bucket and table hash on the wire depends on
 * the two agreeing, at every input length (each tail length, the 8-byte
 * block boundaries) and with keys and bytes at their extremes.
 */
#include <check.h>
#include <sodium.h>
#include <stdint.h>
#include <string.h>

#include "crdt/siphash.h"
#include "crdt/splitmix.h"
#include "tests/test_codec.h"

static uint64_t sodium_word(const unsigned char *key, const uint8_t *in, size_t len)
{
	unsigned char h[crypto_shorthash_BYTES];
	crypto_shorthash(h, in, len, key);
	uint64_t v = 0;
	for (int i = 0; i < 8; i++)
		v |= (uint64_t)h[i] << (8 * i);
	return v;
}

/* Every length 0..300 under random keys and bytes, then all-0x00 and
 * all-0xff keys and bytes (the top bit of every byte and of the length
 * byte set). */
START_TEST(siphash_matches_libsodium)
{
	ck_assert_int_ge(sodium_init(), 0);
	uint64_t rng = 0x5eed;
	uint8_t in[300];
	unsigned char key[16];
	for (size_t len = 0; len <= sizeof in; len++) {
		for (int round = 0; round < 4; round++) {
			for (size_t i = 0; i < sizeof in; i++)
				in[i] = (uint8_t)splitmix64_next(&rng);
			for (size_t i = 0; i < sizeof key; i++)
				key[i] = (uint8_t)splitmix64_next(&rng);
			if (round == 2) {
				memset(in, 0xff, sizeof in);
				memset(key, 0xff, sizeof key);
			} else if (round == 3) {
				memset(in, 0, sizeof in);
				memset(key, 0, sizeof key);
			}
			uint64_t want = sodium_word(key, in, len);
			uint64_t got = siphash24(siphash_key_from(key), in, len);
			ck_assert_msg(got == want, "len %zu round %d: %016llx, libsodium %016llx", len,
			              round, (unsigned long long)got, (unsigned long long)want);
		}
	}
}
END_TEST

/* In pieces (siphash_begin, siphash_blocks in runs of 0 to 5 blocks,
 * siphash_end), as the store hashes its digests: equal to the one-shot hash
 * at every length and every way of cutting the blocks. */
START_TEST(siphash_in_pieces)
{
	uint64_t rng = 0x9ece5;
	uint8_t in[300];
	unsigned char key[16];
	for (size_t i = 0; i < sizeof key; i++)
		key[i] = (uint8_t)splitmix64_next(&rng);
	for (size_t i = 0; i < sizeof in; i++)
		in[i] = (uint8_t)splitmix64_next(&rng);
	for (size_t len = 0; len <= sizeof in; len++) {
		for (int round = 0; round < 8; round++) {
			siphash_state s;
			size_t blocks = len / 8, done = 0;
			siphash_begin(&s, siphash_key_from(key));
			while (done < blocks) {
				size_t run = (size_t)(splitmix64_next(&rng) % 6);
				if (run > blocks - done)
					run = blocks - done;
				siphash_blocks(&s, in + 8 * done, run);
				done += run;
			}
			uint64_t got = siphash_end(&s, in + 8 * blocks, len % 8);
			uint64_t want = siphash24(siphash_key_from(key), in, len);
			ck_assert_msg(got == want, "len %zu round %d: %016llx, one-shot %016llx", len,
			              round, (unsigned long long)got, (unsigned long long)want);
		}
	}
}
END_TEST

/* The reference vector of the SipHash paper (key 00..0f, input 00..0e). */
START_TEST(siphash_paper_vector)
{
	unsigned char key[16];
	uint8_t in[15];
	for (int i = 0; i < 16; i++)
		key[i] = (unsigned char)i;
	for (int i = 0; i < 15; i++)
		in[i] = (uint8_t)i;
	ck_assert_uint_eq(siphash24(siphash_key_from(key), in, sizeof in),
	                  UINT64_C(0xa129ca6149be45e5));
}
END_TEST

TCase *codec_siphash_tcase(void)
{
	TCase *tc = tcase_create("siphash");
	tcase_add_test(tc, siphash_matches_libsodium);
	tcase_add_test(tc, siphash_in_pieces);
	tcase_add_test(tc, siphash_paper_vector);
	return tc;
}

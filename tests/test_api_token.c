/*
 * test_api_token.c - api suite, tcase "tokens": read tokens sealed for one
 * cart under a keyring's token key (app/peer/token.h).  A token opens only for
 * its cart, under a key the keyring holds, byte for byte as sealed; every
 * other input gets its own error and yields nothing.
 */
#include <check.h>
#include <sodium.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "app/peer/b64url.h"
#include "app/peer/token.h"
#include "crdt/buf.h"
#include "crdt/codec.h"
#include "crdt/error.h"
#include "net/keyring.h"
#include "tests/test_util.h"

TCase *api_token_tcase(void);

#define KEY_A "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="
/* A development keyring's transport line: its cluster secret. */
#define CLUSTER "cluster-secret "
#define KEY_B "ICEiIyQlJicoKSorLC0uLzAxMjM0NTY3ODk6Ozw9Pj8="
#define KEY_C "QEFCQ0RFRkdISUpLTE1OT1BRUlNUVVZXWFlaW1xdXl8="

static wire_keyring *ring_of(const char *text)
{
	wire_keyring *r = NULL;
	ck_assert_int_eq(wire_keyring_parse(text, strlen(text), &r, NULL, 0), 0);
	return r;
}

static void ctx_of(crdt_ctx *c, unsigned writers)
{
	crdt_ctx_init(c);
	for (unsigned i = 0; i < writers; i++)
		ck_assert_int_eq(crdt_ctx_add_range(c, 1000 + i * 7919, 1, 3 + i), 0);
}

START_TEST(test_token_roundtrip)
{
	wire_keyring *r = ring_of(CLUSTER KEY_A "\ntoken " KEY_B "\n");
	crdt_ctx c, d;
	char *tok = NULL;
	ctx_of(&c, 3);
	crdt_ctx_init(&d);
	ck_assert_int_eq(token_seal(r, TU_IDN("cart-1", 6), &c, &tok), 0);
	ck_assert_uint_eq(strspn(tok, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
	                              "0123456789-_"), strlen(tok));
	ck_assert_int_eq(token_open(r, TU_IDN("cart-1", 6), tok, strlen(tok), &d), 0);
	ck_assert(crdt_ctx_equal(&c, &d));
	free(tok);
	/* The empty context of a cart nobody wrote seals and opens too. */
	crdt_ctx_destroy(&c);
	ck_assert_int_eq(token_seal(r, TU_IDN("never", 5), &c, &tok), 0);
	ck_assert_int_eq(token_open(r, TU_IDN("never", 5), tok, strlen(tok), &d), 0);
	ck_assert(crdt_ctx_empty(&d));
	free(tok);
	crdt_ctx_destroy(&d);
	wire_keyring_free(r);
}
END_TEST

/* token_seal_in writes into the caller's room exactly when the token and
 * its NUL fit, and otherwise onto the heap; either way the token is the
 * one token_seal makes, and opens. */
START_TEST(test_token_seal_in_room)
{
	wire_keyring *r = ring_of(CLUSTER KEY_A "\ntoken " KEY_B "\n");
	for (unsigned writers = 0; writers <= 20; writers += 4) {
		crdt_ctx c, d;
		char *want = NULL, *got = NULL;
		ctx_of(&c, writers);
		crdt_ctx_init(&d);
		ck_assert_int_eq(token_seal(r, TU_IDN("cart-1", 6), &c, &want), 0);
		size_t fit = strlen(want) + 1;
		char room[512];
		ck_assert_uint_le(fit, sizeof room);
		for (size_t len = fit - 1; len <= fit; len++) {
			memset(room, '#', sizeof room);
			ck_assert_int_eq(token_seal_in(r, TU_IDN("cart-1", 6), &c, room, len, &got), 0);
			ck_assert_str_eq(got, want);
			if (len == fit) {
				ck_assert_ptr_eq(got, room);
				ck_assert_int_eq(room[fit], '#');   /* nothing past the NUL */
			} else {
				ck_assert_ptr_ne(got, room);
				ck_assert_int_eq(room[0], '#');     /* the room untouched */
			}
			ck_assert_int_eq(token_open(r, TU_IDN("cart-1", 6), got, strlen(got), &d), 0);
			ck_assert(crdt_ctx_equal(&c, &d));
			if (got != room)
				free(got);
		}
		free(want);
		crdt_ctx_destroy(&c);
		crdt_ctx_destroy(&d);
	}
	wire_keyring_free(r);
}
END_TEST

/* Another cart's token is refused with its own code, also for ids that
 * differ in one byte or only in length. */
START_TEST(test_token_other_cart)
{
	wire_keyring *r = ring_of(CLUSTER KEY_A "\n");
	static const char *const others[] = { "cart-2", "cart-", "cart-11", "Cart-1", "x" };
	crdt_ctx c, d;
	char *tok = NULL;
	ctx_of(&c, 2);
	crdt_ctx_init(&d);
	ck_assert_int_eq(token_seal(r, TU_IDN("cart-1", 6), &c, &tok), 0);
	for (size_t i = 0; i < sizeof others / sizeof others[0]; i++) {
		int rc = token_open(r, TU_IDN(others[i], strlen(others[i])), tok, strlen(tok), &d);
		ck_assert_msg(rc == CARTD_ETOKENCART, "%s: %s", others[i], cartd_errname(rc));
		ck_assert(crdt_ctx_empty(&d));
	}
	free(tok);
	crdt_ctx_destroy(&c);
	wire_keyring_free(r);
}
END_TEST

/* Every single-bit edit of the sealed bytes is refused, and none opens. */
START_TEST(test_token_edited)
{
	wire_keyring *r = ring_of(CLUSTER KEY_A "\n");
	crdt_ctx c, d;
	char *tok = NULL;
	ctx_of(&c, 2);
	crdt_ctx_init(&d);
	ck_assert_int_eq(token_seal(r, TU_IDN("c1", 2), &c, &tok), 0);
	uint8_t bin[256];
	size_t n = 0;
	ck_assert_int_eq(sodium_base642bin(bin, sizeof bin, tok, strlen(tok), NULL, &n, NULL,
	                                   sodium_base64_VARIANT_URLSAFE_NO_PADDING), 0);
	char edited[400];
	unsigned forged = 0;
	for (size_t i = 0; i < n * 8; i++) {
		bin[i / 8] ^= (uint8_t)(1u << (i % 8));
		sodium_bin2base64(edited, sizeof edited, bin, n, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
		int rc = token_open(r, TU_IDN("c1", 2), edited, strlen(edited), &d);
		ck_assert_msg(rc == CARTD_ETOKEN || rc == CARTD_ETOKENKEY || rc == CARTD_ETOKENCART ||
		              rc == CARTD_ETOKENMAC, "bit %zu: %s", i, cartd_errname(rc));
		ck_assert(crdt_ctx_empty(&d));
		forged += rc == CARTD_ETOKENMAC;
		bin[i / 8] ^= (uint8_t)(1u << (i % 8));
	}
	/* Edits of the context and of the MAC itself are caught by the MAC. */
	ck_assert_uint_ge(forged, (n - 9) * 8);
	free(tok);
	crdt_ctx_destroy(&c);
	wire_keyring_free(r);
}
END_TEST

/* Rotation: a token sealed under a key still in the ring opens; one whose
 * key left the ring is refused as unknown, not as forged. */
START_TEST(test_token_rotation)
{
	wire_keyring *old = ring_of(CLUSTER KEY_A "\ntoken " KEY_B "\n");
	wire_keyring *both = ring_of(CLUSTER KEY_A "\ntoken " KEY_C "\ntoken " KEY_B "\n");
	wire_keyring *fresh = ring_of(CLUSTER KEY_A "\ntoken " KEY_C "\n");
	crdt_ctx c, d;
	char *tok = NULL, *tok2 = NULL;
	ctx_of(&c, 1);
	crdt_ctx_init(&d);
	ck_assert_int_eq(token_seal(old, TU_IDN("c1", 2), &c, &tok), 0);
	ck_assert_int_eq(token_open(both, TU_IDN("c1", 2), tok, strlen(tok), &d), 0);
	ck_assert(crdt_ctx_equal(&c, &d));
	ck_assert_int_eq(token_open(fresh, TU_IDN("c1", 2), tok, strlen(tok), &d), CARTD_ETOKENKEY);
	ck_assert(crdt_ctx_empty(&d));
	/* The new primary seals; the old ring cannot open that. */
	ck_assert_int_eq(token_seal(both, TU_IDN("c1", 2), &c, &tok2), 0);
	ck_assert_int_eq(token_open(fresh, TU_IDN("c1", 2), tok2, strlen(tok2), &d), 0);
	ck_assert_int_eq(token_open(old, TU_IDN("c1", 2), tok2, strlen(tok2), &d), CARTD_ETOKENKEY);
	free(tok);
	free(tok2);
	crdt_ctx_destroy(&c);
	crdt_ctx_destroy(&d);
	wire_keyring_free(old);
	wire_keyring_free(both);
	wire_keyring_free(fresh);
}
END_TEST

/* A keyring without token lines derives a token key from its cluster
 * secret: two peers with the same file agree, another cluster does not. */
START_TEST(test_token_derived_keys)
{
	wire_keyring *a = ring_of(CLUSTER KEY_A "\n"), *a2 = ring_of("# same\n" CLUSTER KEY_A "\n");
	wire_keyring *b = ring_of(CLUSTER KEY_B "\n");
	ck_assert_uint_eq(wire_keyring_token_count(a), 1);
	uint32_t ta, tbk;
	const uint8_t *ka = wire_keyring_token_primary(a, &ta);
	uint8_t secret[WIRE_KEY_BYTES];
	ck_assert_int_eq(sodium_base642bin(secret, sizeof secret, KEY_A, strlen(KEY_A), NULL,
	                                   NULL, NULL, sodium_base64_VARIANT_ORIGINAL), 0);
	ck_assert(memcmp(ka, secret, WIRE_KEY_BYTES) != 0);   /* not the secret itself */
	crdt_ctx c, d;
	char *tok = NULL;
	ctx_of(&c, 1);
	crdt_ctx_init(&d);
	ck_assert_int_eq(token_seal(a, TU_IDN("c1", 2), &c, &tok), 0);
	ck_assert_int_eq(token_open(a2, TU_IDN("c1", 2), tok, strlen(tok), &d), 0);
	wire_keyring_token_primary(b, &tbk);
	ck_assert_uint_ne(ta, tbk);
	ck_assert_int_eq(token_open(b, TU_IDN("c1", 2), tok, strlen(tok), &d), CARTD_ETOKENKEY);
	free(tok);
	crdt_ctx_destroy(&c);
	crdt_ctx_destroy(&d);
	wire_keyring_free(a);
	wire_keyring_free(a2);
	wire_keyring_free(b);
}
END_TEST

START_TEST(test_token_strict)
{
	wire_keyring *r = ring_of(CLUSTER KEY_A "\n");
	crdt_ctx d;
	crdt_ctx_init(&d);
	static const char *const bad[] = {
		"", "A", "AA=", "AA==", " AA", "AA ", "AA\n", "AB", "A+", "A/", "AAA",
		"AAAA", "AgAAAAAAAAAA",
		/* Found by fuzzing: libsodium took these high bytes for digits. */
		"Apppppvppppppppppppppppppppppppp\x89\x8f\x8f\x8fpppA",
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		ck_assert_msg(token_open(r, TU_IDN("c1", 2), bad[i], strlen(bad[i]), &d) == CARTD_ETOKEN,
		              "token \"%s\" accepted", bad[i]);
	ck_assert(crdt_ctx_empty(&d));
	char *big = malloc(TOKEN_MAX_CHARS + 2);
	memset(big, 'A', TOKEN_MAX_CHARS + 1);
	ck_assert_int_eq(token_check_text(big, TOKEN_MAX_CHARS + 1), CARTD_ETOKEN);
	ck_assert_int_eq(token_open(r, TU_IDN("c1", 2), big, TOKEN_MAX_CHARS + 1, &d), CARTD_ETOKEN);
	free(big);
	crdt_ctx_destroy(&d);
	wire_keyring_free(r);
}
END_TEST

/* The MAC of a token of cart "c1" over raw[0..len) under token key key,
 * from token.h's and keyring.h's descriptions alone: version 3's
 * SipHash-2-4-128 or version 2's keyed BLAKE2b-128. */
static void hand_mac(unsigned version, const uint8_t *key, const uint8_t *raw, size_t len,
                     uint8_t mac[TOKEN_MAC_BYTES])
{
	if (version == 2) {
		static const char label[] = "cartd read token v2";
		crypto_generichash_state st;
		uint8_t clen = 2;
		crypto_generichash_init(&st, key, WIRE_KEY_BYTES, TOKEN_MAC_BYTES);
		crypto_generichash_update(&st, (const unsigned char *)label, sizeof label);
		crypto_generichash_update(&st, &clen, 1);
		crypto_generichash_update(&st, (const unsigned char *)"c1", 2);
		crypto_generichash_update(&st, raw, len);
		crypto_generichash_final(&st, mac, TOKEN_MAC_BYTES);
		return;
	}
	static const char label[] = "cartd token siphash key v3";
	uint8_t sipkey[crypto_shorthash_siphashx24_KEYBYTES], in[256];
	crypto_generichash(sipkey, sizeof sipkey, (const uint8_t *)label, sizeof label - 1, key,
	                   WIRE_KEY_BYTES);
	ck_assert_uint_le(len + 3, sizeof in);
	memcpy(in, raw, len);
	memcpy(in + len, "c1\x02", 3);
	crypto_shorthash_siphashx24(mac, in, len + 3, sipkey);
}

/* A correctly sealed but non-canonical context (a range split in two
 * adjacent pieces: only a key holder can make one) is still refused, in
 * both versions that open.  The same bytes with a canonical context open,
 * so the MAC made from the header's description is the one cartd makes;
 * a version byte that does not match the MAC's kind is a forgery. */
START_TEST(test_token_noncanonical)
{
	wire_keyring *r = ring_of(CLUSTER KEY_A "\n");
	uint32_t id;
	const uint8_t *key = wire_keyring_token_primary(r, &id);
	for (unsigned version = 2; version <= TOKEN_VERSION; version++) {
		uint8_t raw[128];
		buf_writer w;
		buf_writer_fixed(&w, raw, sizeof raw);
		buf_put_u8(&w, (uint8_t)version);
		buf_put_u32le(&w, id);
		buf_put_u32le(&w, (uint32_t)crdt_name_hash("c1", 2));
		buf_put_varint(&w, 2);
		buf_put_u64le(&w, 1);
		buf_put_varint(&w, 1);
		buf_put_varint(&w, 0);
		buf_put_u64le(&w, 1);
		buf_put_varint(&w, 2);
		buf_put_varint(&w, 0);
		ck_assert_int_eq(w.err, 0);
		uint8_t mac[TOKEN_MAC_BYTES];
		hand_mac(version, key, raw, w.len, mac);
		buf_put_bytes(&w, mac, sizeof mac);
		char tok[256];
		sodium_bin2base64(tok, sizeof tok, raw, w.len, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
		crdt_ctx d;
		crdt_ctx_init(&d);
		ck_assert_int_eq(token_open(r, TU_IDN("c1", 2), tok, strlen(tok), &d), CARTD_ETOKEN);
		ck_assert(crdt_ctx_empty(&d));
		raw[9] = 1;
		w.len = 9 + 1 + 8 + 1 + 1;
		raw[w.len - 1] = 1;   /* one range [1, 2] of replica 1 */
		hand_mac(version, key, raw, w.len, mac);
		memcpy(raw + w.len, mac, sizeof mac);
		sodium_bin2base64(tok, sizeof tok, raw, w.len + sizeof mac,
		                  sodium_base64_VARIANT_URLSAFE_NO_PADDING);
		ck_assert_int_eq(token_open(r, TU_IDN("c1", 2), tok, strlen(tok), &d), 0);
		ck_assert_uint_eq(crdt_ctx_count(&d), 2);
		/* The other version's MAC under this version's byte. */
		hand_mac(version == 2 ? 3 : 2, key, raw, w.len, mac);
		memcpy(raw + w.len, mac, sizeof mac);
		sodium_bin2base64(tok, sizeof tok, raw, w.len + sizeof mac,
		                  sodium_base64_VARIANT_URLSAFE_NO_PADDING);
		ck_assert_int_eq(token_open(r, TU_IDN("c1", 2), tok, strlen(tok), &d), CARTD_ETOKENMAC);
		crdt_ctx_destroy(&d);
	}
	wire_keyring_free(r);
}
END_TEST

/* Token sizes for carts of 1, 10 and 100 lines, each line added by a
 * different writer (the worst case: a range per writer).  Printed for the
 * docs, and bounded: 25 bytes of overhead and the context's encoding. */
START_TEST(test_token_sizes)
{
	wire_keyring *r = ring_of(CLUSTER KEY_A "\n");
	static const unsigned lines[] = { 1, 10, 100 };
	for (size_t i = 0; i < 3; i++) {
		crdt_ctx one, many;
		char *a = NULL, *b = NULL;
		crdt_ctx_init(&one);
		ck_assert_int_eq(crdt_ctx_add_range(&one, UINT64_C(0x9e3779b97f4a7c15), 1, lines[i]), 0);
		ctx_of(&many, lines[i]);
		ck_assert_int_eq(token_seal(r, TU_IDN("cart-42", 7), &one, &a), 0);
		ck_assert_int_eq(token_seal(r, TU_IDN("cart-42", 7), &many, &b), 0);
		size_t max = sodium_base64_ENCODED_LEN(TOKEN_OVERHEAD + crdt_ctx_encoded_size(&many),
		                                       sodium_base64_VARIANT_URLSAFE_NO_PADDING);
		ck_assert_uint_le(strlen(b), max);
		printf("token size: %3u lines: %zu chars (one writer), %zu chars (a writer per line)\n",
		       lines[i], strlen(a), strlen(b));
		free(a);
		free(b);
		crdt_ctx_destroy(&one);
		crdt_ctx_destroy(&many);
	}
	wire_keyring_free(r);
}
END_TEST

/* The encoder that writes tokens gives libsodium's bytes, which decode
 * them: every length up to 300 (all three tail shapes, many times), random
 * bytes and the all-zero and all-ones extremes of the alphabet. */
START_TEST(test_b64url_matches_libsodium)
{
	uint8_t in[300];
	char ours[512], theirs[512];
	for (size_t n = 0; n <= sizeof in; n++) {
		for (int fill = 0; fill < 3; fill++) {
			if (fill == 0)
				randombytes_buf(in, n);
			else
				memset(in, fill == 1 ? 0x00 : 0xff, n);
			size_t want = sodium_base64_ENCODED_LEN(n, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
			ck_assert_uint_eq(b64url_encoded_len(n), want);
			memset(ours, '?', sizeof ours);
			b64url_encode(ours, in, n);
			sodium_bin2base64(theirs, sizeof theirs, in, n,
			                  sodium_base64_VARIANT_URLSAFE_NO_PADDING);
			ck_assert_msg(strcmp(ours, theirs) == 0, "%zu bytes: %s, libsodium %s", n, ours,
			              theirs);
			ck_assert_int_eq(ours[want], '?');   /* nothing past the NUL */
		}
	}
}
END_TEST

/* Contexts of 1 to 80 writers: sealed on the stack, then (past 512
 * bytes) in heap memory; each token opens to its context. */
START_TEST(test_token_stack_and_heap)
{
	wire_keyring *r = ring_of(CLUSTER KEY_A "\n");
	bool stack = false, heap = false;
	for (unsigned writers = 1; writers <= 80; writers++) {
		crdt_ctx c, d;
		char *tok = NULL;
		ctx_of(&c, writers);
		crdt_ctx_init(&d);
		size_t sealed = TOKEN_OVERHEAD + crdt_ctx_encoded_size(&c);
		stack |= sealed <= 512;
		heap |= sealed > 512;
		ck_assert_int_eq(token_seal(r, TU_IDN("cart-7", 6), &c, &tok), 0);
		ck_assert_uint_eq(strlen(tok) + 1, b64url_encoded_len(sealed));
		ck_assert_int_eq(token_open(r, TU_IDN("cart-7", 6), tok, strlen(tok), &d), 0);
		ck_assert(crdt_ctx_equal(&c, &d));
		free(tok);
		crdt_ctx_destroy(&c);
		crdt_ctx_destroy(&d);
	}
	ck_assert(stack && heap);
	wire_keyring_free(r);
}
END_TEST

TCase *api_token_tcase(void)
{
	TCase *t = tcase_create("tokens");
	tcase_add_test(t, test_token_roundtrip);
	tcase_add_test(t, test_token_seal_in_room);
	tcase_add_test(t, test_token_other_cart);
	tcase_add_test(t, test_token_edited);
	tcase_add_test(t, test_token_rotation);
	tcase_add_test(t, test_token_derived_keys);
	tcase_add_test(t, test_token_strict);
	tcase_add_test(t, test_token_noncanonical);
	tcase_add_test(t, test_token_sizes);
	tcase_add_test(t, test_b64url_matches_libsodium);
	tcase_add_test(t, test_token_stack_and_heap);
	return t;
}

/*
 * token.c - context tokens: a MAC-sealed, cart-bound context in base64url
 * (format in token.h).
 */
#include "app/peer/token.h"

#include <sodium.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "app/peer/b64url.h"
#include "crdt/buf.h"
#include "crdt/codec.h"
#include "crdt/error.h"

#define TOKEN_VARIANT sodium_base64_VARIANT_URLSAFE_NO_PADDING
#define HEAD_BYTES 9u           /* version, key id, cart tag */
#define VERSION_BLAKE2B 2u      /* the version before, with compute_mac_v2 */

static const char mac_label[] = "cartd read token v2";   /* version 2's MAC */

_Static_assert(TOKEN_MAC_BYTES >= crypto_generichash_BYTES_MIN, "MAC length");
_Static_assert(TOKEN_MAC_BYTES == crypto_shorthash_siphashx24_BYTES, "MAC length");
_Static_assert(WIRE_TOKEN_MAC_KEY_BYTES == crypto_shorthash_siphashx24_KEYBYTES, "MAC key");

static uint32_t get_le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* The cart's tag: the low half of its id's hash (crdt_name_hash), which
 * its crdt_id carries already. */
static uint32_t cart_tag(const crdt_id *cart)
{
	return (uint32_t)cart->hash;
}

/* Version 2's MAC: keyed BLAKE2b-128 of label, cart id (length-prefixed)
 * and body[0..len).  Tokens of version 2 still open. */
static void compute_mac_v2(const uint8_t *key, const crdt_id *cart, const uint8_t *body,
                           size_t len, uint8_t mac[TOKEN_MAC_BYTES])
{
	crypto_generichash_state st;
	uint8_t clen = (uint8_t)cart->len;
	crypto_generichash_init(&st, key, WIRE_KEY_BYTES, TOKEN_MAC_BYTES);
	crypto_generichash_update(&st, (const unsigned char *)mac_label, sizeof mac_label);
	crypto_generichash_update(&st, &clen, 1);
	crypto_generichash_update(&st, (const unsigned char *)cart->s, cart->len);
	crypto_generichash_update(&st, body, len);
	crypto_generichash_final(&st, mac, TOKEN_MAC_BYTES);
	sodium_memzero(&st, sizeof st);
}

/* Bytes a version-3 MAC input adds after the body: the cart id and its
 * length byte. */
#define MAC_TAIL_MAX (CRDT_MAX_NAME + 1u)

/*
 * The MAC of version 3: SipHash-2-4 with 128-bit output
 * (crypto_shorthash_siphashx24) under the token key's SipHash key, of
 * body[0..len) || cart id || cart id's length (one byte): read from the
 * end, the input parses one way.  buf[len ..] must have MAC_TAIL_MAX
 * bytes of room, which this overwrites.
 */
static void compute_mac(const uint8_t *sipkey, const crdt_id *cart, uint8_t *buf, size_t len,
                        uint8_t mac[TOKEN_MAC_BYTES])
{
	memcpy(buf + len, cart->s, cart->len);
	buf[len + cart->len] = (uint8_t)cart->len;
	crypto_shorthash_siphashx24(mac, buf, len + cart->len + 1, sipkey);
}

/* Sealed bytes up to this size are built on the stack: a cart's context
 * is a few ranges, one per replica that wrote it, unless removes left holes. */
#define SEAL_STACK_BYTES 512u

int token_seal(const wire_keyring *ring, const crdt_id *cart, const crdt_ctx *c, char **out)
{
	return token_seal_in(ring, cart, c, NULL, 0, out);
}

int token_seal_in(const wire_keyring *ring, const crdt_id *cart, const crdt_ctx *c, char *room,
                  size_t room_len, char **out)
{
	*out = NULL;
	uint32_t key_id;
	const uint8_t *key = wire_keyring_token_mac_primary(ring, &key_id);
	size_t need = HEAD_BYTES + crdt_ctx_encoded_size(c) + TOKEN_MAC_BYTES;
	/* The MAC's input runs past the body by the cart id and its length,
	 * which the MAC then covers up. */
	size_t work = need - TOKEN_MAC_BYTES + MAC_TAIL_MAX;
	uint8_t stack[SEAL_STACK_BYTES];
	uint8_t *mem = work <= sizeof stack ? stack : malloc(work);
	if (!mem)
		return CARTD_ENOMEM;
	buf_writer w;
	buf_writer_fixed(&w, mem, need - TOKEN_MAC_BYTES);
	buf_put_u8(&w, TOKEN_VERSION);
	buf_put_u32le(&w, key_id);
	buf_put_u32le(&w, cart_tag(cart));
	crdt_encode_ctx(&w, c);
	/* crdt_ctx_encoded_size is exact (codec.h): the context fills its room. */
	int rc = w.err || w.len != need - TOKEN_MAC_BYTES ? CARTD_EINVAL : 0;
	char *s = NULL;
	if (rc == 0) {
		uint8_t mac[TOKEN_MAC_BYTES];
		compute_mac(key, cart, mem, w.len, mac);
		memcpy(mem + w.len, mac, sizeof mac);
		size_t chars = b64url_encoded_len(need);
		s = chars <= room_len ? room : malloc(chars);
		if (s)
			b64url_encode(s, mem, need);
		else
			rc = CARTD_ENOMEM;
	}
	if (mem != stack)
		free(mem);
	*out = s;
	return rc;
}

int token_check_text(const char *s, size_t len)
{
	if (len == 0 || len > TOKEN_MAX_CHARS)
		return CARTD_ETOKEN;
	/* libsodium 1.0.18 maps some bytes above 0x7f to base64 digits (found
	 * by fuzzing), so the alphabet is checked here first. */
	for (size_t i = 0; i < len; i++) {
		unsigned char ch = (unsigned char)s[i];
		bool digit = (ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') ||
		             (ch >= '0' && ch <= '9') || ch == '-' || ch == '_';
		if (!digit)
			return CARTD_ETOKEN;
	}
	return 0;
}

/* Checks the sealed bytes bin[0..len) for cart; the context's bytes are
 * bin[HEAD_BYTES .. len - TOKEN_MAC_BYTES).  bin has MAC_TAIL_MAX bytes of
 * room past len, and the MAC's bytes are overwritten. */
static int verify(const wire_keyring *ring, const crdt_id *cart, uint8_t *bin, size_t len)
{
	if (len < HEAD_BYTES + 1 + TOKEN_MAC_BYTES ||
	    (bin[0] != TOKEN_VERSION && bin[0] != VERSION_BLAKE2B))
		return CARTD_ETOKEN;
	uint32_t id = get_le32(bin + 1);
	const uint8_t *key = bin[0] == VERSION_BLAKE2B ? wire_keyring_token_find(ring, id)
	                                               : wire_keyring_token_mac_find(ring, id);
	if (key == NULL)
		return CARTD_ETOKENKEY;
	if (get_le32(bin + 5) != cart_tag(cart))
		return CARTD_ETOKENCART;
	uint8_t got[TOKEN_MAC_BYTES], want[TOKEN_MAC_BYTES];
	size_t body = len - TOKEN_MAC_BYTES;
	memcpy(got, bin + body, sizeof got);
	if (bin[0] == VERSION_BLAKE2B)
		compute_mac_v2(key, cart, bin, body, want);
	else
		compute_mac(key, cart, bin, body, want);
	int ok = sodium_memcmp(want, got, TOKEN_MAC_BYTES) == 0;
	sodium_memzero(want, sizeof want);
	return ok ? 0 : CARTD_ETOKENMAC;
}

int token_open(const wire_keyring *ring, const crdt_id *cart, const char *s, size_t len,
               crdt_ctx *out)
{
	crdt_ctx_destroy(out);
	int rc = token_check_text(s, len);
	if (rc)
		return rc;
	/* base64 never expands: len bytes of text decode to fewer bytes, and
	 * the MAC's input runs past them by up to MAC_TAIL_MAX. */
	uint8_t *bin = malloc(len + MAC_TAIL_MAX);
	if (!bin)
		return CARTD_ENOMEM;
	size_t bin_len = 0;
	const char *end = NULL;
	rc = CARTD_ETOKEN;
	/* No ignore set and end must reach the last character: whitespace,
	 * '=' padding or any stray byte makes the token invalid.  libsodium
	 * also refuses non-zero trailing bits, so the text is canonical. */
	if (sodium_base642bin(bin, len, s, len, NULL, &bin_len, &end, TOKEN_VARIANT) == 0 &&
	    end == s + len)
		rc = verify(ring, cart, bin, bin_len);
	if (rc == 0) {
		rc = crdt_ctx_from_bytes(bin + HEAD_BYTES, bin_len - HEAD_BYTES - TOKEN_MAC_BYTES, out);
		if (rc != 0 && rc != CARTD_ENOMEM)
			rc = CARTD_ETOKEN;
	}
	free(bin);
	return rc;
}

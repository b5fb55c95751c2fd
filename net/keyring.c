/*
 * keyring.c - parsing, formatting and generating keyring text.
 *
 * All keys of a ring share one sodium_malloc'd block, made read-only once
 * loaded so that a stray write faults instead of silently changing a key.
 */
#include "net/keyring.h"

#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "crdt/error.h"

#define B64_VARIANT sodium_base64_VARIANT_ORIGINAL
#define KEY_B64_LEN (sodium_base64_ENCODED_LEN(WIRE_KEY_BYTES, B64_VARIANT) - 1)

_Static_assert(WIRE_KEY_BYTES == crypto_aead_xchacha20poly1305_ietf_KEYBYTES,
	       "keyring keys are the AEAD keys");
_Static_assert(WIRE_KEY_LINE_MAX == KEY_B64_LEN + 2, "base64, newline, NUL");

static const char gen_comment[] =
	"# cartd keyring: one base64 key per line. The first key seals what this\n"
	"# peer sends; every key opens what it receives. 'token' lines hold the\n"
	"# keys of read tokens, likewise. Keep it secret (0600).\n";
static const char token_word[] = "token";
#define TOKEN_WORD_LEN (sizeof(token_word) - 1)

_Static_assert(sizeof(gen_comment) - 1 + 2 * WIRE_KEY_LINE_MAX + TOKEN_WORD_LEN + 1 <=
	       WIRE_KEYRING_TEXT_MAX, "generated keyring fits its advertised size");

/* Transport keys and token keys share one sodium_malloc'd block:
 * slots [0, WIRE_KEYRING_MAX) and [WIRE_KEYRING_MAX, 2 * WIRE_KEYRING_MAX). */
struct wire_keyring {
	size_t n, ntok;
	uint8_t *keys;
	uint32_t ids[WIRE_KEYRING_MAX];
	uint32_t tok_ids[WIRE_KEYRING_MAX];
};

static uint8_t *token_slot(const wire_keyring *ring, size_t i)
{
	return ring->keys + (WIRE_KEYRING_MAX + i) * WIRE_KEY_BYTES;
}

uint32_t wire_key_id(const uint8_t key[WIRE_KEY_BYTES])
{
	uint8_t h[crypto_generichash_BYTES];   /* BLAKE2b-256 */
	uint32_t id;

	crypto_generichash(h, sizeof(h), key, WIRE_KEY_BYTES, NULL, 0);
	id = (uint32_t)h[0] | (uint32_t)h[1] << 8 | (uint32_t)h[2] << 16 |
	     (uint32_t)h[3] << 24;
	sodium_memzero(h, sizeof(h));  /* a key's hash is key material too */
	return id;
}

static int is_blank(char c)
{
	return c == ' ' || c == '\t' || c == '\r';
}

/* Decodes one trimmed, non-comment line into key.  Only the exact padded
 * form of WIRE_KEY_BYTES bytes is accepted: anything else is more likely a
 * pasting accident than a key. */
static int decode_key(const char *p, size_t n, uint8_t *key)
{
	size_t got = 0;

	if (n != KEY_B64_LEN)
		return CARTD_EKEYRING;
	if (sodium_base642bin(key, WIRE_KEY_BYTES, p, n, NULL, &got, NULL,
			      B64_VARIANT) != 0 || got != WIRE_KEY_BYTES)
		return CARTD_EKEYRING;
	return 0;
}

/* Decodes the key at [p, p+n) into slot and appends its id to ids (of
 * *count), refusing a repeated key or id. */
static int add_key(uint8_t *slot, uint32_t *ids, size_t *count, const char *p, size_t n)
{
	if (*count == WIRE_KEYRING_MAX || decode_key(p, n, slot) != 0)
		return CARTD_EKEYRING;
	uint32_t id = wire_key_id(slot);
	for (size_t i = 0; i < *count; i++)
		if (ids[i] == id)   /* same key twice, or an id collision */
			return CARTD_EKEYRING;
	ids[(*count)++] = id;
	return 0;
}

/* Adds the key on line [p, p+n) to ring, unless the line is blank or a
 * comment: a transport key, or "token KEY". */
static int add_line(wire_keyring *ring, const char *p, size_t n)
{
	while (n > 0 && is_blank(*p))
		p++, n--;
	while (n > 0 && is_blank(p[n - 1]))
		n--;
	if (n == 0 || *p == '#')
		return 0;
	if (n > TOKEN_WORD_LEN && memcmp(p, token_word, TOKEN_WORD_LEN) == 0 &&
	    is_blank(p[TOKEN_WORD_LEN])) {
		p += TOKEN_WORD_LEN, n -= TOKEN_WORD_LEN;
		while (n > 0 && is_blank(*p))
			p++, n--;
		if (ring->ntok == WIRE_KEYRING_MAX)
			return CARTD_EKEYRING;
		return add_key(token_slot(ring, ring->ntok), ring->tok_ids, &ring->ntok, p, n);
	}
	if (ring->n == WIRE_KEYRING_MAX)
		return CARTD_EKEYRING;
	return add_key(ring->keys + ring->n * WIRE_KEY_BYTES, ring->ids, &ring->n, p, n);
}

/* A keyring written before token keys existed gets one per transport key,
 * derived from it (keyed BLAKE2b), so its peers still agree on token keys
 * and rotating the transport keys rotates them too. */
static int derive_token_keys(wire_keyring *ring)
{
	static const char label[] = "cartd token key v1";
	for (size_t i = 0; i < ring->n; i++) {
		uint8_t *slot = token_slot(ring, i);
		crypto_generichash(slot, WIRE_KEY_BYTES, (const unsigned char *)label,
		                   sizeof(label) - 1, ring->keys + i * WIRE_KEY_BYTES,
		                   WIRE_KEY_BYTES);
		ring->tok_ids[i] = wire_key_id(slot);
		for (size_t k = 0; k < i; k++)
			if (ring->tok_ids[k] == ring->tok_ids[i])
				return CARTD_EKEYRING;
	}
	ring->ntok = ring->n;
	return 0;
}

static int parse_lines(wire_keyring *ring, const char *text, size_t len)
{
	const char *p = text, *end = text + len;

	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *eol = nl != NULL ? nl : end;
		int rc = add_line(ring, p, (size_t)(eol - p));

		if (rc != 0)
			return rc;
		p = nl != NULL ? nl + 1 : end;
	}
	if (ring->n == 0)
		return CARTD_EKEYRING;
	return ring->ntok == 0 ? derive_token_keys(ring) : 0;
}

int wire_keyring_parse(const char *text, size_t len, wire_keyring **out)
{
	wire_keyring *ring;
	int rc;

	if (out == NULL)
		return CARTD_EINVAL;
	*out = NULL;
	if (text == NULL && len > 0)
		return CARTD_EINVAL;
	if (sodium_init() < 0)
		return CARTD_ECRYPTO;
	ring = calloc(1, sizeof(*ring));
	if (ring == NULL)
		return CARTD_ENOMEM;
	ring->keys = sodium_malloc(2 * WIRE_KEYRING_MAX * WIRE_KEY_BYTES);
	if (ring->keys == NULL) {
		free(ring);
		return CARTD_ENOMEM;
	}
	rc = len > 0 ? parse_lines(ring, text, len) : CARTD_EKEYRING;
	if (rc != 0) {
		wire_keyring_free(ring);
		return rc;
	}
	(void)sodium_mprotect_readonly(ring->keys);  /* hardening only; may be unsupported */
	*out = ring;
	return 0;
}

void wire_keyring_free(wire_keyring *ring)
{
	if (ring == NULL)
		return;
	sodium_free(ring->keys);   /* makes it writable again and wipes it */
	sodium_memzero(ring, sizeof(*ring));
	free(ring);
}

size_t wire_keyring_count(const wire_keyring *ring)
{
	return ring->n;
}

uint32_t wire_keyring_primary_id(const wire_keyring *ring)
{
	return ring->ids[0];
}

const uint8_t *wire_keyring_primary(const wire_keyring *ring, uint32_t *id)
{
	if (id != NULL)
		*id = ring->ids[0];
	return ring->keys;
}

const uint8_t *wire_keyring_find(const wire_keyring *ring, uint32_t id)
{
	for (size_t i = 0; i < ring->n; i++)
		if (ring->ids[i] == id)
			return ring->keys + i * WIRE_KEY_BYTES;
	return NULL;
}

size_t wire_keyring_token_count(const wire_keyring *ring)
{
	return ring->ntok;
}

const uint8_t *wire_keyring_token_primary(const wire_keyring *ring, uint32_t *id)
{
	if (id != NULL)
		*id = ring->tok_ids[0];
	return token_slot(ring, 0);
}

const uint8_t *wire_keyring_token_find(const wire_keyring *ring, uint32_t id)
{
	for (size_t i = 0; i < ring->ntok; i++)
		if (ring->tok_ids[i] == id)
			return token_slot(ring, i);
	return NULL;
}

int wire_key_format(const uint8_t key[WIRE_KEY_BYTES], char *out, size_t cap)
{
	if (cap < WIRE_KEY_LINE_MAX)
		return CARTD_ENOSPC;
	sodium_bin2base64(out, cap, key, WIRE_KEY_BYTES, B64_VARIANT);
	out[KEY_B64_LEN] = '\n';
	out[KEY_B64_LEN + 1] = '\0';
	return 0;
}

int wire_keyring_generate(char *out, size_t cap)
{
	uint8_t key[WIRE_KEY_BYTES];
	size_t n = sizeof(gen_comment) - 1;
	int rc;

	if (out == NULL || cap < WIRE_KEYRING_TEXT_MAX)
		return CARTD_ENOSPC;
	if (sodium_init() < 0)
		return CARTD_ECRYPTO;
	randombytes_buf(key, sizeof(key));
	memcpy(out, gen_comment, n);
	rc = wire_key_format(key, out + n, cap - n);
	n += WIRE_KEY_LINE_MAX - 1;
	if (rc == 0) {
		randombytes_buf(key, sizeof(key));
		memcpy(out + n, token_word, TOKEN_WORD_LEN);
		out[n + TOKEN_WORD_LEN] = ' ';
		n += TOKEN_WORD_LEN + 1;
		rc = wire_key_format(key, out + n, cap - n);
	}
	sodium_memzero(key, sizeof(key));
	return rc;
}

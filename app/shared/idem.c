/*
 * idem.c - parsing the Idempotency-Key header and deriving a keyed write's
 * record (idem.h has the grammar and the derivation).
 */
#include "app/shared/idem.h"

#include <sodium.h>
#include <string.h>

#include "crdt/buf.h"
#include "crdt/codec.h"
#include "crdt/error.h"

static bool is_ows(char c)
{
	return c == ' ' || c == '\t';
}

static bool is_bare(unsigned char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
	       (c != '\0' && strchr("._~:@/+=-", c) != NULL);
}

/* RFC 8941 3.3.3: between the quotes, printable ASCII; a backslash only
 * before '"' or '\'.  The string must end at the last byte. */
static int parse_sf_string(const char *s, size_t n, char *out, size_t *out_len)
{
	size_t o = 0;
	for (size_t i = 1; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c == '"') {
			*out_len = o;
			return i == n - 1 ? 0 : CARTD_EINVAL;   /* nothing may follow */
		}
		if (c < 0x20 || c > 0x7e)
			return CARTD_EINVAL;
		if (c == '\\') {
			if (++i == n || (s[i] != '"' && s[i] != '\\'))
				return CARTD_EINVAL;
			c = (unsigned char)s[i];
		}
		if (o == IDEM_KEY_MAX)
			return CARTD_EINVAL;
		out[o++] = (char)c;
	}
	return CARTD_EINVAL;   /* no closing quote */
}

int idem_parse(const char *v, size_t len, char *out, size_t *out_len)
{
	*out_len = 0;
	if (!v)
		return CARTD_EINVAL;
	while (len > 0 && is_ows(v[0]))
		v++, len--;
	while (len > 0 && is_ows(v[len - 1]))
		len--;
	size_t n = 0;
	int rc = CARTD_EINVAL;
	if (len >= 2 && v[0] == '"') {
		rc = parse_sf_string(v, len, out, &n);
	} else if (len >= 1 && len <= IDEM_KEY_MAX) {
		rc = 0;
		for (size_t i = 0; i < len && rc == 0; i++)
			rc = is_bare((unsigned char)v[i]) ? 0 : CARTD_EINVAL;
		if (rc == 0)
			memcpy(out, v, len);
		n = len;
	}
	if (rc != 0 || n == 0)
		return CARTD_EINVAL;
	*out_len = n;
	return 0;
}

static void put_part(crypto_generichash_state *st, const void *p, size_t n)
{
	uint8_t len[4];
	for (int i = 0; i < 4; i++)
		len[i] = (uint8_t)((uint32_t)n >> (8 * i));
	crypto_generichash_update(st, len, sizeof len);
	crypto_generichash_update(st, p, n);
}

static uint64_t le64(const uint8_t *p)
{
	uint64_t v = 0;
	for (int i = 0; i < 8; i++)
		v |= (uint64_t)p[i] << (8 * i);
	return v;
}

/* The request's own fields, the same at every peer: the cart's state is
 * not among them, so an attempt gets the same dot wherever it lands. */
static int hash_request(crypto_generichash_state *st, const crdt_op *op)
{
	bool has_sku = op->kind == CRDT_OP_ADD || op->kind == CRDT_OP_SET ||
	               op->kind == CRDT_OP_REMOVE;
	bool has_qty = op->kind == CRDT_OP_ADD || op->kind == CRDT_OP_SET;
	uint8_t kind = (uint8_t)op->kind, qty[4];
	uint32_t q = has_qty ? op->qty : 0;
	for (int i = 0; i < 4; i++)
		qty[i] = (uint8_t)(q >> (8 * i));
	crypto_generichash_update(st, &kind, 1);
	put_part(st, has_sku ? op->sku : "", has_sku ? op->sku_len : 0);
	crypto_generichash_update(st, qty, sizeof qty);
	if (!op->observed)
		return 0;
	buf_writer w;
	buf_writer_init(&w);
	crdt_encode_ctx(&w, op->observed);
	int rc = w.err ? CARTD_ENOMEM : 0;
	if (rc == 0)
		crypto_generichash_update(st, w.data, w.len);
	buf_writer_destroy(&w);
	return rc;
}

int idem_record(const char *cart, size_t cart_len, const char *key, size_t key_len,
                const crdt_op *op, uint64_t now_ms, uint64_t window_ms, crdt_keyrec *out)
{
	memset(out, 0, sizeof *out);
	if (key_len == 0 || key_len > IDEM_KEY_MAX || op->kind > CRDT_OP_CLOSE ||
	    now_ms > UINT64_MAX - window_ms)
		return CARTD_EINVAL;
	uint8_t h[16];
	crypto_generichash_state st;
	/* The labels are keys of BLAKE2b: the two hashes never meet. */
	crypto_generichash(out->hash, sizeof out->hash, (const uint8_t *)key, key_len,
	                   (const uint8_t *)IDEM_HASH_LABEL, strlen(IDEM_HASH_LABEL));
	crypto_generichash_init(&st, (const uint8_t *)IDEM_DOT_LABEL, strlen(IDEM_DOT_LABEL),
	                        sizeof h);
	put_part(&st, cart, cart_len);
	put_part(&st, key, key_len);
	int rc = hash_request(&st, op);
	crypto_generichash_final(&st, h, sizeof h);
	if (rc != 0) {
		memset(out, 0, sizeof *out);
		return rc;
	}
	uint64_t replica = le64(h);
	out->dot.replica = replica ? replica : 1;   /* 0 names no replica */
	out->dot.counter = 1 + le64(h + 8) % CRDT_MAX_COUNTER;
	out->at_ms = now_ms;
	out->until_ms = now_ms + window_ms;
	return 0;
}

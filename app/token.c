/*
 * token.c - context tokens: base64url of the canonical context encoding.
 */
#include "app/token.h"

#include <sodium.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>

#include "crdt/buf.h"
#include "crdt/codec.h"
#include "crdt/error.h"

#define TOKEN_VARIANT sodium_base64_VARIANT_URLSAFE_NO_PADDING

int token_encode(const crdt_ctx *c, char **out)
{
	*out = NULL;
	buf_writer w;
	buf_writer_init(&w);
	crdt_encode_ctx(&w, c);
	if (w.err) {
		buf_writer_destroy(&w);
		return CARTD_ENOMEM;
	}
	size_t cap = sodium_base64_encoded_len(w.len, TOKEN_VARIANT);
	char *s = malloc(cap);
	if (s)
		sodium_bin2base64(s, cap, w.data, w.len, TOKEN_VARIANT);
	buf_writer_destroy(&w);
	*out = s;
	return s ? 0 : CARTD_ENOMEM;
}

int token_decode(const char *s, size_t len, crdt_ctx *out)
{
	crdt_ctx_destroy(out);
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
	/* base64 never expands: len bytes of text decode to fewer bytes. */
	uint8_t *bin = malloc(len);
	if (!bin)
		return CARTD_ENOMEM;
	size_t bin_len = 0;
	const char *end = NULL;
	int rc = CARTD_ETOKEN;
	/* No ignore set and end must reach the last character: whitespace,
	 * '=' padding or any stray byte makes the token invalid.  libsodium
	 * also refuses non-zero trailing bits, so the text is canonical. */
	if (sodium_base642bin(bin, len, s, len, NULL, &bin_len, &end, TOKEN_VARIANT) == 0 &&
	    end == s + len) {
		rc = crdt_ctx_from_bytes(bin, bin_len, out);
		if (rc != 0 && rc != CARTD_ENOMEM)
			rc = CARTD_ETOKEN;
	}
	free(bin);
	return rc;
}

/*
 * token.h - the opaque context token a client gets with every cart read and
 * may hand back to DELETE, so that a remove or clear takes away only what
 * the client saw (DESIGN.md section 3, docs/api.md "Context tokens").
 *
 * A token is the URL-safe base64, without padding, of the canonical
 * encoding of a cart's causal context (crdt_encode_ctx).  It is safe in a
 * path, a query string and JSON without escaping.  Decoding is strict: the
 * alphabet, the absence of padding and trailing characters, and the
 * canonical context encoding are all checked, so one context has exactly
 * one token.
 */
#ifndef APP_TOKEN_H
#define APP_TOKEN_H

#include <stddef.h>

#include "crdt/context.h"

/* Longest token accepted (characters): bounds the work a request can ask
 * for before anything is allocated. */
#define TOKEN_MAX_CHARS ((size_t)48 << 10)

/*
 * Encodes c as a NUL-terminated token in a new heap string (*out, the
 * caller frees it).  0 or CARTD_ENOMEM (*out = NULL).
 */
int token_encode(const crdt_ctx *c, char **out);

/*
 * Decodes len characters of s (need not be NUL-terminated) into out, which
 * must be initialised and is replaced.  0, CARTD_ETOKEN (empty, too long,
 * not base64url, padded, or not a canonical context) or CARTD_ENOMEM; on
 * error out is empty.
 */
int token_decode(const char *s, size_t len, crdt_ctx *out);

#endif

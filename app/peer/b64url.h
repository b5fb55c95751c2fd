/*
 * b64url.h - the URL-safe base64 alphabet without padding (RFC 4648
 * section 5), encoding only: what a context token is written in.
 *
 * The output is byte for byte libsodium's sodium_bin2base64 with
 * sodium_base64_VARIANT_URLSAFE_NO_PADDING, which still decodes tokens
 * (strictly: token.c).  libsodium's encoder runs in constant time, for
 * secrets; a token holds none (its cart is the client's to read, and its
 * MAC is public once issued), and that encoder took a quarter of a
 * token's cost, which every add answer pays.
 */
#ifndef APP_B64URL_H
#define APP_B64URL_H

#include <stddef.h>
#include <stdint.h>

/* Characters of n encoded bytes, plus 1 for the NUL. */
size_t b64url_encoded_len(size_t n);

/* Writes the encoding of in[0..n) and a NUL to out, which must hold
 * b64url_encoded_len(n) bytes. */
void b64url_encode(char *out, const uint8_t *in, size_t n);

#endif

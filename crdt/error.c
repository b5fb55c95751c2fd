/*
 * error.c - names and descriptions of cartd's error codes, and the detail
 * helper (see error.h).
 */
#include "crdt/error.h"

#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

struct err_desc {
	int code;
	const char *name;
	const char *text;
};

static const struct err_desc descs[] = {
	{ CARTD_OK, "ok", "success" },
	{ CARTD_ENOMEM, "nomem", "out of memory" },
	{ CARTD_EINVAL, "inval", "invalid argument" },
	{ CARTD_ENOSPC, "nospc", "no space left in buffer or queue" },
	{ CARTD_ENOTFOUND, "notfound", "not found" },
	{ CARTD_EID, "bad_id", "cart id must be 1..128 bytes of [A-Za-z0-9._~:@-]" },
	{ CARTD_ESKU, "bad_sku", "sku must be 1..128 bytes of [A-Za-z0-9._~:@-]" },
	{ CARTD_EQTY, "bad_qty", "quantity must be an integer in 1..1000000" },
	{ CARTD_ELINES, "too_many_lines", "cart already holds the maximum number of lines" },
	{ CARTD_ECOUNTER, "counter", "dot counter exhausted for this cart" },
	{ CARTD_ELINEFULL, "line_full", "line holds the most entries a line may; set its quantity instead of adding" },
	{ CARTD_ETOKENFUTURE, "token_future", "token names writes this peer never made; read the cart again" },
	{ CARTD_EKEYREUSED, "idempotency_key_reused", "this Idempotency-Key was used for another request on this cart" },
	{ CARTD_ECLOSED, "cart_closed", "the cart is checked out; it takes no more writes" },
	{ CARTD_ETOKENAHEAD, "token_ahead", "token covers writes this peer has not received yet; retry shortly" },
	{ CARTD_EIDEMPOTENT, "replayed", "write already made under this Idempotency-Key" },
	{ CARTD_EEMPTYCART, "cart_empty", "nothing to check out: the cart (as the token saw it) is empty" },
	{ CARTD_ETRUNC, "truncated", "input ends early" },
	{ CARTD_EVARINT, "varint", "overlong or out-of-range varint" },
	{ CARTD_EORDER, "order", "entries unsorted or duplicated" },
	{ CARTD_ENONCANON, "noncanonical", "input is not in canonical form" },
	{ CARTD_ELIMIT, "limit", "a count exceeds its limit" },
	{ CARTD_ETRAILING, "trailing", "unexpected bytes after the value" },
	{ CARTD_EBADVALUE, "bad_value", "a field holds an impossible value" },
	{ CARTD_ETOKEN, "bad_token", "context token is malformed" },
	{ CARTD_EHEADER, "header", "bad datagram header" },
	{ CARTD_EKEY, "key", "no usable key" },
	{ CARTD_EAUTH, "auth", "authentication failed" },
	{ CARTD_EREPLAY, "replay", "replayed or stale datagram" },
	{ CARTD_EOVERSIZE, "oversize", "datagram or payload too large" },
	{ CARTD_EINFLATE, "inflate", "payload does not inflate within its cap" },
	{ CARTD_EDECODE, "decode", "payload fails to parse" },
	{ CARTD_ECLUSTER, "cluster", "datagram from another cluster" },
	{ CARTD_EKEYRING, "keyring", "keyring malformed" },
	{ CARTD_ESELF, "self", "datagram claims our own sender id" },
	{ CARTD_ECRYPTO, "crypto", "crypto library failed to initialise" },
	{ CARTD_EVERSION, "version", "peer speaks another protocol version" },
	{ CARTD_ECERT, "cert", "certificate not signed by a trusted cluster key" },
	{ CARTD_EREVOKED, "revoked", "peer is on the revocation list" },
	{ CARTD_ESESSION, "session", "no session with this peer yet" },
	{ CARTD_EEPOCH, "epoch", "boot epoch stale, regressed or jumping too far" },
	{ CARTD_EJUMP, "seq_jump", "sequence jumps too far" },
	{ CARTD_ERECEIVER, "receiver", "datagram addressed to another peer" },
	{ CARTD_EUNVERIFIED, "unverified", "address not verified and its byte credit spent" },
	{ CARTD_ESTORAGE, "storage", "storage error" },
	{ CARTD_ECONFIG, "config", "invalid configuration" },
	{ CARTD_EDATADIR, "datadir", "data directory unusable" },
	{ CARTD_ESHUTDOWN, "shutdown", "shutting down" },
	{ CARTD_ETOKENCART, "token_wrong_cart", "token was issued for another cart" },
	{ CARTD_ETOKENKEY, "token_unknown_key", "token was sealed under a key this peer no longer has; read the cart again" },
	{ CARTD_ETOKENMAC, "token_forged", "token fails authentication: it was edited or forged" },
};

static const struct err_desc *find(int rc)
{
	for (size_t i = 0; i < sizeof descs / sizeof descs[0]; i++)
		if (descs[i].code == rc)
			return &descs[i];
	return NULL;
}

const char *cartd_strerror(int rc)
{
	const struct err_desc *d = find(rc);
	if (d)
		return d->text;
	if (rc < 0 && rc > CARTD_ERR_BASE)
		return strerror(-rc);
	return "unknown error";
}

const char *cartd_errname(int rc)
{
	const struct err_desc *d = find(rc);
	return d ? d->name : "unknown";
}

void cartd_errmsg(char *err, size_t errlen, const char *fmt, ...)
{
	if (err == NULL || errlen == 0)
		return;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

/*
 * error.h - the one error convention of cartd.
 *
 * Every function that can fail returns int: 0 on success, a negative code on
 * failure, results through out parameters.  Project codes live in a reserved
 * range (CARTD_ERR_BASE and below) so they never collide with -errno values,
 * which system-facing code may also return.  cartd_strerror() names both.
 *
 * Detail: a call that has more to say than its code (which file, which
 * line, what the system said) takes `char *err, size_t errlen` as its last
 * two parameters.  err may be NULL; on failure it receives one line with
 * no newline, truncated to fit; on success it is left alone.  That is the
 * only form in synchronous calls.  A failure that happens on another
 * thread, with no call to hand it to, is kept by the object that owns the
 * thread and read with a *_last_error(handle, err, errlen) call filling
 * the same kind of buffer (the committer's, app/peer/committer.h).
 * Decoders of received datagrams also name the field that failed, as an
 * enum (net/reject.h): that is for counters and drop logs, not people.
 *
 * Codes are grouped by layer; each layer appends to its own block only, so a
 * code's number never changes once released (they appear in logs and metrics).
 */
#ifndef CARTD_ERROR_H
#define CARTD_ERROR_H

#include <stddef.h>

enum cartd_err {
	CARTD_OK = 0,
	CARTD_ERR_BASE = -30000,

	/* general (-30000 .. -30019) */
	CARTD_ENOMEM = CARTD_ERR_BASE,   /* allocation failed */
	CARTD_EINVAL = -30001,           /* argument outside its contract */
	CARTD_ENOSPC = -30002,           /* output buffer too small */
	CARTD_ENOTFOUND = -30003,        /* no such item */

	/* crdt/ limits and codec (-30020 .. -30099) */
	CARTD_EID = -30020,              /* cart id: bad length or character */
	CARTD_ESKU = -30021,             /* sku: bad length or character */
	CARTD_EQTY = -30022,             /* quantity outside 1..CRDT_MAX_QTY */
	CARTD_ELINES = -30023,           /* cart already has CRDT_MAX_LINES lines */
	CARTD_ECOUNTER = -30024,         /* dot counter would exceed its maximum */
	CARTD_ELINEFULL = -30025,        /* line holds CRDT_MAX_LINE_ENTRIES entries: set it */
	CARTD_ETOKENFUTURE = -30026,     /* token names this replica's dots it never made */
	CARTD_EKEYREUSED = -30027,       /* idempotency key already used for another request */
	CARTD_ECLOSED = -30028,          /* cart checked out: writes refused */
	CARTD_ETOKENAHEAD = -30029,      /* token covers writes this replica has not received */
	CARTD_ETRUNC = -30030,           /* input ends before the value it promised */
	CARTD_EVARINT = -30031,          /* varint overlong or out of range */
	CARTD_EORDER = -30032,           /* entries unsorted or duplicated */
	CARTD_ENONCANON = -30033,        /* decodable but not the canonical form */
	CARTD_ELIMIT = -30034,           /* a count exceeds its decode limit */
	CARTD_ETRAILING = -30035,        /* bytes left after a complete value */
	CARTD_EBADVALUE = -30036,        /* a field holds an impossible value */
	CARTD_ETOKEN = -30037,           /* context token malformed */
	CARTD_EIDEMPOTENT = -30038,      /* write already made under this key: a replay */
	CARTD_EEMPTYCART = -30039,       /* checkout of a cart with nothing in it */

	/* net/ wire and engine (-30100 .. -30199) */
	CARTD_EHEADER = -30100,          /* datagram too short, bad magic/version/type */
	CARTD_EKEY = -30101,             /* key id not in the keyring */
	CARTD_EAUTH = -30102,            /* authentication failed */
	CARTD_EREPLAY = -30103,          /* sequence already seen or too old */
	CARTD_EOVERSIZE = -30104,        /* datagram or payload over its cap */
	CARTD_EINFLATE = -30105,         /* payload does not inflate within the cap */
	CARTD_EDECODE = -30106,          /* authenticated payload fails to parse */
	CARTD_ECLUSTER = -30107,         /* cluster tag differs */
	CARTD_EKEYRING = -30108,         /* keyring file malformed */
	CARTD_ESELF = -30109,            /* datagram claims to come from us */
	CARTD_ECRYPTO = -30110,          /* libsodium failed to initialise */
	CARTD_EVERSION = -30111,         /* another protocol version */
	CARTD_ECERT = -30112,            /* certificate not signed by a trusted cluster key */
	CARTD_EREVOKED = -30113,         /* peer id on the revocation list */
	CARTD_ESESSION = -30114,         /* no session with this sender (handshake first) */
	CARTD_EEPOCH = -30115,           /* boot epoch stale, regressed or jumping too far */
	CARTD_EJUMP = -30116,            /* sequence jumps beyond the bound */
	CARTD_ERECEIVER = -30117,        /* datagram addressed to another peer */
	CARTD_EUNVERIFIED = -30118,      /* not sent: address unverified, its credit spent */

	/* app/ (-30200 .. -30299) */
	CARTD_ESTORAGE = -30200,         /* LMDB reported an error */
	CARTD_ECONFIG = -30201,          /* bad command-line option or setting */
	CARTD_EDATADIR = -30202,         /* data dir unusable or from another layout */
	CARTD_ESHUTDOWN = -30203,        /* refused: the peer is shutting down */
	CARTD_ETOKENCART = -30204,       /* token was issued for another cart */
	CARTD_ETOKENKEY = -30205,        /* token sealed under a key not in the keyring */
	CARTD_ETOKENMAC = -30206,        /* token fails authentication: edited or forged */
};

/*
 * Returns a static, human-readable description of rc: a project code, a
 * negative errno value, or 0.  Never NULL.
 */
const char *cartd_strerror(int rc);

/* Returns a short stable symbol for rc ("auth", "replay", ...), for metrics
 * labels and log keys.  Never NULL; "unknown" for unlisted codes. */
const char *cartd_errname(int rc);

/* Writes the formatted one-line message into err (NULL-safe, truncates to
 * errlen, does nothing when errlen is 0): the detail convention above. */
void cartd_errmsg(char *err, size_t errlen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

#endif

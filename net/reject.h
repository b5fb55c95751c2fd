/*
 * reject.h - why the engine refused an authentic datagram: a bounded,
 * enumerated reason made of the message and the field that failed.
 *
 * A reason is a (row, field) pair.  Row 0 is the datagram as a whole
 * (unknown message type, sender id 0); rows 1..REJECT_ROWS-1 are the message
 * types of net/msg.h.  Only the pairs reject_valid() accepts can occur; each
 * has a stable name "<message>_<field>" (e.g. "ae_groups_range"), used as a
 * metrics label and in logs, and listed in docs/protocol.md.  The set is
 * fixed at compile time, so label cardinality is bounded.
 *
 * Pure tables: no state, no I/O.
 */
#ifndef NET_REJECT_H
#define NET_REJECT_H

#include <stdbool.h>
#include <stddef.h>

#define REJECT_ROWS 11u             /* row 0 + message types 1..10 */

enum reject_field {
	REJECT_F_NONE = 0,
	REJECT_F_TYPE,          /* message type not one the engine knows */
	REJECT_F_SENDER,        /* sender id 0 in the header */
	REJECT_F_TRUNCATED,     /* the payload ends inside a field */
	REJECT_F_TRAILING,      /* bytes left after the last field */
	REJECT_F_COUNT,         /* item count 0, over its limit or the bytes left */
	REJECT_F_HOPS,          /* DELTA hops over MSG_MAX_HOPS */
	REJECT_F_ID,            /* cart id: length or characters */
	REJECT_F_CART,          /* cart encoding (crdt/codec.h) */
	REJECT_F_ADDR,          /* address length over ENGINE_ADDR_MAX */
	REJECT_F_MEMBER_ID,     /* member id 0 */
	REJECT_F_STATE,         /* member state not 0..2 */
	REJECT_F_INCARNATION,   /* incarnation over MSG_INCARNATION_MAX */
	REJECT_F_NBUCKETS,      /* bucket count outside 1..CRDT_MAX_BUCKETS */
	REJECT_F_LAYOUT,        /* bucket count differs from ours (--buckets) */
	REJECT_F_RANGE,         /* first + count past the groups or buckets */
	REJECT_F_BUCKET,        /* bucket index not below the bucket count */
	REJECT_F_FLAGS,         /* unknown flag bits */
	REJECT_F_DIFFERING,     /* more differing groups than there are groups */
	REJECT_NFIELDS
};

/* Row names: "datagram", "delta", "ping", ... ; NULL past the last row. */
const char *reject_row_name(unsigned row);
/* Field names: "type", "sender", "truncated", ... ; NULL when out of range. */
const char *reject_field_name(unsigned field);
/* Can (row, field) occur?  False for anything out of range. */
bool reject_valid(unsigned row, unsigned field);
/* Writes "<row>_<field>" into buf (NUL-terminated, truncated to fit cap);
 * "invalid" when (row, field) is not valid.  Returns buf. */
char *reject_name(unsigned row, unsigned field, char *buf, size_t cap);
/* The row of a message type: the type itself when it is one of the
 * engine's, else 0. */
unsigned reject_row_of_type(unsigned type);

#endif

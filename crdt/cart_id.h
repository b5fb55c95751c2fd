/*
 * cart_id.h - a cart id checked once, where it enters, and hashed with it.
 *
 * Cart ids reach a peer from HTTP paths, datagrams and records read back
 * from disk.  Each of those edges turns the bytes into a crdt_id with
 * crdt_id_make, which applies the name rule (crdt_check_id) and computes
 * the id's hash (crdt_name_hash).  The layers inside take a crdt_id and
 * neither check nor hash again: the store's keyed calls, the engine's
 * writes, the node, the committer and the log.  A crdt_id therefore means
 * "these bytes passed the rule, and this is their hash".  Code that keeps
 * the bytes of one (a pending write, a queued record, a set of dirty
 * carts) rebuilds it with crdt_id_of, from the hash it kept or by hashing
 * the bytes again, never from bytes of unknown origin.
 */
#ifndef CRDT_CART_ID_H
#define CRDT_CART_ID_H

#include <stddef.h>
#include <stdint.h>

typedef struct crdt_id {
	const char *s;   /* len bytes, borrowed; not NUL-terminated */
	size_t len;      /* 1..CRDT_MAX_NAME */
	uint64_t hash;   /* crdt_name_hash(s, len) */
} crdt_id;

/* Checks s (crdt_check_id) and hashes it: 0 and *id set (borrowing s), or
 * CARTD_EID with *id untouched. */
int crdt_id_make(crdt_id *id, const char *s, size_t len);

/* The crdt_id of bytes and hash kept from one that crdt_id_make made. */
static inline crdt_id crdt_id_of(const char *s, size_t len, uint64_t hash)
{
	return (crdt_id){ s, len, hash };
}

#endif

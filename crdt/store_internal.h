/*
 * store_internal.h - the store's node arena and hash table, shared by
 * store.c (the API, digests, buckets) and store_table.c.  Not part of the
 * API.
 *
 * A node holds one cart by value, its digest and digest state, its
 * digest-bucket list link and its id inline.  Carts are never deleted, so nodes are carved from
 * large blocks with a bump pointer instead of one malloc each: no per-node
 * allocator header or size-class rounding, and a node is named by a 32-bit
 * reference (block, offset) instead of a 64-bit pointer.  Blocks never move,
 * so a node's address is stable for the store's lifetime.
 *
 * The table is open addressing with linear probing over a power-of-two
 * array of 64-bit slots, each (32-bit id hash << 32 | node reference), so
 * a probe compares hashes without touching the node; 0 is an empty slot.
 */
#ifndef CRDT_STORE_INTERNAL_H
#define CRDT_STORE_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "crdt/cart.h"

/* Node reference: 1 + (block << STORE_BLOCK_SHIFT | unit); 0 = none. */
typedef uint32_t store_ref;

/* Digest states (store.c): a node whose cart changed since its digest was
 * computed is DIRTY, and is on the store's dirty list; SETTLED_LISTED is a
 * node settled alone (crdt_store_digest) that is still on that list. */
enum { STORE_CLEAN, STORE_DIRTY, STORE_SETTLED_LISTED };

typedef struct store_node {
	store_ref next;             /* next cart of the same digest bucket */
	uint8_t id_len;             /* 1..CRDT_MAX_NAME */
	uint8_t state;              /* STORE_CLEAN etc. */
	uint16_t bucket;            /* digest bucket, < CRDT_MAX_BUCKETS */
	uint64_t digest;            /* as included in its bucket's digest */
	uint64_t sum;               /* store_cart_sum of cart (store_digest.h) */
	crdt_cart cart;
	char id[];                  /* id_len bytes and a NUL */
} store_node;

typedef struct store_table {
	uint64_t *slots;            /* mask + 1 slots */
	uint32_t mask;
	size_t count;               /* nodes in the table */
	uint64_t **blocks;          /* node memory, in 8-byte units */
	uint32_t nblocks, blocks_cap;
	uint32_t used;              /* units used in the last block */
} store_table;

/* Empty table.  0 or CARTD_ENOMEM. */
int store_table_init(store_table *t);
/* Destroys every stored cart and frees all memory.  NULL-safe. */
void store_table_destroy(store_table *t);

static inline store_node *store_node_at(const store_table *t, store_ref r);

/* Fetches into the cache, without waiting, what a find of hash h will
 * read: stage 0 its slot, stage 1 (once the slot is in) the node, stage 2
 * (once the node is in) the middle of its cart's lines. */
void store_table_prefetch(const store_table *t, uint32_t h, unsigned stage);
/* The node of id (h = its 32-bit hash), or 0. */
store_ref store_table_find(const store_table *t, uint32_t h, const char *id, size_t len);
/* Grows the table if needed so that one more insert keeps the load <= 0.7.
 * 0 or CARTD_ENOMEM (table unchanged). */
int store_table_reserve(store_table *t);
/* Inserts node r under hash h; the id must be absent and room reserved. */
void store_table_insert(store_table *t, uint32_t h, store_ref r);

/* A new node for id (1..CRDT_MAX_NAME valid bytes) with an empty cart, not
 * yet in the table.  0 or CARTD_ENOMEM. */
int store_node_new(store_table *t, const char *id, size_t len, store_ref *out);
/* Undoes the latest store_node_new (destroying its cart), for an insert
 * that failed after the node was made. */
void store_node_drop(store_table *t, store_ref r);

#define STORE_BLOCK_SHIFT 13u   /* 8192 units of 8 bytes: 64 KiB blocks */
#define STORE_BLOCK_UNITS (1u << STORE_BLOCK_SHIFT)

static inline store_node *store_node_at(const store_table *t, store_ref r)
{
	uint32_t x = r - 1;
	return (store_node *)(t->blocks[x >> STORE_BLOCK_SHIFT] +
	                      (x & (STORE_BLOCK_UNITS - 1)));
}

#endif

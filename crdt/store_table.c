/*
 * store_table.c - the store's node arena and open-addressing hash table
 * (see store_internal.h for the layout and why).
 *
 * With no deletions there are no tombstones: a probe stops at the first
 * empty slot, and growth by doubling reinserts from the slots alone, since
 * each slot carries the hash it was placed by.
 */
#include "crdt/store_internal.h"

#include <stdlib.h>
#include <string.h>

#include "crdt/error.h"

#define MIN_SLOTS 16u
#define MAX_SLOTS (UINT32_C(1) << 31)
/* References are 32 bits (and never 0): just under 2^19 blocks of
 * 64 KiB, 32 GiB of nodes. */
#define MAX_BLOCKS ((UINT32_C(1) << (32 - STORE_BLOCK_SHIFT)) - 1)
#define UNIT sizeof(uint64_t)

_Static_assert(_Alignof(store_node) <= UNIT, "a unit must align a node");
_Static_assert(CRDT_MAX_NAME <= UINT8_MAX, "id_len is one byte");

static inline uint32_t slot_ref(uint64_t slot) { return (uint32_t)slot; }
static inline uint32_t slot_hash(uint64_t slot) { return (uint32_t)(slot >> 32); }

int store_table_init(store_table *t)
{
	memset(t, 0, sizeof(*t));
	t->slots = calloc(MIN_SLOTS, sizeof(*t->slots));
	if (t->slots == NULL)
		return CARTD_ENOMEM;
	t->mask = MIN_SLOTS - 1;
	return 0;
}

void store_table_destroy(store_table *t)
{
	if (t == NULL)
		return;
	/* Every live node sits in exactly one slot; dropped nodes were
	 * destroyed when dropped. */
	for (size_t i = 0; t->slots != NULL && i <= t->mask; i++)
		if (t->slots[i] != 0)
			crdt_cart_destroy(&store_node_at(t, slot_ref(t->slots[i]))->cart);
	for (uint32_t b = 0; b < t->nblocks; b++)
		free(t->blocks[b]);
	free(t->blocks);
	free(t->slots);
	memset(t, 0, sizeof(*t));
}

void store_table_prefetch(const store_table *t, uint32_t h, unsigned stage)
{
	const uint64_t *slot = &t->slots[h & t->mask];
	if (stage == 0) {
		__builtin_prefetch(slot);
		return;
	}
	uint64_t v = *slot;
	if (v == 0 || slot_hash(v) != h)
		return;   /* only the first probe's node is worth fetching */
	const store_node *n = store_node_at(t, slot_ref(v));
	if (stage == 1) {
		__builtin_prefetch(n);
		__builtin_prefetch((const char *)n + 64);
	} else if (n->cart.n > 0) {
		/* where a search of the cart's lines begins (cart_find_index) */
		__builtin_prefetch(&n->cart.lines[n->cart.n / 2]);
	}
}

store_ref store_table_find(const store_table *t, uint32_t h, const char *id, size_t len)
{
	uint32_t i = h & t->mask;

	for (;;) {
		uint64_t slot = t->slots[i];
		if (slot == 0)
			return 0;
		if (slot_hash(slot) == h) {
			const store_node *n = store_node_at(t, slot_ref(slot));
			if (n->id_len == len && memcmp(n->id, id, len) == 0)
				return slot_ref(slot);
		}
		i = (i + 1) & t->mask;
	}
}

/* Places a slot in an array known to have room and not to hold its id. */
static void place(uint64_t *slots, uint32_t mask, uint64_t slot)
{
	uint32_t i = slot_hash(slot) & mask;
	while (slots[i] != 0)
		i = (i + 1) & mask;
	slots[i] = slot;
}

int store_table_reserve(store_table *t)
{
	size_t nslots = (size_t)t->mask + 1;

	if ((t->count + 1) * 10 <= nslots * 7)
		return 0;
	if (nslots >= MAX_SLOTS)
		return CARTD_ENOMEM;
	uint64_t *grown = calloc(nslots * 2, sizeof(*grown));
	if (grown == NULL)
		return CARTD_ENOMEM;
	for (size_t i = 0; i < nslots; i++)
		if (t->slots[i] != 0)
			place(grown, (uint32_t)(nslots * 2 - 1), t->slots[i]);
	free(t->slots);
	t->slots = grown;
	t->mask = (uint32_t)(nslots * 2 - 1);
	return 0;
}

void store_table_insert(store_table *t, uint32_t h, store_ref r)
{
	place(t->slots, t->mask, (uint64_t)h << 32 | r);
	t->count++;
}

/* Starts a new block.  0 or CARTD_ENOMEM (nothing changed). */
static int add_block(store_table *t)
{
	if (t->nblocks == MAX_BLOCKS)
		return CARTD_ENOMEM;
	if (t->nblocks == t->blocks_cap) {
		uint32_t cap = t->blocks_cap ? t->blocks_cap * 2 : 8;
		uint64_t **b = realloc(t->blocks, cap * sizeof(*b));
		if (b == NULL)
			return CARTD_ENOMEM;
		t->blocks = b;
		t->blocks_cap = cap;
	}
	uint64_t *blk = malloc(STORE_BLOCK_UNITS * UNIT);
	if (blk == NULL)
		return CARTD_ENOMEM;
	t->blocks[t->nblocks++] = blk;
	t->used = 0;
	return 0;
}

static uint32_t node_units(size_t len)
{
	return (uint32_t)((offsetof(store_node, id) + len + 1 + UNIT - 1) / UNIT);
}

int store_node_new(store_table *t, const char *id, size_t len, store_ref *out)
{
	uint32_t units = node_units(len);

	if (t->nblocks == 0 || t->used + units > STORE_BLOCK_UNITS) {
		int rc = add_block(t);
		if (rc != 0)
			return rc;
	}
	/* The block's tail that did not fit this node stays unused: at most
	 * one largest node per 64 KiB. */
	*out = 1 + ((t->nblocks - 1) << STORE_BLOCK_SHIFT | t->used);
	t->used += units;
	store_node *n = store_node_at(t, *out);
	n->next = 0;
	n->id_len = (uint8_t)len;
	n->state = STORE_CLEAN;
	n->bucket = 0;
	n->digest = 0;
	n->sum = 0;
	crdt_cart_init(&n->cart);
	memcpy(n->id, id, len);
	n->id[len] = '\0';
	return 0;
}

void store_node_drop(store_table *t, store_ref r)
{
	store_node *n = store_node_at(t, r);
	crdt_cart_destroy(&n->cart);
	t->used -= node_units(n->id_len);
}

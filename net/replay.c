/*
 * replay.c - bounded table of per-(sender, boot epoch) replay windows.
 *
 * Entries live in one array allocated up front.  A chained hash (indices,
 * not pointers) finds a sender; an intrusive doubly linked list orders
 * entries by last acceptance so the table can forget the stalest sender in
 * O(1) when full.  The window is a ring of 64-bit words (the RFC 6479
 * layout): advancing clears whole words instead of shifting a bitmap, and
 * one spare word keeps a full WIRE_REPLAY_WINDOW judgeable after the top
 * word has only just been entered.
 */
#include "net/replay.h"

#include <stdlib.h>
#include <string.h>

#include "crdt/error.h"

#define RING_WORDS (WIRE_REPLAY_WINDOW / 64u + 1u)
#define NIL UINT32_MAX

_Static_assert(WIRE_REPLAY_WINDOW % 64u == 0, "window must be whole words");

typedef struct replay_entry {
	uint64_t sender;
	uint64_t top;               /* newest accepted sequence of this epoch */
	uint64_t ring[RING_WORDS];  /* bit (s % 64) of word (s / 64) % RING_WORDS */
	uint32_t epoch;
	uint32_t hnext;             /* next entry in the same hash bucket */
	uint32_t newer, older;      /* LRU list neighbours */
} replay_entry;

struct wire_replay {
	replay_entry *e;
	uint32_t *bucket;           /* head entry index per bucket, or NIL */
	uint32_t cap, used, mask;
	uint32_t newest, oldest;    /* LRU list ends */
};

/* splitmix64 finaliser: sender ids may be sequential or clustered, and
 * only authenticated peers can insert, so a fast unkeyed mix suffices. */
static uint32_t bucket_of(const wire_replay *r, uint64_t x)
{
	x ^= x >> 30;
	x *= 0xbf58476d1ce4e5b9ull;
	x ^= x >> 27;
	x *= 0x94d049bb133111ebull;
	x ^= x >> 31;
	return (uint32_t)x & r->mask;
}

int wire_replay_new(size_t max_senders, wire_replay **out)
{
	wire_replay *r;
	size_t nb = 1;

	*out = NULL;
	if (max_senders == 0 || max_senders > WIRE_REPLAY_SENDERS_MAX)
		return CARTD_EINVAL;
	while (nb < max_senders)
		nb <<= 1;
	r = calloc(1, sizeof(*r));
	if (r == NULL)
		return CARTD_ENOMEM;
	r->e = calloc(max_senders, sizeof(*r->e));
	r->bucket = malloc(nb * sizeof(*r->bucket));
	if (r->e == NULL || r->bucket == NULL) {
		wire_replay_free(r);
		return CARTD_ENOMEM;
	}
	memset(r->bucket, 0xff, nb * sizeof(*r->bucket));  /* all NIL */
	r->cap = (uint32_t)max_senders;
	r->mask = (uint32_t)(nb - 1);
	r->newest = r->oldest = NIL;
	*out = r;
	return 0;
}

void wire_replay_free(wire_replay *r)
{
	if (r == NULL)
		return;
	free(r->e);
	free(r->bucket);
	free(r);
}

size_t wire_replay_count(const wire_replay *r)
{
	return r->used;
}

static uint32_t find(const wire_replay *r, uint64_t sender)
{
	uint32_t i = r->bucket[bucket_of(r, sender)];

	while (i != NIL && r->e[i].sender != sender)
		i = r->e[i].hnext;
	return i;
}

static void lru_unlink(wire_replay *r, uint32_t i)
{
	replay_entry *e = &r->e[i];

	if (e->newer != NIL)
		r->e[e->newer].older = e->older;
	else
		r->newest = e->older;
	if (e->older != NIL)
		r->e[e->older].newer = e->newer;
	else
		r->oldest = e->newer;
}

static void lru_push_newest(wire_replay *r, uint32_t i)
{
	r->e[i].newer = NIL;
	r->e[i].older = r->newest;
	if (r->newest != NIL)
		r->e[r->newest].newer = i;
	else
		r->oldest = i;
	r->newest = i;
}

static void hash_unlink(wire_replay *r, uint32_t i)
{
	uint32_t *link = &r->bucket[bucket_of(r, r->e[i].sender)];

	while (*link != i)
		link = &r->e[*link].hnext;
	*link = r->e[i].hnext;
}

/* Takes a fresh slot, or forgets the least recently accepted sender: memory
 * stays bounded whatever the number of (authenticated) senders. */
static uint32_t slot_for(wire_replay *r, uint64_t sender, uint32_t epoch)
{
	uint32_t i, b;

	if (r->used < r->cap) {
		i = r->used++;
	} else {
		i = r->oldest;
		lru_unlink(r, i);
		hash_unlink(r, i);
	}
	memset(&r->e[i], 0, sizeof(r->e[i]));
	r->e[i].sender = sender;
	r->e[i].epoch = epoch;
	b = bucket_of(r, sender);
	r->e[i].hnext = r->bucket[b];
	r->bucket[b] = i;
	lru_push_newest(r, i);
	return i;
}

/* Marks seq seen in e's window, or reports a replay leaving e unchanged. */
static int window_update(replay_entry *e, uint64_t seq)
{
	uint64_t word, bit;

	if (seq > e->top) {
		uint64_t from = e->top / 64u, steps = seq / 64u - from;

		if (steps > RING_WORDS)
			steps = RING_WORDS;
		for (uint64_t k = 1; k <= steps; k++)
			e->ring[(from + k) % RING_WORDS] = 0;
		e->top = seq;
	} else if (e->top - seq >= WIRE_REPLAY_WINDOW) {
		return CARTD_EREPLAY;
	}
	word = (seq / 64u) % RING_WORDS;
	bit = 1ull << (seq % 64u);
	if (e->ring[word] & bit)
		return CARTD_EREPLAY;
	e->ring[word] |= bit;
	return 0;
}

int wire_replay_check(wire_replay *r, uint64_t sender, uint32_t epoch, uint64_t seq)
{
	uint32_t i;
	replay_entry *e;

	if (seq == 0)
		return CARTD_EREPLAY;
	i = find(r, sender);
	if (i == NIL)
		i = slot_for(r, sender, epoch);
	e = &r->e[i];
	if (epoch < e->epoch)
		return CARTD_EREPLAY;
	if (epoch > e->epoch) {
		/* The sender restarted: its sequences begin again at 1. */
		e->epoch = epoch;
		e->top = 0;
		memset(e->ring, 0, sizeof(e->ring));
	}
	if (window_update(e, seq) != 0)
		return CARTD_EREPLAY;
	if (r->newest != i) {
		lru_unlink(r, i);
		lru_push_newest(r, i);
	}
	return 0;
}

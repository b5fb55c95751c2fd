/*
 * node_idset.c - a small set of cart ids: the carts whose replicated state
 * still has to be handed to the committer.
 *
 * A set, not a queue, so that a cart changed by a thousand datagrams of one
 * receive batch is encoded and written once, and the memory it takes is
 * bounded by the number of distinct carts whatever the traffic.
 */
#include <stdlib.h>
#include <string.h>

#include "app/peer/node_internal.h"
#include "crdt/codec.h"
#include "crdt/error.h"

static char tomb_mark;
#define TOMB (&tomb_mark)      /* a removed slot: probing continues past it */
#define IDSET_MIN_CAP 16u

static size_t slot_of(const idset *s, const char *id, size_t len)
{
	return (size_t)crdt_name_hash(id, len) & (s->cap - 1);
}

/* Moves the live ids into a table of cap slots (a power of two). */
static int rehash(idset *s, size_t cap)
{
	char **slots = calloc(cap, sizeof *slots);
	if (!slots)
		return CARTD_ENOMEM;
	idset old = *s;
	s->slots = slots;
	s->cap = cap;
	s->tombs = 0;
	for (size_t i = 0; i < old.cap; i++) {
		char *id = old.slots[i];
		if (!id || id == TOMB)
			continue;
		size_t j = slot_of(s, id, strlen(id));
		while (s->slots[j])
			j = (j + 1) & (cap - 1);
		s->slots[j] = id;
	}
	free(old.slots);
	return 0;
}

int idset_add(idset *s, const char *id, size_t len)
{
	if ((s->n + s->tombs + 1) * 4 > s->cap * 3) {   /* keep load under 3/4 */
		size_t cap = s->cap ? s->cap : IDSET_MIN_CAP;
		while ((s->n + 1) * 2 > cap)
			cap *= 2;
		if (rehash(s, cap) != 0)
			return CARTD_ENOMEM;
	}
	size_t j = slot_of(s, id, len), free_slot = SIZE_MAX;
	for (; s->slots[j]; j = (j + 1) & (s->cap - 1)) {
		char *cur = s->slots[j];
		if (cur == TOMB) {
			if (free_slot == SIZE_MAX)
				free_slot = j;
		} else if (strlen(cur) == len && memcmp(cur, id, len) == 0) {
			return 0;
		}
	}
	char *copy = malloc(len + 1);
	if (!copy)
		return CARTD_ENOMEM;
	memcpy(copy, id, len);
	copy[len] = '\0';
	if (free_slot != SIZE_MAX) {
		j = free_slot;
		s->tombs--;
	}
	s->slots[j] = copy;
	s->n++;
	return 0;
}

void idset_drain(idset *s, idset_fn fn, void *arg)
{
	for (size_t i = 0; i < s->cap && s->n > 0; i++) {
		char *id = s->slots[i];
		if (!id || id == TOMB)
			continue;
		int r = fn(arg, id, strlen(id));
		if (r == IDSET_DONE) {
			free(id);
			s->slots[i] = TOMB;
			s->n--;
			s->tombs++;
		} else if (r == IDSET_STOP) {
			break;
		}
	}
	if (s->n == 0 && s->tombs > 0) {   /* empty again: forget the tombstones */
		memset(s->slots, 0, s->cap * sizeof *s->slots);
		s->tombs = 0;
	}
}

void idset_destroy(idset *s)
{
	for (size_t i = 0; i < s->cap; i++)
		if (s->slots[i] && s->slots[i] != TOMB)
			free(s->slots[i]);
	free(s->slots);
	memset(s, 0, sizeof *s);
}

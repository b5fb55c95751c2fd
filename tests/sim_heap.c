/*
 * sim_heap.c - binary min-heap of simulator events (see sim_heap.h).
 */
#include "tests/sim_heap.h"

#include <stdlib.h>
#include <string.h>

void sim_heap_init(sim_heap *h)
{
	memset(h, 0, sizeof *h);
}

void sim_heap_destroy(sim_heap *h, void (*free_commit)(void *))
{
	for (size_t i = 0; i < h->n; i++) {
		if (h->ev[i].kind == SIM_EV_COMMIT && free_commit)
			free_commit(h->ev[i].data);
		else
			free(h->ev[i].data);
	}
	free(h->ev);
	memset(h, 0, sizeof *h);
}

static bool before(const sim_event *a, const sim_event *b)
{
	return a->at != b->at ? a->at < b->at : a->seq < b->seq;
}

static void swap_ev(sim_event *a, sim_event *b)
{
	sim_event t = *a;
	*a = *b;
	*b = t;
}

int sim_heap_push(sim_heap *h, const sim_event *ev)
{
	if (h->n == h->cap) {
		size_t cap = h->cap ? h->cap * 2 : 256;
		sim_event *p = realloc(h->ev, cap * sizeof *p);
		if (p == NULL)
			return -1;
		h->ev = p;
		h->cap = cap;
	}
	size_t i = h->n++;
	h->ev[i] = *ev;
	h->ev[i].seq = h->next_seq++;
	while (i > 0 && before(&h->ev[i], &h->ev[(i - 1) / 2])) {
		swap_ev(&h->ev[i], &h->ev[(i - 1) / 2]);
		i = (i - 1) / 2;
	}
	return 0;
}

bool sim_heap_pop(sim_heap *h, sim_event *out)
{
	if (h->n == 0)
		return false;
	*out = h->ev[0];
	h->ev[0] = h->ev[--h->n];
	size_t i = 0;
	for (;;) {
		size_t l = 2 * i + 1, r = l + 1, m = i;
		if (l < h->n && before(&h->ev[l], &h->ev[m]))
			m = l;
		if (r < h->n && before(&h->ev[r], &h->ev[m]))
			m = r;
		if (m == i)
			break;
		swap_ev(&h->ev[i], &h->ev[m]);
		i = m;
	}
	return true;
}

uint64_t sim_heap_peek(const sim_heap *h)
{
	return h->n ? h->ev[0].at : UINT64_MAX;
}

/*
 * sim_heap.h - the simulator's event queue: a binary min-heap of events
 * ordered by (virtual time, insertion number).
 *
 * The insertion number breaks ties, so events due at the same millisecond
 * run in the order they were scheduled and a run never depends on the
 * heap's internal layout: that is what makes a seed replayable.
 */
#ifndef TESTS_SIM_HEAP_H
#define TESTS_SIM_HEAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum sim_ev_kind {
	SIM_EV_DELIVER,   /* data: datagram of len bytes from peer from to peer */
	SIM_EV_TICK,      /* engine timer of peer (valid if gen and time match) */
	SIM_EV_WRITE,     /* a client write arrives; arg: which (sim_internal.h) */
	SIM_EV_COMMIT,    /* a local write becomes durable; data: sim_commit; arg: op */
	SIM_EV_PERSIST,   /* delayed persist of a replicated cart; data: id */
	SIM_EV_FAULT,     /* arg: index into the fault plan */
	SIM_EV_ANSWER,    /* a keyed request's answer reaches its client (if
	                   * peer is still in life gen); arg: request; len: kind */
	SIM_EV_TIMEOUT,   /* a client stops waiting; arg: request; len: attempts */
};

typedef struct sim_event {
	uint64_t at;      /* virtual ms */
	uint64_t seq;     /* insertion number: the tie-break */
	uint8_t kind;     /* enum sim_ev_kind */
	uint16_t peer;    /* the peer the event happens at */
	uint16_t from;    /* DELIVER: the sending peer */
	uint32_t gen;     /* peer's life (crash count) when scheduled */
	uint32_t arg;
	uint32_t len;
	void *data;       /* owned by the event until dispatched */
} sim_event;

typedef struct sim_heap {
	sim_event *ev;
	size_t n, cap;
	uint64_t next_seq;
} sim_heap;

void sim_heap_init(sim_heap *h);
/* Frees the array and every event's data (free()); DELIVER and PERSIST data
 * are plain allocations, COMMIT data is released through free_commit. */
void sim_heap_destroy(sim_heap *h, void (*free_commit)(void *));
/* Adds ev (its seq is assigned here).  0 or -1 on allocation failure. */
int sim_heap_push(sim_heap *h, const sim_event *ev);
/* Removes the earliest event into *out; false when empty. */
bool sim_heap_pop(sim_heap *h, sim_event *out);
/* Time of the earliest event, or UINT64_MAX when empty. */
uint64_t sim_heap_peek(const sim_heap *h);

#endif

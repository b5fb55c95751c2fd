/*
 * replay.c - one session's replay window (see replay.h).
 *
 * The window is a ring of 64-bit words (the RFC 6479 layout): advancing
 * clears whole words instead of shifting a bitmap, and one spare word keeps
 * a full WIRE_REPLAY_WINDOW judgeable after the top word has only just been
 * entered.
 */
#include "net/replay.h"

#include <string.h>

#include "crdt/error.h"

_Static_assert(WIRE_REPLAY_WINDOW % 64u == 0, "window must be whole words");

void wire_window_reset(wire_window *w)
{
	memset(w, 0, sizeof *w);
}

int wire_window_check(wire_window *w, uint64_t seq)
{
	uint64_t word, bit;

	if (seq == 0)
		return CARTD_EREPLAY;
	if (seq > w->top) {
		uint64_t from = w->top / 64u, steps = seq / 64u - from;

		if (steps > WIRE_REPLAY_WORDS)
			steps = WIRE_REPLAY_WORDS;
		/* clear the words the top moves over, before judging */
		for (uint64_t k = 1; k <= steps; k++)
			w->ring[(from + k) % WIRE_REPLAY_WORDS] = 0;
		w->top = seq;
	} else if (w->top - seq >= WIRE_REPLAY_WINDOW) {
		return CARTD_EREPLAY;
	}
	word = (seq / 64u) % WIRE_REPLAY_WORDS;
	bit = 1ull << (seq % 64u);
	if (w->ring[word] & bit)
		return CARTD_EREPLAY;
	w->ring[word] |= bit;
	return 0;
}

/*
 * replay.h - the replay window of one session (one sender, one boot pair).
 *
 * Every sealed datagram carries a sequence; a sender numbers what it seals
 * from 1 on each boot and only upwards.  A window remembers the newest
 * sequence accepted and a sliding bitmap of the WIRE_REPLAY_WINDOW before
 * it, and answers "first time this sequence is seen, and not too old?".
 * The session table (wire_session.c) keeps one window per peer and starts a
 * fresh one whenever the session's keys change, so a window never outlives
 * the keys it protects and cannot be moved by anyone else's datagrams.
 *
 * Callers must only feed it sequences of authenticated datagrams: an
 * update is what moves a window, and a forger must not be able to move one.
 * Pure data structure: no clock, no I/O, no allocation.
 */
#ifndef NET_REPLAY_H
#define NET_REPLAY_H

#include <stdint.h>

/* Sequences at most this far behind the newest accepted one are judged
 * individually; older ones are rejected as replays.  A multiple of 64. */
#define WIRE_REPLAY_WINDOW 1024u
#define WIRE_REPLAY_WORDS (WIRE_REPLAY_WINDOW / 64u + 1u)

typedef struct wire_window {
	uint64_t top;                       /* newest accepted; 0 = none yet */
	uint64_t ring[WIRE_REPLAY_WORDS];   /* bit s%64 of word (s/64)%WORDS */
} wire_window;

/* Empties a window (a new session). */
void wire_window_reset(wire_window *w);

/*
 * Check-and-update for one authenticated sequence: sequence 0, one already
 * seen, or one at least WIRE_REPLAY_WINDOW behind the newest is a replay.
 * Returns 0 (accepted, window updated) or CARTD_EREPLAY (nothing changed).
 */
int wire_window_check(wire_window *w, uint64_t seq);

#endif

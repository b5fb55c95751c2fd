/*
 * node_io.c - the peer's network side on the event loop: the UDP socket's
 * read event, the one engine timer, and the engine's send and member-event
 * callbacks.
 *
 * The engine is told the time on every call and asked for its next deadline
 * after every call, so exactly one timer, re-armed to that deadline, drives
 * all of its flushes, probes and anti-entropy rounds.
 */
#include <errno.h>
#include <stdio.h>
#include <time.h>

#include <event2/event.h>

#include "app/shared/log.h"
#include "app/peer/node_internal.h"
#include "crdt/error.h"

uint64_t node_mono_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

uint64_t node_now_ms(const node *n)
{
	(void)n;   /* one clock for every node: the engine only needs monotonic */
	return node_mono_ns() / 1000000u;
}

uint64_t node_wall_ms(const node *n)
{
	(void)n;
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

void node_rearm(node *n)
{
	if (!n->ev_timer)
		return;
	uint64_t now = node_now_ms(n);
	uint64_t at = engine_next_deadline(n->eng, now);
	if (at == n->timer_at && evtimer_pending(n->ev_timer, NULL))
		return;
	uint64_t d = at > now ? at - now : 0;
	struct timeval tv = { (time_t)(d / 1000), (suseconds_t)(d % 1000) * 1000 };
	evtimer_add(n->ev_timer, &tv);
	n->timer_at = at;
}

void node_receive_now(node *n, const engine_addr *from, const uint8_t *d, size_t len)
{
	int rc = engine_receive(n->eng, from, d, len, node_now_ms(n));
	/* Counted by the wire and engine; logged at a bounded rate, one line
	 * per kind of drop (a version mismatch names both versions). */
	if (rc)
		node_drop_datagram(n, rc, from, d, len);
}

static void on_dgram(void *arg, const engine_addr *from, uint8_t *d, size_t len)
{
	node *n = arg;
	if (n->faults)
		node_fault_receive(n, from, d, len);
	else
		node_receive_now(n, from, d, len);
}

static void on_readable(evutil_socket_t fd, short what, void *arg)
{
	node *n = arg;
	(void)fd;
	(void)what;
	/* Bounded: if more is waiting the fd stays readable and the loop comes
	 * back after serving HTTP and timers. */
	udp_receive(n->udp, UDP_RECV_BUDGET_DEFAULT, on_dgram, n);
	node_drop_socket(n);
	node_persist_dirty(n);
	node_rearm(n);
}

static void on_timer(evutil_socket_t fd, short what, void *arg)
{
	node *n = arg;
	(void)fd;
	(void)what;
	n->timer_at = 0;
	engine_tick(n->eng, node_now_ms(n));
	node_persist_dirty(n);
	node_rearm(n);
}

void node_send_now(node *n, const engine_addr *to, const uint8_t *d, size_t len)
{
	int rc = udp_send(n->udp, to, d, len);
	if (rc && rc != -EAGAIN && log_enabled(LOG_DEBUG)) {
		char a[UDP_ADDRSTR_MAX];
		log_event(LOG_DEBUG, "send_failed", "to=%s len=%zu reason=\"%s\"",
		          udp_addr_format(to, a, sizeof a), len, cartd_strerror(rc));
	}
}

void node_cb_send(void *arg, const engine_addr *to, const uint8_t *d, size_t len)
{
	node *n = arg;
	if (n->faults)
		node_fault_send(n, to, d, len);
	else
		node_send_now(n, to, d, len);
}

static const char *state_name(enum engine_member_state s)
{
	return s == MEMBER_ALIVE ? "alive" : s == MEMBER_SUSPECT ? "suspect" : "dead";
}

void node_cb_member(void *arg, uint64_t id, const engine_addr *addr,
                    enum engine_member_state from, enum engine_member_state to)
{
	node *n = arg;
	char a[UDP_ADDRSTR_MAX], ev[32];
	if (n->faults && id != 0)
		node_fault_learn(n, id, addr);
	snprintf(ev, sizeof ev, "peer_%s", state_name(to));
	log_event(to == MEMBER_ALIVE ? LOG_INFO : LOG_WARN, ev, "peer=%s id=%016llx from=%s",
	          udp_addr_format(addr, a, sizeof a), (unsigned long long)id, state_name(from));
}

int node_io_start(node *n)
{
	n->ev_udp = event_new(n->base, udp_fd(n->udp), EV_READ | EV_PERSIST, on_readable, n);
	n->ev_timer = evtimer_new(n->base, on_timer, n);
	if (!n->ev_udp || !n->ev_timer || event_add(n->ev_udp, NULL) != 0)
		return CARTD_ENOMEM;
	node_rearm(n);
	return 0;
}

void node_io_stop(node *n)
{
	if (n->ev_udp)
		event_free(n->ev_udp);
	if (n->ev_timer)
		event_free(n->ev_timer);
	n->ev_udp = n->ev_timer = NULL;
}

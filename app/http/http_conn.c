/*
 * http_conn.c - request header and body deadlines (see http_conn.h).
 */
#include "app/http/http_conn.h"

#include <stdlib.h>
#include <sys/socket.h>
#include <time.h>

#include "crdt/error.h"

#define TICK_MAX_MS 1000u
#define TICK_MIN_MS 20u

struct http_conn {
	int fd;
	bool waiting;              /* a request header or body is due */
	bool body;                 /* ... a body */
	int64_t since_ms;          /* when it became due */
	struct http_conn *prev, *next;
};

static int64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void on_tick(evutil_socket_t fd, short what, void *arg)
{
	http_conns *c = arg;
	int64_t now = now_ms();
	(void)fd; (void)what;
	for (http_conn *h = c->head; h; h = h->next) {
		uint32_t limit = h->body ? c->body_deadline_ms : c->deadline_ms;
		if (h->waiting && now - h->since_ms >= (int64_t)limit) {
			h->waiting = false;
			/* MHD sees end of file and closes it; its epoll fd becomes
			 * readable, so the loop runs MHD without further help. */
			shutdown(h->fd, SHUT_RDWR);
			if (h->body)
				c->body_expired++;
			else
				c->expired++;
		}
	}
}

int http_conns_init(http_conns *c, struct event_base *base, uint32_t deadline_ms,
                    uint32_t body_deadline_ms)
{
	c->head = NULL;
	c->expired = c->body_expired = 0;
	c->deadline_ms = deadline_ms;
	c->body_deadline_ms = body_deadline_ms;
	/* A sweep every quarter of the shorter deadline closes a connection
	 * within 1.25 deadlines of its clock starting. */
	uint32_t tick = (deadline_ms < body_deadline_ms ? deadline_ms : body_deadline_ms) / 4;
	tick = tick > TICK_MAX_MS ? TICK_MAX_MS : tick < TICK_MIN_MS ? TICK_MIN_MS : tick;
	struct timeval tv = { (time_t)(tick / 1000), (suseconds_t)(tick % 1000) * 1000 };
	c->ev_tick = event_new(base, -1, EV_PERSIST, on_tick, c);
	if (!c->ev_tick || event_add(c->ev_tick, &tv) != 0)
		return CARTD_ENOMEM;
	return 0;
}

void http_conns_destroy(http_conns *c)
{
	if (c->ev_tick)
		event_free(c->ev_tick);
	c->ev_tick = NULL;
	while (c->head)
		http_conn_close(c, c->head);
}

http_conn *http_conn_open(http_conns *c, int fd)
{
	http_conn *h = calloc(1, sizeof *h);
	if (!h)
		return NULL;
	h->fd = fd;
	h->waiting = true;
	h->since_ms = now_ms();
	h->next = c->head;
	if (c->head)
		c->head->prev = h;
	c->head = h;
	return h;
}

void http_conn_close(http_conns *c, http_conn *h)
{
	if (!h)
		return;
	if (h->prev)
		h->prev->next = h->next;
	else
		c->head = h->next;
	if (h->next)
		h->next->prev = h->prev;
	free(h);
}

void http_conn_header_done(http_conn *h)
{
	if (h) {
		h->body = true;
		h->since_ms = now_ms();
	}
}

void http_conn_body_done(http_conn *h)
{
	if (h)
		h->waiting = false;
}

void http_conn_request_done(http_conn *h)
{
	if (h) {
		h->waiting = true;
		h->body = false;
		h->since_ms = now_ms();
	}
}

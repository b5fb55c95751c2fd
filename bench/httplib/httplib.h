/*
 * httplib.h - what the servers of bench_httplib share.
 *
 * bench_httplib runs one HTTP library at a time on one thread, doing what
 * cartd's HTTP face does for a durable add, minus the work of cartd itself:
 * accept POST /carts/{id}/items, read the whole body, hold the answer back
 * until a later turn of the loop (cartd answers a write only once the
 * committer reports it durable), then answer 200 with a ~150-byte JSON
 * body, keep-alive.  What is left is the library's own cost.
 *
 * Each server answers the same bytes: httplib_render makes the body, and
 * it reports the length of the target and of the body the library handed
 * over, which is how the malformed-request probes see what a library made
 * of a request it served.
 */
#ifndef BENCH_HTTPLIB_H
#define BENCH_HTTPLIB_H

#include <stdbool.h>
#include <stddef.h>

/* Every library gets the same limits, each through its own knob. */
#define HTTPLIB_TIMEOUT_S 5             /* the closest each has to cartd's 5 s header deadline */
#define HTTPLIB_MAX_BODY ((size_t)64 << 10)   /* cartd's default body cap */
#define HTTPLIB_ANSWER_LEN 150          /* bytes of every 200 answer's body */
#define HTTPLIB_ID_MAX 48               /* longer cart ids are cut in the answer */

/*
 * A non-blocking TCP socket listening on 127.0.0.1 at a port the kernel
 * picks; prints "port N" on stdout for the driver script.  The fd, or -1
 * (with a message on stderr).
 */
int httplib_listen(void);

/*
 * The cart id of a request target of the form /carts/{id}/items (len bytes
 * at target, as the library handed it over): its length, with *id pointing
 * into target; 0 when the target is anything else.
 */
size_t httplib_route(const char *target, size_t len, const char **id);

/*
 * Renders the 200 answer's body into out (at least HTTPLIB_ANSWER_LEN + 1
 * bytes): the cart id and the target and body lengths the library gave,
 * padded to exactly HTTPLIB_ANSWER_LEN bytes.  Returns HTTPLIB_ANSWER_LEN.
 */
size_t httplib_render(char *out, const char *id, size_t id_len, size_t target_len,
                      size_t body_len);

/* A libevent base configured as cartd configures its own (precise timers). */
struct event_base *httplib_event_base(void);

/* The answer to anything but POST /carts/{id}/items. */
#define HTTPLIB_NOT_FOUND "{\"error\":{\"code\":\"not_found\"}}\n"

/* The servers: each serves on the listening socket fd until killed; a
 * non-zero return means it could not start (a message is on stderr).  defer
 * false (MHD only) answers inside the request callback, for comparison. */
int httplib_serve_mhd(int fd, bool defer);
int httplib_serve_evhttp(int fd);
/* cartd's own transport, app/http/http_conn.h, deferred like mhd. */
int httplib_serve_cartd(int fd);
int httplib_serve_h2o(int fd);
/* Whether httplib_serve_h2o was built (libh2o-evloop and its headers). */
bool httplib_have_h2o(void);

/*
 * The probes: send each malformed request of the table in probe.c to the
 * server on 127.0.0.1:port and print one line per case,
 * "case<TAB>what the server did".  httplib_slow sends a request header one
 * byte a second for up to seconds and prints when, if ever, it was cut.
 */
int httplib_probe(unsigned port);
int httplib_slow(unsigned port, unsigned seconds);

#endif

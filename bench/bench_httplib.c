/*
 * bench_httplib.c - one HTTP library at a time doing cartd's HTTP work for
 * a durable add, to choose a library by the numbers (bench/httplib/,
 * driven by bench/bench_httplib.sh, which measures and prints the tables).
 *
 *   bench_httplib serve mhd|mhd-now|evhttp|h2o|cartd
 *                                   serve on 127.0.0.1 at a port the kernel
 *                                   picks, printed as "port N", until killed
 *   bench_httplib probe PORT        the malformed requests, one line each
 *   bench_httplib slow PORT SECONDS a header trickled one byte a second
 *   bench_httplib libs              the libraries this build can serve
 *
 * mhd is libmicrohttpd as cartd runs it (suspend, resume on a later loop
 * turn); mhd-now answers in the handler; evhttp is libevent's; h2o is
 * libh2o-evloop, when it was built; cartd is cartd's own HTTP/1.1
 * connection code (app/http/http_conn.c), which replaced mhd.  Without arguments (as bench/run.sh
 * runs every program) it only says how it is used.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench/httplib/httplib.h"

static int usage(FILE *f)
{
	fprintf(f, "usage: bench_httplib serve mhd|mhd-now|evhttp|h2o|cartd\n"
	           "       bench_httplib probe PORT | slow PORT SECONDS | libs\n"
	           "(bench/bench_httplib.sh runs the comparison)\n");
	return f == stderr ? 2 : 0;
}

static int serve(const char *lib)
{
	int known = !strcmp(lib, "mhd") || !strcmp(lib, "mhd-now") || !strcmp(lib, "evhttp") ||
	            !strcmp(lib, "h2o") || !strcmp(lib, "cartd");
	if (!known)
		return usage(stderr);
	if (!strcmp(lib, "h2o") && !httplib_have_h2o())
		return httplib_serve_h2o(-1);   /* says "h2o: not built" */
	int fd = httplib_listen();
	if (fd < 0)
		return 1;
	if (!strcmp(lib, "mhd"))
		return httplib_serve_mhd(fd, true);
	if (!strcmp(lib, "mhd-now"))
		return httplib_serve_mhd(fd, false);
	if (!strcmp(lib, "evhttp"))
		return httplib_serve_evhttp(fd);
	if (!strcmp(lib, "cartd"))
		return httplib_serve_cartd(fd);
	return httplib_serve_h2o(fd);
}

int main(int argc, char **argv)
{
	/* A client that leaves mid-answer must not kill the server. */
	signal(SIGPIPE, SIG_IGN);
	if (argc < 2)
		return usage(stdout);
	if (!strcmp(argv[1], "serve") && argc == 3)
		return serve(argv[2]);
	if (!strcmp(argv[1], "probe") && argc == 3)
		return httplib_probe((unsigned)atoi(argv[2]));
	if (!strcmp(argv[1], "slow") && argc == 4)
		return httplib_slow((unsigned)atoi(argv[2]), (unsigned)atoi(argv[3]));
	if (!strcmp(argv[1], "libs") && argc == 2) {
		printf("mhd mhd-now evhttp%s cartd\n", httplib_have_h2o() ? " h2o" : "");
		if (!httplib_have_h2o())
			printf("h2o: not built\n");
		return 0;
	}
	return usage(stderr);
}

/*
 * cartctl.h - the pieces of the cartctl command shared by its files:
 *
 *   cartctl_main.c     global options, command dispatch, --help
 *   cartctl_cmds.c     the API commands and their human-readable output
 *   cartctl_cluster.c  cluster up / cluster down of a local cluster
 *   cartctl_keygen.c   keygen, issue
 *   cartctl_http.c     the HTTP client
 *
 * Exit statuses: CTL_OK, CTL_FAIL (the request failed or the server
 * answered an error), CTL_USAGE (bad command line).
 */
#ifndef APP_CARTCTL_H
#define APP_CARTCTL_H

#include <stdbool.h>
#include <stdio.h>

#include "net/hostport.h"
#include "app/cartctl/cartctl_http.h"

enum { CTL_OK = 0, CTL_FAIL = 1, CTL_USAGE = 2 };

#define CTL_DEFAULT_PEER "127.0.0.1:8080"

typedef struct ctl_opts {
	hostport_ip peer;
	char peer_text[HOSTPORT_IP_STRLEN];
	bool json;              /* print the server's JSON instead of text */
	int timeout_ms;
	const char *argv0;      /* for finding cartd next to cartctl */
} ctl_opts;

/* Prints a usage error ("cartctl: ...", then a hint) and returns CTL_USAGE. */
#if defined(__GNUC__)
__attribute__((format(printf, 1, 2)))
#endif
int ctl_usage_error(const char *fmt, ...);

/* API commands; argv[0] is the command name.  Each returns an exit status. */
int ctl_cmd_get(const ctl_opts *o, int argc, char **argv);
int ctl_cmd_add(const ctl_opts *o, int argc, char **argv);     /* add and set */
int ctl_cmd_remove(const ctl_opts *o, int argc, char **argv);  /* remove and clear */
int ctl_cmd_checkout(const ctl_opts *o, int argc, char **argv);
int ctl_cmd_info(const ctl_opts *o, int argc, char **argv);    /* cluster, health, metrics */
int ctl_cmd_faults(const ctl_opts *o, int argc, char **argv);

int ctl_cmd_keygen(int argc, char **argv);
int ctl_cmd_issue(int argc, char **argv);
/* Writes a new keyring to path (NULL: stdout); quiet skips the notice. */
int ctl_keygen_file(const char *path, bool force, bool quiet);
/* Writes a peer keyring certified by the cluster keyring at cluster. */
int ctl_issue_file(const char *cluster, const char *path, bool force, bool quiet);
int ctl_cmd_cluster_up(const ctl_opts *o, int argc, char **argv);
int ctl_cmd_cluster_down(int argc, char **argv);

/*
 * One request to o->peer; prints transport failures and error answers
 * (status >= 400) to stderr (and, with --json, the error body to stdout).
 * Returns CTL_OK with *res filled (caller frees), or CTL_FAIL.
 */
int ctl_request(const ctl_opts *o, const char *method, const char *target, const char *json_body,
                ctl_http_response *res);
/* The same with extra header lines ("Name: value\r\n"..., or NULL). */
int ctl_request_h(const ctl_opts *o, const char *method, const char *target,
                  const char *json_body, const char *headers, ctl_http_response *res);

/* Appends s to the path buffer percent-encoded as one path segment. */
void ctl_append_segment(char *buf, size_t cap, const char *s);

#endif

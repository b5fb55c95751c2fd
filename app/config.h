/*
 * config.h - cartd's command line: every flag parsed and validated into a
 * node_config plus the HTTP and logging settings, and the --help text.
 *
 * The parser is a plain function of (argc, argv) with no global state (no
 * getopt), so tests can call it any number of times.  Flags are long only:
 * "--flag VALUE" or "--flag=VALUE"; -h and -V are the only short forms.
 * Numbers are unsigned decimal digits, range-checked per flag; every error
 * names the flag and the accepted range.  Strings in the result point into
 * argv (which must outlive the config) or are static defaults.
 */
#ifndef APP_CONFIG_H
#define APP_CONFIG_H

#include <stddef.h>
#include <stdio.h>

#include "app/shared/log.h"
#include "app/peer/node.h"

#ifndef CARTD_VERSION
#define CARTD_VERSION "0.1.0"
#endif

#define CONFIG_DEFAULT_HTTP "127.0.0.1:8080"
#define CONFIG_DEFAULT_GOSSIP "127.0.0.1:7946"
#define CONFIG_DEFAULT_CLUSTER "cartd"
#define CONFIG_DEFAULT_MAX_BODY ((size_t)64 << 10)
#define CONFIG_DEFAULT_HEADER_MS 5000u
#define CONFIG_DEFAULT_BODY_MS 10000u
#define CONFIG_EXIT_USAGE 2        /* exit status for a bad command line */
#define CONFIG_ERR_MAX 256

typedef struct cartd_config {
	node_config node;
	const char *http_listen;       /* --http */
	size_t http_max_body;          /* --max-body */
	uint32_t http_header_ms;       /* --header-timeout-ms */
	uint32_t http_body_ms;         /* --body-timeout-ms */
	enum log_level log_level;      /* --log-level */
	const char **peer_buf;         /* storage behind node.peers (heap) */
} cartd_config;

enum config_action {
	CONFIG_RUN,                    /* start the peer */
	CONFIG_HELP,                   /* print config_usage, exit 0 */
	CONFIG_VERSION,                /* print the version, exit 0 */
};

/* Fills cfg with every default (node_config_init included). */
void config_init(cartd_config *cfg);

/*
 * Parses argv[1..argc) into cfg (initialised here first) and says what to
 * do.  --help and --version win as soon as they are seen (later arguments
 * are not checked).  Returns 0, CARTD_ECONFIG with a one-line message in err
 * (for example "--max-datagram: 70000 is out of range 512..65507"), or
 * CARTD_ENOMEM.  Release with config_destroy in every case.
 */
int config_parse(cartd_config *cfg, int argc, char *const argv[],
                 enum config_action *action, char *err, size_t errlen);

/* Frees what config_parse allocated.  NULL-safe; cfg is left defaulted. */
void config_destroy(cartd_config *cfg);

/* Writes the manual-style --help text. */
void config_usage(FILE *out);

/* Number of options in the table, and the long name of option i (for
 * tests that check every option is documented). */
size_t config_option_count(void);
const char *config_option_name(size_t i);

#endif

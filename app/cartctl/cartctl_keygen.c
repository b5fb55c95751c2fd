/*
 * cartctl_keygen.c - `cartctl keygen [FILE] [--force]`: a new cluster
 * keyring (signing key, token key); `cartctl issue CLUSTER [FILE]
 * [--force]`: the keyring of one new peer, certified by CLUSTER.  Both go
 * to stdout or to FILE created with mode 0600.
 *
 * An existing FILE is refused unless --force: overwriting a keyring by
 * accident would cut the peer off from every other peer.
 */
#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "app/cartctl/cartctl.h"
#include "crdt/error.h"
#include "net/keyring.h"

static int write_file(const char *path, const char *text, bool force, bool quiet)
{
	int flags = O_WRONLY | O_CREAT | O_CLOEXEC | (force ? O_TRUNC : O_EXCL);
	int fd = open(path, flags, 0600);
	if (fd < 0) {
		if (errno == EEXIST)
			fprintf(stderr, "cartctl: %s exists; use --force to replace it\n", path);
		else
			fprintf(stderr, "cartctl: cannot create %s: %s\n", path, strerror(errno));
		return CTL_FAIL;
	}
	size_t len = strlen(text);
	/* With --force the file may predate us with looser permissions. */
	bool ok = fchmod(fd, 0600) == 0 && write(fd, text, len) == (ssize_t)len;
	ok = fsync(fd) == 0 && ok;
	ok = close(fd) == 0 && ok;
	if (!ok) {
		fprintf(stderr, "cartctl: cannot write %s: %s\n", path, strerror(errno));
		return CTL_FAIL;
	}
	if (!quiet)
		fprintf(stderr, "cartctl: wrote a new keyring to %s (mode 0600)\n", path);
	return CTL_OK;
}

/* Writes the keyring text rc made (or reports rc) to path or stdout, then
 * wipes it. */
static int emit(const char *what, int rc, char *text, size_t cap, const char *path,
                bool force, bool quiet)
{
	if (rc != 0) {
		fprintf(stderr, "cartctl: %s: %s\n", what, cartd_strerror(rc));
		rc = CTL_FAIL;
	} else if (path) {
		rc = write_file(path, text, force, quiet);
	} else {
		rc = fputs(text, stdout) < 0 ? CTL_FAIL : CTL_OK;
	}
	sodium_memzero(text, cap);
	return rc;
}

int ctl_keygen_file(const char *path, bool force, bool quiet)
{
	char text[WIRE_KEYRING_TEXT_MAX];
	int rc = wire_keyring_generate(text, sizeof text);
	return emit("keygen", rc, text, sizeof text, path, force, quiet);
}

/* Reads a keyring file that can certify (holds a cluster-secret). */
static int read_cluster(const char *path, wire_keyring **out)
{
	char text[65536];
	FILE *f = fopen(path, "r");
	if (!f) {
		fprintf(stderr, "cartctl: cannot open %s: %s\n", path, strerror(errno));
		return CTL_FAIL;
	}
	size_t n = fread(text, 1, sizeof text, f);
	bool big = n == sizeof text;
	fclose(f);
	char err[256] = "file too large for a keyring";
	int rc = big ? CARTD_EKEYRING : wire_keyring_parse(text, n, out, err, sizeof err);
	sodium_memzero(text, sizeof text);
	if (rc) {
		fprintf(stderr, "cartctl: %s: %s\n", path, err);
		return CTL_FAIL;
	}
	if (!wire_keyring_can_certify(*out)) {
		fprintf(stderr, "cartctl: %s holds no cluster-secret: it cannot certify peers\n", path);
		wire_keyring_free(*out);
		*out = NULL;
		return CTL_FAIL;
	}
	return CTL_OK;
}

int ctl_issue_file(const char *cluster, const char *path, bool force, bool quiet)
{
	wire_keyring *ring;
	if (read_cluster(cluster, &ring) != CTL_OK)
		return CTL_FAIL;
	char text[WIRE_KEYRING_TEXT_MAX];
	uint64_t id = 0;
	int rc = wire_keyring_issue(ring, text, sizeof text, &id);
	wire_keyring_free(ring);
	rc = emit("issue", rc, text, sizeof text, path, force, true);
	if (rc == CTL_OK && !quiet)
		fprintf(stderr, "cartctl: issued peer %016llx%s%s\n", (unsigned long long)id,
		        path ? " to " : "", path ? path : "");
	return rc;
}

int ctl_cmd_issue(int argc, char **argv)
{
	const char *cluster = NULL, *path = NULL;
	bool force = false;

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--force") == 0)
			force = true;
		else if (argv[i][0] == '-' || (cluster && path))
			return ctl_usage_error("usage: issue CLUSTER-KEYRING [FILE] [--force]");
		else if (!cluster)
			cluster = argv[i];
		else
			path = argv[i];
	}
	if (!cluster)
		return ctl_usage_error("usage: issue CLUSTER-KEYRING [FILE] [--force]");
	return ctl_issue_file(cluster, path, force, false);
}

int ctl_cmd_keygen(int argc, char **argv)
{
	const char *path = NULL;
	bool force = false;

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--force") == 0)
			force = true;
		else if (argv[i][0] == '-' || path)
			return ctl_usage_error("usage: keygen [FILE] [--force]");
		else
			path = argv[i];
	}
	return ctl_keygen_file(path, force, false);
}

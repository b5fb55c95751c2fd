/*
 * cartctl_keygen.c - `cartctl keygen [FILE] [--force]`: a new keyring with
 * one fresh key, to stdout or to FILE created with mode 0600.
 *
 * An existing FILE is refused unless --force: overwriting the cluster's
 * key by accident would cut the peer off from every other peer.
 */
#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "app/cartctl.h"
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

int ctl_keygen_file(const char *path, bool force, bool quiet)
{
	char text[WIRE_KEYRING_TEXT_MAX];
	int rc = wire_keyring_generate(text, sizeof text);
	if (rc != 0) {
		fprintf(stderr, "cartctl: keygen: %s\n", cartd_strerror(rc));
		return CTL_FAIL;
	}
	if (path)
		rc = write_file(path, text, force, quiet);
	else
		rc = fputs(text, stdout) < 0 ? CTL_FAIL : CTL_OK;
	sodium_memzero(text, sizeof text);
	return rc;
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

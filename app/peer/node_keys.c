/*
 * node_keys.c - reading the keyring file, at start-up and on SIGHUP.
 *
 * The file holds the cluster's secret keys, so its permissions are checked
 * like ssh checks a private key: a file others may write is refused (anyone
 * could then inject keys), one others may read is accepted with a warning
 * (a shared test box is a legitimate place for it).  The text is wiped from
 * memory once parsed.
 */
#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "app/shared/log.h"
#include "app/peer/node_internal.h"
#include "crdt/error.h"
#include "net/keyring.h"

/* A keyring of WIRE_KEYRING_MAX keys with generous comments fits easily. */
#define KEYFILE_MAX (64u << 10)

static int check_mode(const struct stat *st, const char *qpath)
{
	if (!S_ISREG(st->st_mode)) {
		log_event(LOG_ERROR, "keyring_error", "file=%s reason=\"not a regular file\"", qpath);
		return CARTD_EKEYRING;
	}
	if (st->st_mode & (S_IWGRP | S_IWOTH)) {
		log_event(LOG_ERROR, "keyring_error", "file=%s mode=%04o "
		          "reason=\"writable by group or others; chmod 600 it\"",
		          qpath, (unsigned)(st->st_mode & 07777));
		return CARTD_EKEYRING;
	}
	if (st->st_mode & (S_IRGRP | S_IROTH))
		log_event(LOG_WARN, "keyring_permissions", "file=%s mode=%04o "
		          "reason=\"readable by group or others; chmod 600 recommended\"",
		          qpath, (unsigned)(st->st_mode & 07777));
	return 0;
}

/* Reads the whole file into a heap buffer of at most KEYFILE_MAX bytes. */
static int slurp(int fd, const struct stat *st, char **out, size_t *len, const char *qpath)
{
	if (st->st_size <= 0 || st->st_size > (off_t)KEYFILE_MAX) {
		log_event(LOG_ERROR, "keyring_error", "file=%s size=%lld reason=\"%s\"", qpath,
		          (long long)st->st_size, st->st_size <= 0 ? "empty" : "too large");
		return CARTD_EKEYRING;
	}
	size_t cap = (size_t)st->st_size, n = 0;
	char *buf = malloc(cap);
	if (!buf)
		return CARTD_ENOMEM;
	while (n < cap) {
		ssize_t r = read(fd, buf + n, cap - n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;     /* a file that shrank is parsed as it is now */
		n += (size_t)r;
	}
	*out = buf;
	*len = n;
	return 0;
}

/* What to tell the operator about a keyring that did not parse. */
int node_read_keyring(const char *path, wire_keyring **out)
{
	char qpath[512];
	log_quote(path, qpath, sizeof qpath);
	*out = NULL;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		log_event(LOG_ERROR, "keyring_error", "file=%s reason=\"%s\"", qpath, strerror(errno));
		return CARTD_EKEYRING;
	}
	struct stat st;
	char *text = NULL;
	size_t len = 0;
	int rc = fstat(fd, &st) != 0 ? CARTD_EKEYRING : check_mode(&st, qpath);
	if (rc == 0)
		rc = slurp(fd, &st, &text, &len, qpath);
	close(fd);
	if (rc == 0) {
		char err[256], qerr[300];
		rc = wire_keyring_parse(text, len, out, err, sizeof err);
		if (rc)
			log_event(LOG_ERROR, "keyring_error", "file=%s reason=%s see=docs/operations.md",
			          qpath, log_quote(err, qerr, sizeof qerr));
		sodium_memzero(text, len);
	}
	free(text);
	return rc == CARTD_ENOMEM ? rc : rc ? CARTD_EKEYRING : 0;
}

/* keyfile.c: reading and writing the node key file. Must never print the seed or leave
 * it in unwiped memory. */
#include "keyfile.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "error.h"
#include "banned.h"

static const char header[] = "# trestle node key: secret. Keep it private (mode 0600) and backed "
                             "up apart from the store;\n# losing it means a new node id.\n";
static const char tag[] = "ed25519-seed ";

#define B64_LEN sodium_base64_ENCODED_LEN(TR_SEED_BYTES, sodium_base64_VARIANT_ORIGINAL)

int tr_keyfile_create(const char *path, tr_key **out)
{
	tr_key *k = NULL;
	int rc = tr_key_new(&k);
	if (rc)
		return rc;
	uint8_t *seed = sodium_malloc(TR_SEED_BYTES);
	char *text = sodium_malloc(sizeof(header) + sizeof(tag) + B64_LEN + 2);
	if (!seed || !text) {
		rc = ENOMEM;
		goto done;
	}
	tr_key_seed(k, seed);
	size_t n = 0;
	memcpy(text, header, sizeof(header) - 1);
	n += sizeof(header) - 1;
	memcpy(text + n, tag, sizeof(tag) - 1);
	n += sizeof(tag) - 1;
	sodium_bin2base64(text + n, B64_LEN, seed, TR_SEED_BYTES, sodium_base64_VARIANT_ORIGINAL);
	n += strlen(text + n);
	text[n++] = '\n';

	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0) {
		rc = errno == EEXIST ? TR_EEXIST : errno;
		goto done;
	}
	ssize_t w = write(fd, text, n);
	if (w != (ssize_t)n || fsync(fd) != 0) {
		rc = w < 0 || w == (ssize_t)n ? errno : ENOSPC;
		close(fd);
		unlink(path);
		goto done;
	}
	if (close(fd) != 0) {
		rc = errno;
		unlink(path);
		goto done;
	}
	*out = k;
	k = NULL;
done:
	sodium_free(seed);
	sodium_free(text);
	tr_key_destroy(&k);
	return rc;
}

int tr_keyfile_load(const char *path, tr_key **out, char *why, size_t whylen)
{
	struct stat st;
	int rc = 0;
	char *text = NULL;
	uint8_t *seed = NULL;
	if (sodium_init() < 0)
		return ENOMEM;
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0) {
		rc = errno;
		snprintf(why, whylen, "cannot open the node key %s: %s", path, strerror(rc));
		return rc;
	}
	/* check the file we opened, not the path: nothing can swap it in between */
	if (fstat(fd, &st) != 0) {
		rc = errno;
		goto done;
	}
	if (!S_ISREG(st.st_mode)) {
		snprintf(why, whylen, "the node key %s is not a regular file", path);
		rc = TR_EKEY;
		goto done;
	}
	if (st.st_mode & 077) {
		snprintf(why, whylen,
		         "the node key %s can be read or written by other users (mode %04o); "
		         "fix it with: chmod 600 %s",
		         path, (unsigned)(st.st_mode & 07777), path);
		rc = TR_EKEY;
		goto done;
	}
	if (st.st_uid != geteuid()) {
		snprintf(why, whylen, "the node key %s belongs to another user (uid %u)", path,
		         (unsigned)st.st_uid);
		rc = TR_EKEY;
		goto done;
	}
	size_t cap = 1024;
	text = sodium_malloc(cap + 1);
	seed = sodium_malloc(TR_SEED_BYTES);
	if (!text || !seed) {
		rc = ENOMEM;
		goto done;
	}
	ssize_t n = read(fd, text, cap);
	if (n < 0) {
		rc = errno;
		goto done;
	}
	text[n] = '\0';
	char *line = text, *found = NULL;
	while (line && *line) {
		if (strncmp(line, tag, sizeof(tag) - 1) == 0) {
			found = line + sizeof(tag) - 1;
			break;
		}
		line = strchr(line, '\n');
		if (line)
			line++;
	}
	size_t seedlen = 0;
	const char *end = NULL;
	if (!found ||
	    sodium_base642bin(seed, TR_SEED_BYTES, found, strcspn(found, "\r\n"), NULL, &seedlen,
	                      &end, sodium_base64_VARIANT_ORIGINAL) != 0 ||
	    seedlen != TR_SEED_BYTES) {
		snprintf(why, whylen, "the node key %s is damaged: no valid \"%.12s\" line", path,
		         tag);
		rc = TR_EKEY;
		goto done;
	}
	rc = tr_key_from_seed(seed, out);
done:
	close(fd);
	sodium_free(text); /* wipes */
	sodium_free(seed);
	if (rc && !why[0])
		snprintf(why, whylen, "cannot read the node key %s: %s", path, tr_strerror(rc));
	return rc;
}

/* cmd_backup.c: `trestle backup DIR`: a consistent hot copy of the store, taken while
 * the node keeps working (LMDB's own copy, inside one read transaction). */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <fcntl.h>

#include "cli.h"
#include "control.h"
#include "keyfile.h"
#include "error.h"
#include "../../proto/banned.h"

static const tr_cmd_help help = {
    "backup", "DIR",
    "Write a consistent copy of the store into DIR (created if missing; it must not hold a\n"
    "store already). Safe while trestled and other commands are running.",
    "The copy is compacted. It does not include the node key or the config: back up\n"
    "node.key separately and keep it secret. Restore it with `trestle restore DIR`."};

int cmd_backup(tr_cli *cli, int argc, char **argv)
{
	const tr_opt opts[] = {{0}};
	const char *pos[1];
	size_t npos;
	int rc = tr_cli_begin(cli, &help, opts, argc, argv, pos, 1, &npos, 0);
	if (rc >= 0)
		return rc;
	if (npos != 1)
		return tr_opt_usage_error(&help, "which directory should the copy go to?");
	const char *dir = pos[0];
	if (mkdir(dir, 0700) != 0 && errno != EEXIST)
		return tr_cli_error("cannot create %s: %s", dir, strerror(errno));
	char dbp[4200];
	struct stat st;
	snprintf(dbp, sizeof(dbp), "%s/data.mdb", dir);
	if (stat(dbp, &st) == 0)
		return tr_cli_error("%s already holds a store copy; choose an empty directory",
		                    dir);
	if ((rc = tr_cli_open(cli)) != 0)
		return rc;
	rc = tr_store_backup(cli->store, dir);
	if (rc)
		return tr_cli_error("backup to %s failed: %s%s", dir, tr_strerror(rc),
		                    tr_cli_write_hint(rc));
	if (stat(dbp, &st) != 0)
		return tr_cli_error("backup to %s failed: the copy is missing", dir);
	char detail[4300];
	snprintf(detail, sizeof(detail), "to %s", dir);
	if ((rc = tr_cli_audit(cli, "backup", detail)) != 0)
		return tr_cli_error("the copy was written, but the audit log was not: %s",
		                    tr_strerror(rc));
	printf("backed up the store to %s (%lld bytes)\n", dbp, (long long)st.st_size);
	return 0;
}

static const tr_cmd_help restore_help = {
    "restore", "DIR",
    "Put the store copy in DIR (from `trestle backup`) in place of this node's store.\n"
    "Stop trestled first. The current store is kept beside it as\n"
    "store/data.mdb.before-restore.TIME, not deleted.",
    "The copy must be of this node (the same node key). Records written or received after\n"
    "the copy was made are not in it: partners send again what they share with this node\n"
    "(it tells them its queues started over), but records this node wrote since then stay\n"
    "only with the partners that received them."};

/* Copies from to to (created 0600, fsynced). 0 or errno. */
static int copy_file(const char *from, const char *to)
{
	int in = open(from, O_RDONLY | O_CLOEXEC), rc = 0;
	if (in < 0)
		return errno;
	int out = open(to, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (out < 0) {
		rc = errno;
		close(in);
		return rc;
	}
	static char buf[1 << 16];
	for (;;) {
		ssize_t n = read(in, buf, sizeof(buf));
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			rc = n < 0 ? errno : 0;
			break;
		}
		for (ssize_t off = 0; off < n;) {
			ssize_t w = write(out, buf + off, (size_t)(n - off));
			if (w < 0 && errno == EINTR)
				continue;
			if (w < 0) {
				rc = errno;
				break;
			}
			off += w;
		}
		if (rc)
			break;
	}
	if (!rc && fsync(out) != 0)
		rc = errno;
	if (close(out) != 0 && !rc)
		rc = errno;
	close(in);
	if (rc)
		unlink(to);
	return rc;
}

static int count_fn(tr_txn *t, void *ctx)
{
	return tr_txn_count(t, ctx);
}

int cmd_restore(tr_cli *cli, int argc, char **argv)
{
	const tr_opt opts[] = {{0}};
	const char *pos[1];
	size_t npos;
	char why[4600];
	int rc = tr_cli_begin(cli, &restore_help, opts, argc, argv, pos, 1, &npos, 0);
	if (rc >= 0)
		return rc;
	if (npos != 1)
		return tr_opt_usage_error(&restore_help, "which backup directory?");
	long pid = 0;
	if (tr_daemon_running(cli->home, &pid))
		return tr_cli_error("trestled (pid %ld) is running on %s: stop it first", pid,
		                    cli->home);
	rc = tr_keyfile_load(tr_cli_path(cli, TR_KEY_FILE), &cli->key, why, sizeof(why));
	if (rc == ENOENT)
		return tr_cli_error("no trestle node at %s (its node.key is needed to check the "
		                    "copy)",
		                    cli->home);
	if (rc)
		return tr_cli_error("%s", rc == TR_EKEY ? why : tr_strerror(rc));

	/* the copy must be a whole store of this very node */
	tr_store *b = NULL;
	uint64_t records = 0;
	rc = tr_store_open(pos[0], TR_STORE_RDONLY, tr_key_public(cli->key), &b);
	if (!rc)
		rc = tr_store_read(b, count_fn, &records);
	if (rc) {
		tr_cli_error("%s is not a copy to restore: %s", pos[0],
		             b && tr_store_detail(b)[0] ? tr_store_detail(b) : tr_strerror(rc));
		tr_store_close(&b);
		return TR_EXIT_ERROR;
	}
	tr_store_close(&b);

	char from[4200], live[4300], tmpdir[4300], tmp[4320], tmplock[4320], aside[4360], stamp[40];
	time_t now = time(NULL);
	struct tm tm;
	gmtime_r(&now, &tm);
	strftime(stamp, sizeof(stamp), "%Y%m%dT%H%M%SZ", &tm);
	snprintf(from, sizeof(from), "%s/data.mdb", pos[0]);
	snprintf(live, sizeof(live), "%s/data.mdb", tr_cli_path(cli, TR_STORE_DIR));
	snprintf(tmpdir, sizeof(tmpdir), "%s/restoring", tr_cli_path(cli, TR_STORE_DIR));
	snprintf(tmp, sizeof(tmp), "%s/data.mdb", tmpdir);
	snprintf(tmplock, sizeof(tmplock), "%s/lock.mdb", tmpdir);
	snprintf(aside, sizeof(aside), "%s.before-restore.%s", live, stamp);
	unlink(tmp); /* a restore cut short left them */
	unlink(tmplock);
	if (mkdir(tmpdir, 0700) != 0 && errno != EEXIST)
		return tr_cli_error("cannot create %s: %s", tmpdir, strerror(errno));
	if ((rc = copy_file(from, tmp)) != 0)
		return tr_cli_error("cannot copy %s: %s%s", from, strerror(rc),
		                    tr_cli_write_hint(rc));
	/* its queue positions went back: partners must pull from the start. The new epoch
	 * goes into the copy before it is put in place, so that no crash can leave a
	 * restored store with the old one. */
	rc = tr_store_open(tmpdir, 0, tr_key_public(cli->key), &b);
	if (!rc)
		rc = tr_store_new_epoch(b);
	tr_store_close(&b);
	unlink(tmplock);
	if (rc) {
		unlink(tmp);
		rmdir(tmpdir);
		return tr_cli_error("cannot prepare the copy: %s; nothing changed",
		                    tr_strerror(rc));
	}
	if (link(live, aside) != 0 && errno != ENOENT) {
		rc = errno;
		unlink(tmp);
		return tr_cli_error("cannot keep the current store as %s: %s; nothing changed",
		                    aside, strerror(rc));
	}
	if (rename(tmp, live) != 0) {
		rc = errno;
		unlink(tmp);
		rmdir(tmpdir);
		return tr_cli_error("cannot put the copy in place: %s; nothing changed",
		                    strerror(rc));
	}
	rmdir(tmpdir);
	tr_key_destroy(&cli->key); /* tr_cli_open loads it with the rest */
	if ((rc = tr_cli_open(cli)) != 0)
		return rc;
	char detail[8800];
	snprintf(detail, sizeof(detail), "from %s; the old store kept as %s", pos[0], aside);
	if ((rc = tr_cli_audit(cli, "restore", detail)) != 0)
		return tr_cli_error("restored, but the audit log was not written: %s",
		                    tr_strerror(rc));
	printf("restored %llu records from %s\nthe store it replaced is kept as %s\n",
	       (unsigned long long)records, from, aside);
	return 0;
}

/* ---- compact ---- */

int cmd_compact(tr_cli *cli, int argc, char **argv)
{
	static const tr_cmd_help h = {
	    "compact", "",
	    "Rewrite the store without its free pages. A retraction deletes fields and bodies "
	    "from the store, but the store file keeps the freed pages' bytes until they are "
	    "reused; compacting erases them. The running daemon does it by itself when idle "
	    "after a retraction (at most every ten minutes); this asks for it now.",
	    "Needs the store to itself for a moment: it fails (try again) while another\n"
	    "trestle command has it open."};
	const tr_opt none[] = {{0}};
	const char *pos[1];
	size_t npos;
	int rc = tr_cli_begin(cli, &h, none, argc, argv, pos, 0, &npos, 0);
	if (rc >= 0)
		return rc;
	/* the daemon holds the store: it compacts; this command must not open it too */
	tr_mpw w;
	char text[512];
	int ok = 0;
	tr_mpw_init(&w);
	tr_mpw_array(&w, 1);
	tr_mpw_str(&w, "compact", 7);
	rc = tr_mpw_error(&w) ? ENOMEM
	                      : tr_control_call(cli->home, tr_mpw_data(&w), tr_mpw_size(&w), 600000,
	                                        &ok, text, sizeof(text));
	tr_mpw_release(&w);
	if (rc == 0) {
		if (!ok)
			return tr_cli_error("the daemon did not compact the store: %s", text);
		printf("compacted the store (by the running daemon)\n");
		return 0;
	}
	if (rc != TR_ENOTFOUND)
		return tr_cli_error("cannot reach trestled: %s", tr_strerror(rc));
	if ((rc = tr_cli_open(cli)) != 0)
		return rc;
	int done = 0;
	uint64_t before = 0, after = 0;
	tr_store_size(cli->store, &before);
	rc = tr_store_compact(cli->store, &done);
	if (rc == TR_EBUSY)
		return tr_cli_error(
		    "another process has the store open; try again when it is done");
	if (rc)
		return tr_cli_error("the store was not compacted: %s%s", tr_strerror(rc),
		                    tr_cli_write_hint(rc));
	tr_store_size(cli->store, &after);
	printf("compacted the store: %llu -> %llu bytes\n", (unsigned long long)before,
	       (unsigned long long)after);
	return 0;
}

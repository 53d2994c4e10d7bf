/* cmd_backup.c: `trestle backup DIR`: a consistent hot copy of the store, taken while
 * the node keeps working (LMDB's own copy, inside one read transaction). */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"
#include "error.h"
#include "../../proto/banned.h"

static const tr_cmd_help help = {
    "backup", "DIR",
    "Write a consistent copy of the store into DIR (created if missing; it must not hold a\n"
    "store already). Safe while trestled and other commands are running.",
    "The copy is compacted. It does not include the node key or the config: back up\n"
    "node.key separately and keep it secret. To restore, stop trestled and put the copy's\n"
    "data.mdb in place of HOME/store/data.mdb."};

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

/* cmd_init.c: `trestle init`: a new node: home directory, key, config and store.
 * Never overwrites an existing node: --force moves the old one aside first. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "error.h"
#include "keyfile.h"
#include "../../proto/banned.h"

static const tr_cmd_help help = {
    "init", "",
    "Create a node in the home directory: a new Ed25519 node key (mode 0600), a commented\n"
    "config file and an empty store.",
    "An existing node is never overwritten: init refuses, and with --force moves the old\n"
    "files into a replaced-DATE directory inside the home first.\n\n"
    "example:\n  trestle --home /var/lib/trestle init --name \"Nordic Dish AB\" --role "
    "distributor"};

static int mkdir_p(const char *path)
{
	char buf[4096];
	snprintf(buf, sizeof(buf), "%s", path);
	for (char *p = buf + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(buf, 0700) != 0 && errno != EEXIST)
			return errno;
		*p = '/';
	}
	if (mkdir(buf, 0700) != 0 && errno != EEXIST)
		return errno;
	return 0;
}

static int exists(const char *p)
{
	struct stat st;
	return lstat(p, &st) == 0;
}

/* Moves the old node's files into home/replaced-YYYYmmdd-HHMMSS/. */
static int move_aside(tr_cli *cli, char *dest, size_t n)
{
	static const char *const names[] = {TR_CONFIG_FILE, TR_KEY_FILE, TR_STORE_DIR};
	time_t now = time(NULL);
	struct tm tm;
	char stamp[32];
	gmtime_r(&now, &tm);
	strftime(stamp, sizeof(stamp), "%Y%m%d-%H%M%S", &tm);
	snprintf(dest, n, "%s/replaced-%s", cli->home, stamp);
	for (int i = 2; mkdir(dest, 0700) != 0; i++) { /* twice in one second: -2, -3, ... */
		if (errno != EEXIST || i > 100)
			return errno;
		snprintf(dest, n, "%s/replaced-%s-%d", cli->home, stamp, i);
	}
	for (size_t i = 0; i < 3; i++) {
		char from[4200], to[8400];
		snprintf(from, sizeof(from), "%s/%s", cli->home, names[i]);
		snprintf(to, sizeof(to), "%s/%s", dest, names[i]);
		if (exists(from) && rename(from, to) != 0)
			return errno;
	}
	return 0;
}

int cmd_init(tr_cli *cli, int argc, char **argv)
{
	const char *name = NULL, *role = NULL, *listen = NULL;
	int force = 0;
	const tr_opt opts[] = {
	    {"name", 'n', TR_OPT_STR, &name, "NAME", "the firm's name, as partners see it"},
	    {"role", 'r', TR_OPT_STR, &role, "ROLE",
	     "producer, distributor or user (default user)"},
	    {"listen", 0, TR_OPT_STR, &listen, "ENDPOINT",
	     "where trestled listens (default tcp://127.0.0.1:7700)"},
	    {"force", 0, TR_OPT_FLAG, &force, NULL,
	     "replace an existing node, moving its files aside"},
	    {0}};
	const char *pos[1];
	size_t npos;
	int rc = tr_cli_begin(cli, &help, opts, argc, argv, pos, 0, &npos, 0);
	if (rc >= 0)
		return rc;

	tr_config c;
	char why[512];
	tr_config_defaults(&c);
	if ((name && tr_config_set(&c, "name", name, why, sizeof(why))) ||
	    (role && tr_config_set(&c, "role", role, why, sizeof(why))) ||
	    (listen && tr_config_set(&c, "listen", listen, why, sizeof(why))))
		return tr_opt_usage_error(&help, "%s", why);

	char keyp[4200], confp[4200], storep[4200], dbp[4300];
	snprintf(keyp, sizeof(keyp), "%s/%s", cli->home, TR_KEY_FILE);
	snprintf(confp, sizeof(confp), "%s/%s", cli->home, TR_CONFIG_FILE);
	snprintf(storep, sizeof(storep), "%s/%s", cli->home, TR_STORE_DIR);
	snprintf(dbp, sizeof(dbp), "%s/data.mdb", storep);
	if (exists(keyp) || exists(confp) || exists(dbp)) {
		if (!force)
			return tr_cli_error(
			    "a node already exists at %s; to replace it, run init "
			    "with --force (the old files are moved aside, not deleted)",
			    cli->home);
		char dest[4300];
		if ((rc = move_aside(cli, dest, sizeof(dest))) != 0)
			return tr_cli_error("cannot move the old node aside: %s", strerror(rc));
		fprintf(stderr, "trestle: the old node's files are in %s\n", dest);
	}
	if ((rc = mkdir_p(cli->home)) != 0 || (rc = mkdir_p(storep)) != 0)
		return tr_cli_error("cannot create %s: %s", cli->home, strerror(rc));

	rc = tr_keyfile_create(keyp, &cli->key);
	if (rc)
		return tr_cli_error("cannot write the node key %s: %s", keyp, tr_strerror(rc));
	rc = tr_config_write(confp, &c);
	if (rc) {
		unlink(keyp);
		return tr_cli_error("cannot write %s: %s", confp, tr_strerror(rc));
	}
	rc = tr_store_open(storep, TR_STORE_CREATE, tr_key_public(cli->key), &cli->store);
	if (rc) {
		tr_cli_error("cannot create the store: %s", tr_store_detail(cli->store));
		tr_store_close(&cli->store);
		unlink(keyp);
		unlink(confp);
		unlink(dbp);
		snprintf(dbp, sizeof(dbp), "%s/lock.mdb", storep);
		unlink(dbp);
		return TR_EXIT_ERROR;
	}
	char detail[300];
	snprintf(detail, sizeof(detail), "name=%s role=%s", c.name, c.role);
	if ((rc = tr_cli_audit(cli, "init", detail)) != 0)
		return tr_cli_error("cannot write the audit log: %s", tr_strerror(rc));
	char id[TR_NODEID_TEXT_SIZE], fpr[TR_FPR_TEXT_SIZE];
	tr_nodeid_format(tr_key_public(cli->key), id);
	tr_fingerprint_format(tr_key_public(cli->key), fpr);
	printf("created node \"%s\" (%s) in %s\nnode id:     %s\nfingerprint: %s\n", c.name, c.role,
	       cli->home, id, fpr);
	return 0;
}

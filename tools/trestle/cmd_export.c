/* cmd_export.c: `trestle export`: records as JSON lines, each with its signed envelope,
 * so that `trestle import` of the output stores the very same records (same ids,
 * same signatures) on any node. */
#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "error.h"
#include "../../proto/banned.h"

static const tr_cmd_help help = {
    "export", "",
    "Write records as JSON lines (one object per record, with the fields readable and the\n"
    "signed record under \"record\"), in arrival order. Filters as for `record list`.",
    "examples:\n  trestle export > all.jsonl\n"
    "  trestle export --kind claim --since 2026-01-01 -o claims.jsonl"};

struct export_ctx {
	FILE *out;
	uint64_t n;
	tr_query q;
};

static int row(void *ctx, const tr_hit *h)
{
	struct export_ctx *e = ctx;
	json_t *o = tr_record_json(h->rec, h->env, h->len, h->source, 1);
	int rc = json_dumpf(o, e->out, JSON_COMPACT);
	json_decref(o);
	if (rc || fputc('\n', e->out) == EOF)
		return errno ? errno : EIO;
	e->n++;
	return 0;
}

static int export_fn(tr_txn *t, void *ctx)
{
	struct export_ctx *e = ctx;
	e->n = 0;
	return tr_txn_scan(t, &e->q, row, e);
}

int cmd_export(tr_cli *cli, int argc, char **argv)
{
	tr_filter f;
	memset(&f, 0, sizeof(f));
	const char *output = NULL;
	const tr_opt opts[] = {TR_FILTER_OPTS(f),
	                       {"output", 'o', TR_OPT_STR, &output, "FILE",
	                        "write to FILE (replaced only when complete) instead of stdout"},
	                       {0}};
	const char *pos[1];
	size_t npos;
	int rc = tr_cli_begin(cli, &help, opts, argc, argv, pos, 0, &npos, 1);
	if (rc >= 0)
		return rc;
	struct export_ctx e = {stdout, 0, {0}};
	if ((rc = tr_cli_query(cli, &help, &f, &e.q)) != 0)
		return rc;
	char tmp[4200];
	if (output) {
		snprintf(tmp, sizeof(tmp), "%s.tmp", output);
		/* private from the first byte (records hold what firms keep to themselves), and
		 * never through a symlink someone left at FILE.tmp */
		int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600);
		if (fd < 0 || fchmod(fd, 0600) != 0 || !(e.out = fdopen(fd, "w"))) {
			int err = errno;
			if (fd >= 0)
				close(fd);
			return tr_cli_error("cannot write %s: %s", tmp, strerror(err));
		}
	}
	rc = tr_store_read(cli->store, export_fn, &e);
	if (output) {
		if (fflush(e.out) != 0 && !rc)
			rc = errno;
		if (fclose(e.out) != 0 && !rc)
			rc = errno;
		if (!rc && rename(tmp, output) != 0)
			rc = errno;
		if (rc)
			unlink(tmp);
	}
	if (rc)
		return tr_cli_error("export failed: %s", tr_strerror(rc));
	if (output)
		printf("exported %llu record%s to %s\n", (unsigned long long)e.n,
		       e.n == 1 ? "" : "s", output);
	return 0;
}

/* cmd_audit.c: `trestle audit`: what the node's admins did, oldest first. */
#include <string.h>

#include "cli.h"
#include "error.h"
#include "../../proto/banned.h"

static const tr_cmd_help help = {"audit", "",
                                 "Show the audit log: every admin action, oldest first.", NULL};

struct audit_print {
	int json;
};

static int print_entry(void *ctx, const tr_audit_entry *e)
{
	struct audit_print *p = ctx;
	char when[40];
	tr_time_iso(e->time_ms, when, sizeof(when));
	if (p->json) {
		json_t *o = json_object();
		json_object_set_new(o, "seq", json_integer((json_int_t)e->seq));
		json_object_set_new(o, "time", json_string(when));
		json_object_set_new(o, "action", json_stringn(e->action.p, e->action.n));
		json_object_set_new(o, "detail", json_stringn(e->detail.p, e->detail.n));
		json_dumpf(o, stdout, JSON_COMPACT);
		putchar('\n');
		json_decref(o);
	} else {
		printf("%6llu  %s  %-10.*s %.*s\n", (unsigned long long)e->seq, when,
		       (int)e->action.n, e->action.p, (int)e->detail.n, e->detail.p);
	}
	return 0;
}

static int scan(tr_txn *t, void *ctx)
{
	return tr_txn_audit_scan(t, print_entry, ctx);
}

int cmd_audit(tr_cli *cli, int argc, char **argv)
{
	struct audit_print p = {0};
	const tr_opt opts[] = {{"json", 0, TR_OPT_FLAG, &p.json, NULL, "one JSON object per line"},
	                       {0}};
	const char *pos[1];
	size_t npos;
	int rc = tr_cli_begin(cli, &help, opts, argc, argv, pos, 0, &npos, 1);
	if (rc >= 0)
		return rc;
	if ((rc = tr_store_read(cli->store, scan, &p)) != 0)
		return tr_cli_error("cannot read the audit log: %s", tr_strerror(rc));
	return 0;
}

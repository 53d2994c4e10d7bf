/* cmd_share.c: `trestle share` (an explicit grant of one record to one partner) and
 * `trestle inbox` (records received that wait for the admin: forward or decline).
 * Both go through the store's one decision: a grant never overrides the author's
 * terms or consent. */
#include <inttypes.h>
#include <string.h>

#include "cli.h"
#include "control.h"
#include "error.h"
#include "../../proto/banned.h"

struct grant_ctx {
	const char *partner, *action, *reason;
	uint8_t id[TR_ID_BYTES];
	char fields[TR_MAX_FIELDS][TR_MAX_NAME + 1];
	size_t nfields;
	int revoke, retract, decline;
	tr_partner p;
	uint64_t retracted;
	char why[400];
};

static int grant_fn(tr_txn *t, void *vctx)
{
	struct grant_ctx *c = vctx;
	char hex[TR_ID_HEX_SIZE], detail[700], list[600] = "all";
	uint64_t version;
	int rc;
	c->retracted = 0;
	c->why[0] = '\0';
	tr_id_hex(c->id, hex);
	if (c->decline) {
		if ((rc = tr_txn_inbox_decline(t, c->id)) != 0)
			return rc;
		snprintf(detail, sizeof(detail), "%.16s%s%s (by %s)", hex, c->reason ? ": " : "",
		         c->reason ? c->reason : "", tr_cli_who());
		return tr_txn_audit(t, tr_now_ms(), "inbox-decline", detail);
	}
	if ((rc = tr_txn_partner_find(t, c->partner, &c->p)) != 0)
		return rc;
	rc =
	    c->revoke
	        ? tr_txn_grant_revoke(t, c->p.index, c->id, c->retract, tr_now_ms(), &c->retracted)
	        : tr_txn_grant(t, c->p.index, c->id, c->fields, c->nfields, c->why, sizeof(c->why));
	if (rc)
		return rc;
	tr_txn_policy_version(t, &version);
	for (size_t i = 0, o = 0; i < c->nfields && o < sizeof(list); i++)
		o += (size_t)snprintf(list + o, sizeof(list) - o, "%s%s", i ? "," : "",
		                      c->fields[i]);
	snprintf(detail, sizeof(detail),
	         "%.16s to %s, fields %s%s (by %s, policy version %" PRIu64 ")", hex, c->p.name,
	         list, c->retract ? ", retracted" : "", tr_cli_who(), version);
	return tr_txn_audit(t, tr_now_ms(), c->action, detail);
}

static int run_grant(tr_cli *cli, struct grant_ctx *c, const char *record)
{
	int rc = tr_cli_resolve(cli, record, c->id);
	if (rc)
		return rc;
	rc = tr_store_write(cli->store, grant_fn, c);
	if (rc == TR_ENOTFOUND && c->decline)
		return tr_cli_error("record %s is not in the inbox (see `trestle inbox`)", record);
	if (rc == TR_ENOTFOUND && !c->p.name[0])
		return tr_cli_error("no partner named %s (see `trestle partner list`)", c->partner);
	if (rc == TR_ENOTFOUND && c->revoke)
		return tr_cli_error("record %s was not granted to %s; nothing changed", record,
		                    c->p.name);
	if (rc == TR_EPERM || rc == TR_EINVAL)
		return tr_cli_error("%s; nothing changed", c->why);
	if (rc)
		return tr_cli_error("nothing changed: %s%s", tr_strerror(rc),
		                    tr_cli_write_hint(rc));
	tr_control_kick(cli->home);
	return 0;
}

int cmd_share(tr_cli *cli, int argc, char **argv)
{
	static const tr_cmd_help h = {
	    "share", "RECORD --to PARTNER",
	    "Grant one record to a partner, whatever the rules say, or (--revoke) take the "
	    "grant back. The author's onward terms and consent still hold: a grant cannot send "
	    "what they forbid.",
	    "examples:\n  trestle share 9f3a2c --to acme --fields title,text,product\n"
	    "  trestle share 9f3a2c --to acme --revoke --retract"};
	static struct grant_ctx c;
	const char *fields = NULL;
	memset(&c, 0, sizeof(c));
	const tr_opt opts[] = {
	    {"to", 0, TR_OPT_STR, &c.partner, "PARTNER", "the partner (name or node id); required"},
	    {"fields", 'f', TR_OPT_STR, &fields, "F,G", "disclose only these fields (default all)"},
	    {"revoke", 0, TR_OPT_FLAG, &c.revoke, NULL, "take the grant back"},
	    {"retract", 0, TR_OPT_FLAG, &c.retract, NULL,
	     "with --revoke: retract what the partner received that no rule allows"},
	    {0}};
	const char *pos[1];
	size_t npos;
	char why[300];
	int rc = tr_cli_begin(cli, &h, opts, argc, argv, pos, 1, &npos, 0);
	if (rc >= 0)
		return rc;
	if (npos != 1 || !c.partner)
		return tr_opt_usage_error(&h, "give a RECORD (id or prefix) and --to PARTNER");
	if (c.retract && !c.revoke)
		return tr_opt_usage_error(
		    &h, "--retract goes with --revoke (or use `trestle retract`)");
	if (fields && c.revoke)
		return tr_opt_usage_error(&h, "--fields and --revoke do not go together");
	if (fields && tr_cli_fields(fields, c.fields, &c.nfields, why, sizeof(why)))
		return tr_opt_usage_error(&h, "--fields: %s", why);
	if ((rc = tr_cli_open(cli)) != 0)
		return rc;
	c.action = c.revoke ? "share-revoke" : "share";
	if ((rc = run_grant(cli, &c, pos[0])) != 0)
		return rc;
	if (c.revoke)
		printf("revoked the grant of %s to %s%s\n", pos[0], c.p.name,
		       c.retracted ? "; a retraction is queued" : "");
	else
		printf("granted %s to %s; it goes with its next pull\n", pos[0], c.p.name);
	return 0;
}

/* ---- inbox ---- */

struct inbox_ctx {
	int json;
	json_t *arr;
	size_t rows;
	tr_txn *t;
};

static int inbox_row(void *vctx, const tr_hit *h)
{
	struct inbox_ctx *c = vctx;
	char hex[TR_ID_HEX_SIZE], from[TR_PARTNER_NAME_MAX + 16], when[40], sum[200],
	    author[TR_FPR_TEXT_SIZE];
	tr_id_hex(h->rec->id, hex);
	tr_partner_name_of(c->t, h->source, from, sizeof(from));
	tr_fingerprint_format(h->rec->author, author);
	if (c->json) {
		json_t *o = tr_record_json(h->rec, h->env, h->len, h->source, 0);
		json_object_set_new(o, "from", json_string(from));
		json_array_append_new(c->arr, o);
	} else {
		tr_time_short(h->rec->created_ms, when, sizeof(when));
		tr_record_summary(h->rec, sum, 60);
		if (!c->rows)
			printf("%-12s %-13s %-16s %-14s %-10s %s\n", "RECORD", "KIND", "CREATED",
			       "FROM", "AUTHOR", "SUMMARY");
		printf("%.12s %-13.*s %-16s %-14s %-10s %s\n", hex, (int)h->rec->kind.n,
		       h->rec->kind.p, when, from, author, sum);
	}
	c->rows++;
	return 0;
}

static int inbox_fn(tr_txn *t, void *vctx)
{
	struct inbox_ctx *c = vctx;
	c->t = t;
	c->rows = 0;
	return tr_txn_inbox_scan(t, inbox_row, c);
}

static int inbox_list(tr_cli *cli, int argc, char **argv)
{
	static const tr_cmd_help h = {
	    "inbox", "[forward|decline ...]",
	    "List the records received from a partner that no rule or grant passed on yet and "
	    "that their author's terms would let go further. Pass one on with `trestle inbox "
	    "forward RECORD --to PARTNER`, or drop it from the inbox with `trestle inbox "
	    "decline RECORD`.",
	    "A rule with --forward passes such records on by itself."};
	struct inbox_ctx c;
	memset(&c, 0, sizeof(c));
	const tr_opt opts[] = {{"json", 0, TR_OPT_FLAG, &c.json, NULL, "print a JSON array"}, {0}};
	const char *pos[1];
	size_t npos;
	int rc = tr_cli_begin(cli, &h, opts, argc, argv, pos, 0, &npos, 1);
	if (rc >= 0)
		return rc;
	c.arr = json_array();
	rc = tr_store_read(cli->store, inbox_fn, &c);
	if (!rc && c.json) {
		json_dumpf(c.arr, stdout, JSON_INDENT(2));
		putchar('\n');
	} else if (!rc && !c.rows && cli->out_tty)
		fprintf(stderr, "the inbox is empty\n");
	json_decref(c.arr);
	return rc ? tr_cli_error("cannot read the inbox: %s", tr_strerror(rc)) : 0;
}

int cmd_inbox(tr_cli *cli, int argc, char **argv)
{
	if (argc < 2 || argv[1][0] == '-')
		return inbox_list(cli, argc, argv);
	static const tr_cmd_help fh = {
	    "inbox forward", "RECORD --to PARTNER",
	    "Pass a record from the inbox on to a partner (an explicit grant, as `trestle "
	    "share`). Refused, with the reason, when its author's terms or consent forbid it.",
	    "example:\n  trestle inbox forward 9f3a2c --to acme --fields title,text,product"};
	static const tr_cmd_help dh = {"inbox decline", "RECORD",
	                               "Take a record out of the inbox without passing it on.",
	                               NULL};
	static struct grant_ctx c;
	const char *fields = NULL;
	memset(&c, 0, sizeof(c));
	int forward = !strcmp(argv[1], "forward");
	if (!forward && strcmp(argv[1], "decline"))
		return tr_opt_usage_error(&fh, "unknown subcommand \"%s\" (forward or decline)",
		                          argv[1]);
	const tr_opt fopts[] = {
	    {"to", 0, TR_OPT_STR, &c.partner, "PARTNER", "the partner (name or node id); required"},
	    {"fields", 'f', TR_OPT_STR, &fields, "F,G", "disclose only these fields (default all)"},
	    {0}};
	const tr_opt dopts[] = {
	    {"reason", 0, TR_OPT_STR, &c.reason, "TEXT", "why (kept in the audit log)"}, {0}};
	const char *pos[1];
	size_t npos;
	char why[300];
	const tr_cmd_help *h = forward ? &fh : &dh;
	int rc =
	    tr_cli_begin(cli, h, forward ? fopts : dopts, argc - 1, argv + 1, pos, 1, &npos, 0);
	if (rc >= 0)
		return rc;
	if (npos != 1 || (forward && !c.partner))
		return tr_opt_usage_error(h, forward ? "give a RECORD and --to PARTNER"
		                                     : "give a RECORD");
	if (fields && tr_cli_fields(fields, c.fields, &c.nfields, why, sizeof(why)))
		return tr_opt_usage_error(h, "--fields: %s", why);
	if ((rc = tr_cli_open(cli)) != 0)
		return rc;
	c.decline = !forward;
	c.action = "inbox-forward";
	if ((rc = run_grant(cli, &c, pos[0])) != 0)
		return rc;
	if (forward)
		printf("forwarded %s to %s; it goes with its next pull\n", pos[0], c.p.name);
	else
		printf("declined %s: it stays here and leaves the inbox\n", pos[0]);
	return 0;
}

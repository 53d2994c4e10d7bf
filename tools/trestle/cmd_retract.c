/* cmd_retract.c: `trestle retract` (take back what this node sent: a signed retraction
 * per partner that got the record) and `trestle retractions` (the retractions this node
 * sent, and which receipts are still outstanding). */
#include <inttypes.h>
#include <string.h>

#include "cli.h"
#include "control.h"
#include "error.h"
#include "../../proto/banned.h"

struct retract_ctx {
	const char *partner, *fields, *reason;
	uint8_t id[TR_ID_BYTES];
	tr_partner p;
	uint64_t n;
	char why[400];
};

static int retract_fn(tr_txn *t, void *vctx)
{
	struct retract_ctx *c = vctx;
	char hex[TR_ID_HEX_SIZE], detail[800];
	int rc;
	c->why[0] = '\0';
	if (c->partner && (rc = tr_txn_partner_find(t, c->partner, &c->p)) != 0)
		return rc;
	rc = tr_txn_retract(t, c->id, c->partner ? c->p.index : 0, c->fields, c->reason,
	                    tr_now_ms(), &c->n, c->why, sizeof(c->why));
	if (rc)
		return rc;
	tr_id_hex(c->id, hex);
	snprintf(detail, sizeof(detail), "%.16s from %s, fields %s (by %s)", hex,
	         c->partner ? c->p.name : "every partner that got it",
	         c->fields ? c->fields : "all", tr_cli_who());
	return tr_txn_audit(t, tr_now_ms(), "retract", detail);
}

int cmd_retract(tr_cli *cli, int argc, char **argv)
{
	static const tr_cmd_help h = {
	    "retract", "RECORD",
	    "Take back a record this node sent: a signed retraction goes to each partner that "
	    "got it (or only --to PARTNER). An honest node deletes the record's body (or the "
	    "--fields named) and answers with a signed receipt; `trestle retractions` lists "
	    "the receipts still outstanding.",
	    "Rules and grants are not changed: to stop sending the record too, narrow the rule\n"
	    "(`trestle policy remove RULE --retract`) or revoke the grant (`trestle share\n"
	    "RECORD --to PARTNER --revoke --retract`).\n"
	    "example:\n  trestle retract 9f3a2c --to acme --fields customer --reason \"sent by "
	    "mistake\""};
	static struct retract_ctx c;
	char list[TR_MAX_FIELDS][TR_MAX_NAME + 1], why[300];
	size_t nl;
	memset(&c, 0, sizeof(c));
	const tr_opt opts[] = {
	    {"to", 0, TR_OPT_STR, &c.partner, "PARTNER", "only this partner"},
	    {"fields", 'f', TR_OPT_STR, &c.fields, "F,G", "only these fields (default: the body)"},
	    {"reason", 0, TR_OPT_STR, &c.reason, "TEXT", "why, for the recipient"},
	    {0}};
	const char *pos[1];
	size_t npos;
	int rc = tr_cli_begin(cli, &h, opts, argc, argv, pos, 1, &npos, 0);
	if (rc >= 0)
		return rc;
	if (npos != 1)
		return tr_opt_usage_error(&h, "give a RECORD (id or prefix)");
	if (c.fields && tr_cli_fields(c.fields, list, &nl, why, sizeof(why)))
		return tr_opt_usage_error(&h, "--fields: %s", why);
	if ((rc = tr_cli_open(cli)) != 0)
		return rc;
	if ((rc = tr_cli_resolve(cli, pos[0], c.id)) != 0)
		return rc;
	rc = tr_store_write(cli->store, retract_fn, &c);
	if (rc == TR_ENOTFOUND && c.partner && !c.p.name[0])
		return tr_cli_error("no partner named %s (see `trestle partner list`)", c.partner);
	if (rc && c.why[0])
		return tr_cli_error("%s; nothing changed", c.why);
	if (rc)
		return tr_cli_error("nothing changed: %s%s", tr_strerror(rc),
		                    tr_cli_write_hint(rc));
	tr_control_kick(cli->home);
	printf("%" PRIu64 " retraction%s queued; receipts: `trestle retractions`\n", c.n,
	       c.n == 1 ? "" : "s");
	return 0;
}

/* ---- retractions ---- */

struct list_ctx {
	int json, outstanding_only;
	json_t *arr;
	size_t rows, outstanding;
	tr_txn *t;
	const uint8_t *self;
};

struct receipt_ctx {
	char result[16];
	int found;
};

static int receipt_cb(void *vctx, const tr_hit *h)
{
	struct receipt_ctx *r = vctx;
	const tr_field *f = tr_record_field(h->rec, "result");
	r->found = 1;
	if (f && f->disclosed && f->value.type == TR_VAL_STR)
		snprintf(r->result, sizeof(r->result), "%.*s", (int)f->value.s.n, f->value.s.p);
	return 1;
}

static int list_row(void *vctx, const tr_hit *h)
{
	struct list_ctx *c = vctx;
	const tr_record *rec = h->rec;
	char hex[TR_ID_HEX_SIZE], ref[TR_ID_HEX_SIZE], to[80], fields[1100], who[100], when[40];
	uint8_t id[TR_ID_BYTES];
	if (memcmp(rec->author, c->self, TR_PK_BYTES) != 0 || rec->nrefs != 1)
		return 0; /* received: not one this node sent */
	tr_id_hex(rec->id, hex);
	tr_id_hex(rec->refs[0], ref);
	memcpy(id, rec->id, TR_ID_BYTES);
	tr_time_short(rec->created_ms, when, sizeof(when));
	tr_cli_field_text(rec, "to", to, sizeof(to), 0);
	tr_cli_field_text(rec, "fields", fields, sizeof(fields), 0);
	tr_partner p;
	if (to[0] && tr_txn_partner_find(c->t, to, &p) == 0)
		snprintf(who, sizeof(who), "%s", p.name);
	else
		snprintf(who, sizeof(who), "%.24s", to[0] ? to : "(every holder)");
	struct receipt_ctx r = {"", 0};
	tr_query q;
	memset(&q, 0, sizeof(q));
	q.kind = "receipt";
	q.ref = id;
	int rc = tr_txn_scan(c->t, &q, receipt_cb, &r);
	if (rc && rc != 1)
		return rc;
	if (!r.found)
		c->outstanding++;
	if (c->outstanding_only && r.found)
		return 0;
	if (c->json) {
		json_array_append_new(
		    c->arr, json_pack("{s:s, s:s, s:s, s:s?, s:s, s:s?}", "id", hex, "record", ref,
		                      "partner", who, "fields", fields[0] ? fields : NULL,
		                      "created", when, "receipt", r.found ? r.result : NULL));
	} else {
		if (!c->rows)
			printf("%-12s %-12s %-20s %-16s %-20s %s\n", "RETRACTION", "RECORD",
			       "PARTNER", "SENT", "FIELDS", "RECEIPT");
		printf("%.12s %.12s %-20s %-16s %-20s %s\n", hex, ref, who, when,
		       fields[0] ? fields : "(the body)", r.found ? r.result : "outstanding");
	}
	c->rows++;
	return 0;
}

static int list_fn(tr_txn *t, void *vctx)
{
	struct list_ctx *c = vctx;
	tr_query q;
	memset(&q, 0, sizeof(q));
	q.kind = "retraction";
	q.author = c->self;
	c->t = t;
	c->rows = c->outstanding = 0;
	return tr_txn_scan(t, &q, list_row, c);
}

int cmd_retractions(tr_cli *cli, int argc, char **argv)
{
	static const tr_cmd_help h = {
	    "retractions", "",
	    "List the retractions this node sent (`trestle retract`, `policy remove --retract`, "
	    "`share --revoke --retract`, `consent withdraw`) and each one's receipt: deleted, "
	    "not_held, or outstanding.",
	    "exit status 0 also when receipts are outstanding; --outstanding lists only those."};
	struct list_ctx c;
	memset(&c, 0, sizeof(c));
	const tr_opt opts[] = {{"outstanding", 0, TR_OPT_FLAG, &c.outstanding_only, NULL,
	                        "only those with no receipt"},
	                       {"json", 0, TR_OPT_FLAG, &c.json, NULL, "print a JSON array"},
	                       {0}};
	const char *pos[1];
	size_t npos;
	int rc = tr_cli_begin(cli, &h, opts, argc, argv, pos, 0, &npos, 1);
	if (rc >= 0)
		return rc;
	c.self = tr_key_public(cli->key);
	c.arr = json_array();
	rc = tr_store_read(cli->store, list_fn, &c);
	if (!rc && c.json) {
		json_dumpf(c.arr, stdout, JSON_INDENT(2));
		putchar('\n');
	} else if (!rc && cli->out_tty)
		fprintf(stderr, "%zu receipt%s outstanding\n", c.outstanding,
		        c.outstanding == 1 ? "" : "s");
	json_decref(c.arr);
	return rc ? tr_cli_error("cannot list retractions: %s", tr_strerror(rc)) : 0;
}

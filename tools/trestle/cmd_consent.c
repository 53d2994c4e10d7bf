/* cmd_consent.c: `trestle consent grant|withdraw|list`: a firm's consent to a partner
 * passing its records on (ideas, claims, trial answers). The consent is a signed record
 * that goes to that partner only; withdrawing it is a signed retraction of it, and the
 * partner stops passing the firm's records on when it arrives. */
#include <inttypes.h>
#include <string.h>

#include "cli.h"
#include "control.h"
#include "error.h"
#include "../../proto/banned.h"

struct grant_ctx {
	const char *partner, *purposes, *until, *text, *reason;
	uint8_t id[TR_ID_BYTES];
	tr_partner p;
	const tr_key *key;
	int withdraw;
	uint64_t sent;
	char why[400];
};

struct withdrawn_ctx {
	const uint8_t *author;
	int found;
};

static int withdrawn_cb(void *vctx, const tr_hit *h)
{
	struct withdrawn_ctx *w = vctx;
	if (!memcmp(h->rec->author, w->author, TR_PK_BYTES))
		w->found = 1;
	return w->found;
}

static int consent_fn(tr_txn *t, void *vctx)
{
	struct grant_ctx *c = vctx;
	char grantee[TR_NODEID_TEXT_SIZE], hex[TR_ID_HEX_SIZE], detail[700];
	tr_mpw w;
	int rc;
	c->why[0] = '\0';
	if (c->withdraw) {
		const uint8_t *env;
		size_t len;
		tr_record r;
		if ((rc = tr_txn_get(t, c->id, &env, &len, NULL, NULL)) != 0)
			return rc;
		if (tr_record_decode(env, len, &r) != 0)
			return TR_ECORRUPT;
		if (!tr_str_eq(r.kind, "consent")) {
			snprintf(c->why, sizeof(c->why), "that record is a %.*s, not a consent",
			         (int)r.kind.n, r.kind.p);
			return TR_EINVAL;
		}
		if (memcmp(r.author, tr_key_public(c->key), TR_PK_BYTES) != 0) {
			char author[TR_NODEID_TEXT_SIZE];
			tr_nodeid_format(r.author, author);
			snprintf(c->why, sizeof(c->why),
			         "that consent was given by another node (%s); only its author can "
			         "withdraw it",
			         author);
			return TR_EPERM;
		}
		/* withdrawn once is withdrawn: a second retraction would only add noise */
		struct withdrawn_ctx done = {tr_key_public(c->key), 0};
		tr_query q;
		memset(&q, 0, sizeof(q));
		q.kind = "retraction";
		q.ref = c->id;
		if ((rc = tr_txn_scan(t, &q, withdrawn_cb, &done)) != 0 && rc != 1)
			return rc;
		if (done.found) {
			snprintf(c->why, sizeof(c->why), "that consent is withdrawn already");
			return TR_EEXIST;
		}
		rc = tr_txn_retract(t, c->id, 0, NULL, c->reason ? c->reason : "consent withdrawn",
		                    tr_now_ms(), &c->sent, c->why, sizeof(c->why));
		if (rc)
			return rc;
		tr_id_hex(c->id, hex);
		snprintf(detail, sizeof(detail), "%.16s (by %s)", hex, tr_cli_who());
		return tr_txn_audit(t, tr_now_ms(), "consent-withdraw", detail);
	}
	if ((rc = tr_txn_partner_find(t, c->partner, &c->p)) != 0)
		return rc;
	tr_nodeid_format(c->p.id, grantee);
	tr_record rec;
	tr_record_init(&rec);
	rec.kind.p = "consent";
	rec.kind.n = 7;
	if ((rc = tr_record_add_str(&rec, "scope", c->purposes, strlen(c->purposes))) != 0 ||
	    (rc = tr_record_add_str(&rec, "grantee", grantee, strlen(grantee))) != 0 ||
	    (c->until &&
	     (rc = tr_record_add_str(&rec, "until", c->until, strlen(c->until))) != 0) ||
	    (c->text && (rc = tr_record_add_str(&rec, "text", c->text, strlen(c->text))) != 0))
		return rc;
	tr_mpw_init(&w);
	rc = tr_txn_create(t, c->key, &rec, tr_now_ms(), &w, c->why, sizeof(c->why));
	tr_mpw_release(&w);
	if (rc)
		return rc;
	memcpy(c->id, rec.id, TR_ID_BYTES);
	if ((rc = tr_txn_grant(t, c->p.index, c->id, NULL, 0, c->why, sizeof(c->why))) != 0)
		return rc;
	tr_id_hex(c->id, hex);
	snprintf(detail, sizeof(detail), "%.16s to %s for %s%s%s (by %s)", hex, c->p.name,
	         c->purposes, c->until ? " until " : "", c->until ? c->until : "", tr_cli_who());
	return tr_txn_audit(t, tr_now_ms(), "consent-grant", detail);
}

static int consent_change(tr_cli *cli, int argc, char **argv, int withdraw)
{
	static const tr_cmd_help gh = {
	    "consent grant", "PARTNER --for PURPOSES",
	    "Consent to PARTNER passing this firm's records on to its own partners: ideas, "
	    "claims, trials (answers to test requests and trial reports). The consent is a "
	    "signed record that goes to PARTNER only; without it PARTNER's node passes none of "
	    "this firm's records of those kinds on, whatever its rules say.",
	    "The records still travel only as far, to the roles and with the fields their own\n"
	    "onward terms allow.\n"
	    "example:\n  trestle consent grant nordic-dish --for ideas,trials --until 2027-06-30"};
	static const tr_cmd_help wh = {
	    "consent withdraw", "CONSENT",
	    "Withdraw a consent this node gave: a signed retraction goes to the partner it was "
	    "given to, which stops passing this firm's records on as soon as it arrives.",
	    "example:\n  trestle consent withdraw 51c0e2"};
	static struct grant_ctx c;
	memset(&c, 0, sizeof(c));
	c.withdraw = withdraw;
	const tr_opt gopts[] = {
	    {"for", 0, TR_OPT_STR, &c.purposes, "PURPOSES", "ideas, claims, trials (comma list)"},
	    {"until", 0, TR_OPT_STR, &c.until, "YYYY-MM-DD", "the last day it holds"},
	    {"text", 0, TR_OPT_STR, &c.text, "TEXT", "the terms in words"},
	    {0}};
	const tr_opt wopts[] = {{"reason", 0, TR_OPT_STR, &c.reason, "TEXT", "why"}, {0}};
	const tr_cmd_help *h = withdraw ? &wh : &gh;
	const char *pos[1];
	size_t npos;
	unsigned mask;
	int rc = tr_cli_begin(cli, h, withdraw ? wopts : gopts, argc, argv, pos, 1, &npos, 0);
	if (rc >= 0)
		return rc;
	if (npos != 1)
		return tr_opt_usage_error(h, withdraw ? "give the CONSENT record (id or prefix)"
		                                      : "give the PARTNER it is for");
	if (!withdraw) {
		if (!c.purposes || tr_purposes_parse(c.purposes, strlen(c.purposes), &mask))
			return tr_opt_usage_error(
			    h,
			    "--for needs purposes from: ideas, claims, trials (e.g. --for ideas)");
		char today[16];
		tr_time_iso(tr_now_ms(), today, sizeof(today));
		today[10] = '\0';
		if (c.until && !tr_date_valid(c.until, strlen(c.until)))
			return tr_opt_usage_error(h, "--until must be a date YYYY-MM-DD");
		if (c.until && strcmp(c.until, today) < 0)
			return tr_opt_usage_error(h, "--until %s is in the past (today is %s)",
			                          c.until, today);
		c.partner = pos[0];
	}
	if ((rc = tr_cli_open(cli)) != 0)
		return rc;
	if (withdraw && (rc = tr_cli_resolve(cli, pos[0], c.id)) != 0)
		return rc;
	c.key = cli->key;
	rc = tr_store_write(cli->store, consent_fn, &c);
	if (rc == TR_ENOTFOUND && !withdraw && !c.p.name[0])
		return tr_cli_error("no partner named %s (see `trestle partner list`)", pos[0]);
	if (rc == TR_ENOTFOUND && withdraw && c.why[0])
		return tr_cli_error("%s: it was never sent, so there is nothing to withdraw",
		                    c.why);
	if (c.why[0] && rc)
		return tr_cli_error("%s; nothing changed", c.why);
	if (rc)
		return tr_cli_error("nothing changed: %s%s", tr_strerror(rc),
		                    tr_cli_write_hint(rc));
	tr_control_kick(cli->home);
	char hex[TR_ID_HEX_SIZE];
	tr_id_hex(c.id, hex);
	if (withdraw)
		printf("withdrew consent %.12s: a retraction goes to %" PRIu64 " partner%s\n", hex,
		       c.sent, c.sent == 1 ? "" : "s");
	else
		printf("consent %.12s: %s may pass on this firm's %s%s%s\n", hex, c.p.name,
		       c.purposes, c.until ? " until " : "", c.until ? c.until : "");
	return 0;
}

/* ---- list ---- */

struct list_ctx {
	int json;
	json_t *arr;
	size_t rows;
	tr_txn *t;
	const uint8_t *self;
};

static int list_row(void *vctx, const tr_hit *h)
{
	struct list_ctx *c = vctx;
	const tr_record *rec = h->rec;
	char hex[TR_ID_HEX_SIZE], scope[220], grantee[80], until[16], who[TR_PARTNER_NAME_MAX + 80],
	    today[40];
	uint8_t gk[TR_PK_BYTES], author[TR_PK_BYTES], id[TR_ID_BYTES];
	int given = !memcmp(rec->author, c->self, TR_PK_BYTES);
	tr_id_hex(rec->id, hex);
	memcpy(author, rec->author, TR_PK_BYTES);
	memcpy(id, rec->id, TR_ID_BYTES);
	tr_cli_field_text(rec, "scope", scope, sizeof(scope), 0);
	tr_cli_field_text(rec, "grantee", grantee, sizeof(grantee), 0);
	tr_cli_field_text(rec, "until", until, sizeof(until), 0);
	if (!given && grantee[0] &&
	    (tr_nodeid_parse(grantee, gk) || memcmp(gk, c->self, TR_PK_BYTES)))
		return 0; /* a consent for another node, passed here: not ours to list */
	/* the other side: who it was given to, or who gave it */
	tr_partner p;
	if (given && tr_nodeid_parse(grantee, gk) == 0 &&
	    tr_txn_partner_find(c->t, grantee, &p) == 0)
		snprintf(who, sizeof(who), "%s", p.name);
	else if (given)
		snprintf(who, sizeof(who), "%.20s", grantee[0] ? grantee : "(nobody named)");
	else {
		char fpr[TR_FPR_TEXT_SIZE];
		tr_fingerprint_format(author, fpr);
		tr_partner_name_of(c->t, h->source, who, sizeof(who));
		if (strchr(who, '#'))
			snprintf(who, sizeof(who), "node %s", fpr);
	}
	/* withdrawn: a retraction of it by its author is here */
	struct withdrawn_ctx w = {author, 0};
	tr_query q;
	memset(&q, 0, sizeof(q));
	q.kind = "retraction";
	q.ref = id;
	int rc = tr_txn_scan(c->t, &q, withdrawn_cb, &w);
	if (rc && rc != 1)
		return rc;
	tr_time_iso(tr_now_ms(), today, sizeof(today));
	today[10] = '\0';
	const char *state = w.found                                ? "withdrawn"
	                    : until[0] && strcmp(until, today) < 0 ? "expired"
	                                                           : "valid";
	if (c->json) {
		json_array_append_new(
		    c->arr,
		    json_pack("{s:s, s:s, s:s, s:s, s:s, s:s?, s:s}", "id", hex, "direction",
		              given ? "given" : "received", "partner", who, "grantee", grantee,
		              "purposes", scope, "until", until[0] ? until : NULL, "state", state));
	} else {
		if (!c->rows)
			printf("%-12s %-9s %-20s %-22s %-11s %s\n", "CONSENT", "DIRECTION",
			       "PARTNER", "PURPOSES", "UNTIL", "STATE");
		printf("%.12s %-9s %-20s %-22s %-11s %s\n", hex, given ? "given" : "received", who,
		       scope, until[0] ? until : "-", state);
	}
	c->rows++;
	return 0;
}

static int list_fn(tr_txn *t, void *vctx)
{
	struct list_ctx *c = vctx;
	tr_query q;
	memset(&q, 0, sizeof(q));
	q.kind = "consent";
	c->t = t;
	c->rows = 0;
	return tr_txn_scan(t, &q, list_row, c);
}

static int consent_list(tr_cli *cli, int argc, char **argv)
{
	static const tr_cmd_help h = {
	    "consent list", "",
	    "List consents this node gave and received: partner, purposes, until, and whether "
	    "each is valid, expired or withdrawn.",
	    NULL};
	struct list_ctx c;
	memset(&c, 0, sizeof(c));
	const tr_opt opts[] = {{"json", 0, TR_OPT_FLAG, &c.json, NULL, "print a JSON array"}, {0}};
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
	} else if (!rc && !c.rows && cli->out_tty)
		fprintf(stderr, "no consents given or received\n");
	json_decref(c.arr);
	return rc ? tr_cli_error("cannot list consents: %s", tr_strerror(rc)) : 0;
}

int cmd_consent(tr_cli *cli, int argc, char **argv)
{
	static const tr_cmd_help h = {
	    "consent", "grant|withdraw|list ...",
	    "Consents this firm gives its partners to pass its records on:\n"
	    "  grant PARTNER --for ideas,claims,trials [--until DATE] [--text TEXT]\n"
	    "  withdraw CONSENT\n"
	    "  list",
	    "`trestle consent SUBCOMMAND --help` tells more."};
	if (argc < 2)
		return tr_opt_usage_error(&h, "which subcommand?");
	if (!strcmp(argv[1], "grant"))
		return consent_change(cli, argc - 1, argv + 1, 0);
	if (!strcmp(argv[1], "withdraw"))
		return consent_change(cli, argc - 1, argv + 1, 1);
	if (!strcmp(argv[1], "list"))
		return consent_list(cli, argc - 1, argv + 1);
	if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
		const tr_opt none[] = {{0}};
		tr_opt_help(&h, none, stdout);
		return 0;
	}
	return tr_opt_usage_error(&h, "unknown subcommand \"%s\"", argv[1]);
}

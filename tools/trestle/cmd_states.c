/* cmd_states.c: the verbs the kinds with states share: `trestle idea|claim|test
 * new|show|list|status`. new and show are `record create|show` of the kind; list shows
 * each record with its state now; status writes a state change, which the store checks
 * against the lifecycle (proto/lifecycle.c). `trestle idea groups|merge|split` are in
 * cmd_idea.c. */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "control.h"
#include "error.h"
#include "lifecycle.h"
#include "../../proto/banned.h"

const tr_kind_verbs tr_verbs_idea = {"idea", "idea", "idea", "title", "product", 1, TR_ROLE_USER};
const tr_kind_verbs tr_verbs_claim = {
    "claim", "claim", "claim", "problem", "product", 0, TR_ROLE_USER | TR_ROLE_PRODUCER};
const tr_kind_verbs tr_verbs_test = {"test_request", "test", "test request", "title",
                                     "product",      1,      TR_ROLE_USER};

/* ---- status ---- */

struct status_ctx {
	tr_cli *cli;
	const tr_kind_verbs *v;
	uint8_t id[TR_ID_BYTES];
	const char *state, *message;
	char now[TR_MAX_NAME + 1], why[500], hex[TR_ID_HEX_SIZE];
};

static int status_fn(tr_txn *t, void *vctx)
{
	struct status_ctx *c = vctx;
	const uint8_t *env;
	size_t len;
	tr_record rec, st;
	tr_mpw w;
	char detail[200];
	int rc;
	c->why[0] = '\0';
	if ((rc = tr_txn_get(t, c->id, &env, &len, NULL, NULL)) != 0)
		return rc;
	if (tr_record_decode(env, len, &rec) != 0)
		return TR_ECORRUPT;
	if (!tr_str_eq(rec.kind, c->v->kind) &&
	    !(!strcmp(c->v->kind, "claim") && tr_str_eq(rec.kind, "claim_line"))) {
		snprintf(c->why, sizeof(c->why), "that record is a %.*s, not a %s", (int)rec.kind.n,
		         rec.kind.p, c->v->label);
		return TR_EINVAL;
	}
	char kind[TR_MAX_NAME + 1];
	snprintf(kind, sizeof(kind), "%.*s", (int)rec.kind.n, rec.kind.p);
	if ((rc = tr_txn_state(t, c->id, kind, c->now, sizeof(c->now))) != 0)
		return rc;
	/* the store checks the move against the lifecycle; the status goes back down to
	 * the firm the record came from, one hop past the distributor */
	tr_record_init(&st);
	st.kind.p = "status";
	st.kind.n = 6;
	st.nrefs = 1;
	memcpy(st.refs[0], c->id, TR_ID_BYTES);
	st.terms.hops = 1;
	st.terms.roles = c->v->roles;
	tr_record_add_str(&st, "state", c->state, strlen(c->state));
	if (c->message)
		tr_record_add_str(&st, "message", c->message, strlen(c->message));
	tr_mpw_init(&w);
	rc = tr_txn_create(t, c->cli->key, &st, tr_now_ms(), &w, c->why, sizeof(c->why));
	tr_mpw_release(&w);
	if (rc)
		return rc;
	tr_id_hex(st.id, c->hex);
	snprintf(detail, sizeof(detail), "status %s %.16s (by %s)", c->state, c->hex, tr_cli_who());
	return tr_txn_audit(t, tr_now_ms(), "create", detail);
}

static int kind_status(tr_cli *cli, int argc, char **argv, const tr_kind_verbs *v)
{
	static char name[64], usage[64], summary[600];
	snprintf(name, sizeof(name), "%s status", v->noun);
	snprintf(usage, sizeof(usage), "%s STATE", !strcmp(v->noun, "test") ? "REQUEST" : "ID");
	snprintf(summary, sizeof(summary),
	         "Change a %s's state (or add a note): a signed status record that goes back down "
	         "the way the %s came, with the partners' status rules. The move must follow the "
	         "%s's lifecycle (trestle(1), \"States\"); a refused one says what may follow.%s",
	         v->label, v->label, v->label,
	         v->producer_decides ? " Decisions are the producer's: at another node only "
	                               "`note` is taken."
	                             : " A claim with lines is decided by its lines (set each "
	                               "line's state with `claim status LINE approved`).");
	const tr_cmd_help h = {name, usage, summary, NULL};
	static struct status_ctx c;
	memset(&c, 0, sizeof(c));
	const tr_opt opts[] = {{"message", 'm', TR_OPT_STR, &c.message, "TEXT", "why, in words"},
	                       {0}};
	const char *pos[2];
	size_t npos;
	int rc = tr_cli_begin(cli, &h, opts, argc, argv, pos, 2, &npos, 0);
	if (rc >= 0)
		return rc;
	if (npos != 2)
		return tr_opt_usage_error(&h, "give the %s and the STATE", v->label);
	if (!strcmp(v->kind, "idea") && !strcmp(pos[1], "merged"))
		return tr_opt_usage_error(&h,
		                          "merging names the idea it joins: `trestle idea merge "
		                          "IDEA --into OTHER`");
	if ((rc = tr_cli_open(cli)) != 0)
		return rc;
	if (v->producer_decides && strcmp(cli->config.role, "producer") && strcmp(pos[1], "note"))
		return tr_cli_error("decisions on a %s are the producer's (this node is a %s); "
		                    "`note` is taken",
		                    v->label, cli->config.role);
	if ((rc = tr_cli_resolve(cli, pos[0], c.id)) != 0)
		return rc;
	c.cli = cli;
	c.v = v;
	c.state = pos[1];
	rc = tr_store_write(cli->store, status_fn, &c);
	if (rc && c.why[0])
		return tr_cli_error("%s; nothing changed", c.why);
	if (rc)
		return tr_cli_error("nothing changed: %s%s", tr_strerror(rc),
		                    tr_cli_write_hint(rc));
	tr_control_kick(cli->home);
	printf("%s -> %s (status %.12s)\n", c.now, pos[1], c.hex);
	return 0;
}

/* ---- list ---- */

struct list_ctx {
	const tr_kind_verbs *v;
	int json;
	const char *state;
	json_t *arr;
	size_t rows;
};

static int list_fn(tr_txn *t, void *vctx)
{
	struct list_ctx *l = vctx;
	tr_query q;
	memset(&q, 0, sizeof(q));
	q.kind = l->v->kind;
	uint8_t(*ids)[TR_ID_BYTES] = NULL;
	size_t n = 0;
	/* ids first: reading each one's state scans again */
	int rc = tr_txn_scan_ids(t, &q, &ids, &n);
	for (size_t i = 0; !rc && i < n; i++) {
		const uint8_t *env;
		size_t len;
		uint32_t source;
		tr_record rec;
		char state[TR_MAX_NAME + 1], what[201], second[65], hex[TR_ID_HEX_SIZE],
		    fpr[TR_FPR_TEXT_SIZE], when[40];
		if ((rc = tr_txn_state(t, ids[i], l->v->kind, state, sizeof(state))) != 0 ||
		    (rc = tr_txn_get(t, ids[i], &env, &len, NULL, &source)) != 0)
			break;
		if (tr_record_decode(env, len, &rec) != 0) {
			rc = TR_ECORRUPT;
			break;
		}
		if (l->state && strcmp(l->state, state))
			continue;
		tr_cli_field_text(&rec, l->v->what, what, sizeof(what), 1);
		tr_cli_field_text(&rec, l->v->second, second, sizeof(second), 1);
		tr_id_hex(rec.id, hex);
		tr_fingerprint_format(rec.author, fpr);
		if (l->json) {
			json_t *o = tr_record_json(&rec, env, len, source, 0);
			json_object_set_new(o, "state", json_string(state));
			json_array_append_new(l->arr, o);
		} else {
			tr_time_short(rec.created_ms, when, sizeof(when));
			if (!l->rows)
				printf("%-12s %-16s %-10s %-21s %-10s %s\n", "ID", "CREATED",
				       "AUTHOR", "STATE", "PRODUCT", "WHAT");
			printf("%.12s %-16s %-10s %-21s %-10.10s %.60s\n", hex, when, fpr, state,
			       second[0] ? second : "-", what);
		}
		l->rows++;
	}
	free(ids);
	return rc;
}

static int kind_list(tr_cli *cli, int argc, char **argv, const tr_kind_verbs *v)
{
	static char name[64], summary[300];
	snprintf(name, sizeof(name), "%s list", v->noun);
	snprintf(summary, sizeof(summary),
	         "The %ss this node holds, in the order they arrived, each with its state now "
	         "(its newest status's, or %s).",
	         v->label, tr_lifecycle_first(v->kind));
	const tr_cmd_help h = {name, "", summary, NULL};
	struct list_ctx l;
	memset(&l, 0, sizeof(l));
	l.v = v;
	const tr_opt opts[] = {
	    {"state", 's', TR_OPT_STR, &l.state, "STATE", "only those in this state"},
	    {"json", 0, TR_OPT_FLAG, &l.json, NULL, "print a JSON array (records, with \"state\")"},
	    {0}};
	const char *pos[1];
	size_t npos;
	int rc = tr_cli_begin(cli, &h, opts, argc, argv, pos, 0, &npos, 1);
	if (rc >= 0)
		return rc;
	l.arr = json_array();
	rc = tr_store_read(cli->store, list_fn, &l);
	if (!rc && l.json) {
		json_dumpf(l.arr, stdout, JSON_INDENT(2));
		putchar('\n');
	} else if (!rc && !l.rows && cli->out_tty)
		fprintf(stderr, "no %ss%s\n", v->label, l.state ? " in that state" : "");
	json_decref(l.arr);
	return rc ? tr_cli_error("cannot list: %s", tr_strerror(rc)) : 0;
}

/* ---- show ---- */

struct history_ctx {
	size_t n;
};

static int history_cb(void *vctx, const tr_hit *h)
{
	struct history_ctx *c = vctx;
	char when[40], fpr[TR_FPR_TEXT_SIZE], state[40], msg[200];
	tr_cli_field_text(h->rec, "state", state, sizeof(state), 1);
	tr_cli_field_text(h->rec, "message", msg, sizeof(msg), 1);
	tr_time_short(h->rec->created_ms, when, sizeof(when));
	tr_fingerprint_format(h->rec->author, fpr);
	if (!c->n++)
		printf("history\n");
	printf("  %-16s %-10s %-21s %s\n", when, fpr, state, msg);
	return 0;
}

struct show_ctx {
	uint8_t id[TR_ID_BYTES];
	const char *kind;
	char state[TR_MAX_NAME + 1];
};

static int state_fn(tr_txn *t, void *vctx)
{
	struct show_ctx *c = vctx;
	struct history_ctx h = {0};
	tr_query q;
	const uint8_t *env;
	size_t len;
	tr_record rec;
	char kind[TR_MAX_NAME + 1];
	/* its own kind's states: a claim's line is shown by the claim verbs too */
	int rc = tr_txn_get(t, c->id, &env, &len, NULL, NULL);
	if (rc)
		return rc;
	if (tr_record_decode(env, len, &rec) != 0)
		return TR_ECORRUPT;
	snprintf(kind, sizeof(kind), "%.*s", (int)rec.kind.n, rec.kind.p);
	if (!tr_lifecycle_first(kind))
		return 0; /* no states: nothing to add */
	rc = tr_txn_state(t, c->id, kind, c->state, sizeof(c->state));
	if (rc)
		return rc;
	printf("state    %s\n", c->state);
	memset(&q, 0, sizeof(q));
	q.kind = "status";
	q.ref = c->id;
	return tr_txn_scan(t, &q, history_cb, &h);
}

/* `record show`, then the state now and the statuses that led there. */
static int kind_show(tr_cli *cli, int argc, char **argv, const tr_kind_verbs *v)
{
	char *args[8] = {"record", "show"};
	int n = 2;
	for (int i = 1; i < argc && n < 7; i++)
		args[n++] = argv[i];
	args[n] = NULL;
	int rc = cmd_record(cli, n, args);
	for (int i = 1; i < argc; i++)
		if (!strcmp(argv[i], "--json"))
			return rc; /* JSON only: the record as record show prints it */
	if (rc || argc < 2 || argv[1][0] == '-')
		return rc;
	static struct show_ctx c;
	memset(&c, 0, sizeof(c));
	c.kind = v->kind;
	if ((rc = tr_cli_resolve(cli, argv[1], c.id)) != 0)
		return rc;
	if ((rc = tr_store_read(cli->store, state_fn, &c)) != 0)
		return tr_cli_error("cannot read its statuses: %s", tr_strerror(rc));
	return 0;
}

int tr_kind_verb(tr_cli *cli, int argc, char **argv, const tr_kind_verbs *v)
{
	const char *sub = argv[1];
	if (!strcmp(sub, "list"))
		return kind_list(cli, argc - 1, argv + 1, v);
	if (!strcmp(sub, "status"))
		return kind_status(cli, argc - 1, argv + 1, v);
	if (!strcmp(sub, "show"))
		return kind_show(cli, argc - 1, argv + 1, v);
	/* new: `record create KIND ...` */
	char **args = calloc((size_t)argc + 3, sizeof(*args));
	if (!args)
		return tr_cli_error("out of memory");
	args[0] = "record";
	args[1] = "create";
	args[2] = (char *)v->kind;
	for (int i = 2; i < argc; i++)
		args[i + 1] = argv[i];
	int rc = cmd_record(cli, argc + 1, args);
	free(args);
	return rc;
}

/* ---- claim stats, test progress: the report's tables in the terminal ---- */

static const char *js(json_t *o, const char *k)
{
	const char *v = json_string_value(json_object_get(o, k));
	return v && *v ? v : "-";
}

static long long ji(json_t *o, const char *k)
{
	return (long long)json_integer_value(json_object_get(o, k));
}

static int views(tr_cli *cli, int argc, char **argv, int tests)
{
	static const tr_cmd_help sh = {
	    "claim stats", "",
	    "Claims by month, product and problem (code, else text): how many, open and closed, "
	    "and the machines claimed more than once (same product and serial). The customer's "
	    "identity never shows here. The same figures as `trestle report`.",
	    NULL};
	static const tr_cmd_help ph = {
	    "test progress", "",
	    "Each test request with its state, and per partner the answers came through: "
	    "nominations, accepts, declines and trial reports. The same figures as `trestle "
	    "report`.",
	    NULL};
	const tr_cmd_help *h = tests ? &ph : &sh;
	int json = 0;
	const tr_opt opts[] = {{"json", 0, TR_OPT_FLAG, &json, NULL, "print JSON"}, {0}};
	const char *pos[1];
	size_t npos;
	json_t *r;
	int rc = tr_cli_begin(cli, h, opts, argc, argv, pos, 0, &npos, 1);
	if (rc >= 0)
		return rc;
	if ((rc = tr_report_build(cli, NULL, &r)) != 0)
		return tr_cli_error("cannot read the records: %s", tr_strerror(rc));
	json_t *part = json_object_get(r, tests ? "test_requests" : "claims");
	if (json) {
		json_dumpf(part, stdout, JSON_INDENT(2));
		putchar('\n');
	} else if (!tests) {
		printf("claims: %lld, open %lld, closed %lld\n", ji(part, "total"),
		       ji(part, "open"), ji(part, "closed"));
		json_t *a = json_object_get(part, "by_month");
		for (size_t i = 0; i < json_array_size(a); i++) {
			json_t *m = json_array_get(a, i);
			if (!i)
				printf("\n%-8s %6s %6s %6s\n", "MONTH", "TOTAL", "OPEN", "CLOSED");
			printf("%-8s %6lld %6lld %6lld\n", js(m, "month"), ji(m, "total"),
			       ji(m, "open"), ji(m, "closed"));
		}
		a = json_object_get(part, "by_product");
		for (size_t i = 0; i < json_array_size(a); i++) {
			json_t *m = json_array_get(a, i);
			if (!i)
				printf("\n%-16s %6s %6s %6s\n", "PRODUCT", "TOTAL", "OPEN",
				       "CLOSED");
			printf("%-16.16s %6lld %6lld %6lld\n", js(m, "product"), ji(m, "total"),
			       ji(m, "open"), ji(m, "closed"));
		}
		a = json_object_get(part, "by_problem");
		for (size_t i = 0; i < json_array_size(a) && i < 15; i++) {
			json_t *m = json_array_get(a, i);
			if (!i)
				printf("\n%-12s %6s %6s  %s\n", "PRODUCT", "TOTAL", "OPEN",
				       "PROBLEM");
			printf("%-12.12s %6lld %6lld  %.60s\n", js(m, "product"), ji(m, "total"),
			       ji(m, "open"), js(m, "problem"));
		}
		a = json_object_get(part, "repeats");
		for (size_t i = 0; i < json_array_size(a); i++) {
			json_t *m = json_array_get(a, i);
			if (!i)
				printf("\nclaimed more than once:\n%-12s %-20s %6s\n", "PRODUCT",
				       "SERIAL", "CLAIMS");
			printf("%-12.12s %-20.20s %6lld\n", js(m, "product"), js(m, "serial"),
			       ji(m, "total"));
		}
	} else {
		for (size_t i = 0; i < json_array_size(part); i++) {
			json_t *t = json_array_get(part, i), *pp = json_object_get(t, "partners");
			printf("%s%.12s  %-20s %s (%s)\n", i ? "\n" : "", js(t, "id"),
			       js(t, "state"), js(t, "title"), js(t, "product"));
			for (size_t k = 0; k < json_array_size(pp); k++) {
				json_t *p = json_array_get(pp, k);
				if (!k)
					printf("  %-20s %9s %8s %8s %8s\n", "FROM", "NOMINATED",
					       "ACCEPTED", "DECLINED", "REPORTS");
				printf("  %-20.20s %9lld %8lld %8lld %8lld\n", js(p, "partner"),
				       ji(p, "nominated"), ji(p, "accepted"), ji(p, "declined"),
				       ji(p, "reports"));
			}
			if (!json_array_size(pp))
				printf("  no answers yet\n");
		}
		if (!json_array_size(part) && cli->out_tty)
			fprintf(stderr, "no test requests\n");
	}
	json_decref(r);
	return 0;
}

static int verbs(tr_cli *cli, int argc, char **argv, const tr_kind_verbs *v, const char *more)
{
	static char usage[600];
	snprintf(usage, sizeof(usage),
	         "%ss and their states:\n"
	         "  new FIELD=VALUE... [options of record create]\n"
	         "  show ID                      the %s, its state now and its history\n"
	         "  list [--state S] [--json]    each with its state now\n"
	         "  status ID STATE [--message TEXT]%s",
	         v->label, v->label, more);
	const tr_cmd_help h = {v->noun, "new|show|list|status ...", usage,
	                       "Fields: `trestle kinds`. States: trestle(1), \"States\"."};
	if (argc < 2)
		return tr_opt_usage_error(&h, "which subcommand?");
	if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
		const tr_opt none[] = {{0}};
		tr_opt_help(&h, none, stdout);
		return 0;
	}
	if (!strcmp(argv[1], "stats") && v == &tr_verbs_claim)
		return views(cli, argc - 1, argv + 1, 0);
	if (!strcmp(argv[1], "progress") && v == &tr_verbs_test)
		return views(cli, argc - 1, argv + 1, 1);
	if (strcmp(argv[1], "new") && strcmp(argv[1], "show") && strcmp(argv[1], "list") &&
	    strcmp(argv[1], "status"))
		return tr_opt_usage_error(&h, "unknown subcommand \"%s\"", argv[1]);
	return tr_kind_verb(cli, argc, argv, v);
}

int cmd_claim(tr_cli *cli, int argc, char **argv)
{
	/* claim lines and their states go through the same verbs: `claim status LINE
	 * approved`; new lines with `record create claim_line --ref CLAIM` */
	return verbs(
	    cli, argc, argv, &tr_verbs_claim,
	    "\n(a line: `trestle record create claim_line --ref CLAIM part=... amount=...`, "
	    "its state with `claim status LINE approved|rejected`)");
}

int cmd_test(tr_cli *cli, int argc, char **argv)
{
	return verbs(cli, argc, argv, &tr_verbs_test,
	             "\n  progress [--json]            answers and reports per partner"
	             "\n(answers: `record create test_response --ref REQUEST answer=accept`; "
	             "reports: `record create trial_report --ref REQUEST ...`)");
}

/* cmd_record.c: `trestle record create|show|list|search`. */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "control.h"
#include "error.h"
#include "kind.h"
#include "../../proto/banned.h"

/* ---- create ---- */

static const tr_cmd_help create_help = {
    "record create", "KIND FIELD=VALUE...",
    "Create a record of KIND (see `trestle kinds`), signed by this node, and store it.",
    "FIELD=@FILE takes the value from a file (FIELD=@- from standard input).\n"
    "The new record's id is printed. Onward terms say how far partners may pass the\n"
    "record on: by default it goes to the first partner only.\n\n"
    "examples:\n"
    "  trestle record create claim product=DW-200 serial=SN-1001 opened=2026-01-05 \\\n"
    "      problem=\"Drain pump stops after 300 cycles\" customer=\"Cafe Nord\"\n"
    "  trestle record create idea title=\"Quieter rinse\" text=@idea.txt \\\n"
    "      --onward-hops 1 --onward-to producer --private submitter,account\n"
    "  trestle record create status --ref 970beca9 state=planned message=\"Q3 release\""};

struct create_ctx {
	tr_cli *cli;
	tr_record *rec;
	tr_mpw env;
	char why[512];
};

static int create_fn(tr_txn *t, void *ctx)
{
	struct create_ctx *c = ctx;
	int rc = tr_cli_status_authority(t, c->cli, c->rec, c->why, sizeof(c->why));
	if (rc)
		return rc;
	rc = tr_txn_create(t, c->cli->key, c->rec, tr_now_ms(), &c->env, c->why, sizeof(c->why));
	if (rc)
		return rc;
	char hex[TR_ID_HEX_SIZE], detail[128];
	tr_id_hex(c->rec->id, hex);
	snprintf(detail, sizeof(detail), "%.*s %s", (int)c->rec->kind.n, c->rec->kind.p, hex);
	return tr_txn_audit(t, tr_now_ms(), "create", detail);
}

static char *read_value_file(const char *path, size_t *len)
{
	FILE *f = strcmp(path, "-") ? fopen(path, "rb") : stdin;
	if (!f)
		return NULL;
	char *buf = malloc(TR_MAX_VALUE + 2);
	size_t n = buf ? fread(buf, 1, TR_MAX_VALUE + 1, f) : 0;
	int bad = !buf || ferror(f);
	if (f != stdin)
		fclose(f);
	if (bad) {
		free(buf);
		return NULL;
	}
	while (n && (buf[n - 1] == '\n' || buf[n - 1] == '\r')) /* as $(cat FILE) would */
		n--;
	buf[n] = '\0';
	*len = n;
	return buf;
}

static int record_create(tr_cli *cli, int argc, char **argv)
{
	tr_strlist refs = {{0}, 0};
	const char *onward_to = NULL, *private_ = NULL;
	uint64_t hops = 0;
	int json = 0;
	const tr_opt opts[] = {
	    {"ref", 'r', TR_OPT_LIST, &refs, "ID", "a record this one refers to"},
	    {"onward-hops", 0, TR_OPT_U64, &hops, "N",
	     "hops the record may travel beyond the first partner (default 0)"},
	    {"onward-to", 0, TR_OPT_STR, &onward_to, "ROLES",
	     "roles it may reach beyond the first partner: producer,distributor,user, all"},
	    {"private", 0, TR_OPT_STR, &private_, "FIELDS",
	     "fields that must not go beyond the first partner (comma-separated)"},
	    {"json", 0, TR_OPT_FLAG, &json, NULL, "print the new record as JSON"},
	    {0}};
	const char *pos[TR_MAX_FIELDS + 1];
	size_t npos;
	int rc =
	    tr_cli_begin(cli, &create_help, opts, argc, argv, pos, TR_MAX_FIELDS + 1, &npos, 0);
	if (rc >= 0)
		return rc;
	if (npos < 1)
		return tr_opt_usage_error(&create_help,
		                          "which kind of record? (see `trestle kinds`)");
	const tr_kind_spec *k = tr_kind_find(pos[0], strlen(pos[0]));
	if (!k)
		return tr_opt_usage_error(&create_help, "unknown kind \"%s\" (see `trestle kinds`)",
		                          pos[0]);
	if (hops > 16)
		return tr_opt_usage_error(&create_help, "--onward-hops must be 0 to 16");

	static tr_record rec; /* large: keep it off the stack */
	tr_record_init(&rec);
	rec.kind.p = k->name;
	rec.kind.n = strlen(k->name);
	rec.terms.hops = hops;
	if (onward_to && tr_roles_parse(onward_to, &rec.terms.roles))
		return tr_opt_usage_error(&create_help,
		                          "--onward-to: \"%s\" is not a list of producer, "
		                          "distributor, user (or all, none)",
		                          onward_to);
	char privbuf[1024];
	if (private_) {
		snprintf(privbuf, sizeof(privbuf), "%s", private_);
		for (char *p = privbuf; *p;) {
			size_t n = strcspn(p, ",");
			if (n && rec.terms.nprivate == TR_MAX_FIELDS)
				return tr_opt_usage_error(
				    &create_help, "--private: at most %d fields", TR_MAX_FIELDS);
			if (n) {
				rec.terms.private_fields[rec.terms.nprivate].p = p;
				rec.terms.private_fields[rec.terms.nprivate++].n = n;
			}
			p += n;
			if (*p)
				*p++ = '\0';
		}
	}

	if ((rc = tr_cli_open(cli)) != 0)
		return rc;
	for (size_t i = 0; i < refs.n; i++) {
		if (rec.nrefs >= TR_MAX_REFS)
			return tr_opt_usage_error(&create_help, "at most %d --ref", TR_MAX_REFS);
		if ((rc = tr_cli_resolve(cli, refs.v[i], rec.refs[rec.nrefs])) != 0)
			return rc;
		rec.nrefs++;
	}
	char *files[TR_MAX_FIELDS] = {0};
	size_t nfiles = 0;
	char why[512];
	rc = 0;
	for (size_t i = 1; i < npos && !rc; i++) {
		char *arg = (char *)pos[i];
		char *eq = strchr(arg, '=');
		if (!eq || eq == arg) {
			rc = tr_opt_usage_error(&create_help, "\"%s\" is not FIELD=VALUE", arg);
			break;
		}
		*eq = '\0';
		const char *val = eq + 1;
		size_t len = strlen(val);
		if (val[0] == '@' && val[1] == '@') { /* @@ is a literal @ */
			val++;
			len--;
		} else if (val[0] == '@') {
			char *buf = read_value_file(val + 1, &len);
			if (!buf) {
				rc = tr_cli_error("cannot read %s for field %s: %s", val + 1, arg,
				                  strerror(errno ? errno : EIO));
				break;
			}
			val = files[nfiles++] = buf;
		}
		if (tr_cli_add_field(&rec, k, arg, val, len, why, sizeof(why)) != 0)
			rc = tr_cli_error("%s", why);
	}
	if (!rc) {
		struct create_ctx c;
		memset(&c, 0, sizeof(c));
		c.cli = cli;
		c.rec = &rec;
		tr_mpw_init(&c.env);
		int wrc = tr_store_write(cli->store, create_fn, &c);
		if (!wrc)
			tr_control_kick(cli->home); /* a running daemon tells partners at once */
		if (wrc == TR_ESCHEMA || wrc == TR_EREF)
			rc = tr_cli_error("%s", c.why);
		else if (wrc)
			rc = tr_cli_error("the record was not stored: %s%s", tr_strerror(wrc),
			                  tr_cli_write_hint(wrc));
		else if (json) {
			tr_record got;
			if (tr_record_decode(tr_mpw_data(&c.env), tr_mpw_size(&c.env), &got) == 0) {
				memcpy(got.id, rec.id, TR_ID_BYTES);
				json_t *o = tr_record_json(&got, tr_mpw_data(&c.env),
				                           tr_mpw_size(&c.env), TR_SOURCE_LOCAL, 1);
				json_dumpf(o, stdout, JSON_COMPACT);
				putchar('\n');
				json_decref(o);
			}
		} else {
			char hex[TR_ID_HEX_SIZE];
			tr_id_hex(rec.id, hex);
			printf("%s\n", hex);
		}
		tr_mpw_release(&c.env);
	}
	for (size_t i = 0; i < nfiles; i++)
		free(files[i]);
	return rc;
}

/* ---- show ---- */

static const tr_cmd_help show_help = {
    "record show", "ID",
    "Show one record: header, onward terms, every field (withheld ones marked), and the\n"
    "records that refer to it. ID may be a unique prefix (at least 4 hex digits).",
    NULL};

struct show_ctx {
	const uint8_t *id;
	int json;
	const uint8_t *me;
};

static int print_referrer(void *ctx, const tr_hit *h)
{
	(void)ctx;
	char hex[TR_ID_HEX_SIZE], line[80];
	tr_id_hex(h->rec->id, hex);
	tr_record_summary(h->rec, line, sizeof(line));
	printf("  %.12s  %-13.*s %s\n", hex, (int)h->rec->kind.n, h->rec->kind.p, line);
	return 0;
}

static int show_fn(tr_txn *t, void *ctx)
{
	struct show_ctx *s = ctx;
	const uint8_t *env;
	size_t len;
	uint64_t pos;
	static tr_record rec;
	uint32_t source;
	int rc = tr_txn_get(t, s->id, &env, &len, &pos, &source);
	if (rc)
		return rc;
	if ((rc = tr_record_open(env, len, &rec)) != 0)
		return rc;
	if (s->json) {
		json_t *o = tr_record_json(&rec, env, len, source, 1);
		json_dumpf(o, stdout, JSON_INDENT(2));
		putchar('\n');
		json_decref(o);
		return 0;
	}
	char hex[TR_ID_HEX_SIZE], nodeid[TR_NODEID_TEXT_SIZE], fpr[TR_FPR_TEXT_SIZE], when[40],
	    roles[64];
	tr_id_hex(rec.id, hex);
	tr_nodeid_format(rec.author, nodeid);
	tr_fingerprint_format(rec.author, fpr);
	tr_time_iso(rec.created_ms, when, sizeof(when));
	tr_roles_format(rec.terms.roles, roles, sizeof(roles));
	printf("record   %s\nkind     %.*s\nauthor   %s (%s)%s\nseq      %" PRIu64
	       "\ncreated  %s\nposition %" PRIu64 " in this node's log\nverified signature and all "
	       "disclosed fields\n",
	       hex, (int)rec.kind.n, rec.kind.p, nodeid, fpr,
	       memcmp(rec.author, s->me, TR_PK_BYTES) ? "" : " [this node]", rec.seq, when, pos);
	printf("source   %s\n", source == TR_SOURCE_LOCAL    ? "written here"
	                        : source == TR_SOURCE_IMPORT ? "imported"
	                                                     : "received from a partner");
	printf("onward   %" PRIu64 " hop%s beyond the first partner, to: %s", rec.terms.hops,
	       rec.terms.hops == 1 ? "" : "s", roles);
	for (size_t i = 0; i < rec.terms.nprivate; i++)
		printf("%s%.*s", i ? ", " : "; private: ", (int)rec.terms.private_fields[i].n,
		       rec.terms.private_fields[i].p);
	putchar('\n');
	for (size_t i = 0; i < rec.nrefs; i++) {
		tr_id_hex(rec.refs[i], hex);
		printf("refers   %s\n", hex);
	}
	printf("fields\n");
	for (size_t i = 0; i < rec.nfields; i++) {
		const tr_field *f = &rec.fields[i];
		printf("  %-14.*s ", (int)f->name.n, f->name.p);
		if (!f->disclosed)
			printf("(withheld: only its digest was shared)\n");
		else if (f->value.type == TR_VAL_INT)
			printf("%lld\n", (long long)f->value.i);
		else {
			/* continuation lines of long text are indented under the value */
			for (size_t j = 0; j < f->value.s.n; j++) {
				putchar(f->value.s.p[j]);
				if (f->value.s.p[j] == '\n')
					printf("  %-14s ", "");
			}
			putchar('\n');
		}
	}
	tr_query q;
	memset(&q, 0, sizeof(q));
	q.ref = s->id;
	printf("referred to by\n");
	return tr_txn_scan(t, &q, print_referrer, NULL);
}

static int record_show(tr_cli *cli, int argc, char **argv)
{
	int json = 0;
	const tr_opt opts[] = {
	    {"json", 0, TR_OPT_FLAG, &json, NULL, "print JSON (with the signed envelope, base64)"},
	    {0}};
	const char *pos[1];
	size_t npos;
	int rc = tr_cli_begin(cli, &show_help, opts, argc, argv, pos, 1, &npos, 0);
	if (rc >= 0)
		return rc;
	if (npos != 1)
		return tr_opt_usage_error(&show_help, "which record?");
	if ((rc = tr_cli_open(cli)) != 0)
		return rc;
	uint8_t id[TR_ID_BYTES];
	if ((rc = tr_cli_resolve(cli, pos[0], id)) != 0)
		return rc;
	struct show_ctx s = {id, json, tr_key_public(cli->key)};
	rc = tr_store_read(cli->store, show_fn, &s);
	if (rc == TR_ESIG || rc == TR_EDIGEST)
		return tr_cli_error("record %s is damaged: %s (run `trestle verify`)", pos[0],
		                    tr_strerror(rc));
	if (rc)
		return tr_cli_error("cannot show %s: %s", pos[0], tr_strerror(rc));
	return 0;
}

/* ---- list and search ---- */

static const tr_cmd_help list_help = {
    "record list", "", "List records in the order they arrived at this node, as a table or --json.",
    "examples:\n  trestle record list --kind claim --product DW-200 --since 2026-01-01\n"
    "  trestle record list --author self --json"};
static const tr_cmd_help search_help = {
    "record search", "TEXT",
    "List records with a field containing TEXT (any case), with the same filters as list.",
    "example:\n  trestle record search pump --kind claim"};

struct list_ctx {
	int json;
	uint64_t n;
};

static int list_row(void *ctx, const tr_hit *h)
{
	struct list_ctx *l = ctx;
	/* records were verified when stored; `trestle verify` re-checks them all */
	if (l->json) {
		json_t *o = tr_record_json(h->rec, h->env, h->len, h->source, 0);
		fputs(l->n ? ",\n  " : "[\n  ", stdout);
		json_dumpf(o, stdout, JSON_COMPACT);
		json_decref(o);
	} else {
		char hex[TR_ID_HEX_SIZE], when[32], fpr[TR_FPR_TEXT_SIZE], sum[64];
		tr_id_hex(h->rec->id, hex);
		tr_time_short(h->rec->created_ms, when, sizeof(when));
		tr_fingerprint_format(h->rec->author, fpr);
		tr_record_summary(h->rec, sum, sizeof(sum));
		if (!l->n)
			printf("%-12s  %-13s %-16s  %-9s  %s\n", "ID", "KIND", "CREATED (UTC)",
			       "AUTHOR", "SUMMARY");
		printf("%.12s  %-13.*s %-16s  %-9s  %s\n", hex, (int)h->rec->kind.n, h->rec->kind.p,
		       when, fpr, sum);
	}
	l->n++;
	return 0;
}

struct list_run {
	tr_query q;
	struct list_ctx l;
};

static int list_fn(tr_txn *t, void *ctx)
{
	struct list_run *r = ctx;
	r->l.n = 0;
	return tr_txn_scan(t, &r->q, list_row, &r->l);
}

static int record_list(tr_cli *cli, int argc, char **argv, int search)
{
	const tr_cmd_help *h = search ? &search_help : &list_help;
	tr_filter f;
	memset(&f, 0, sizeof(f));
	int json = 0;
	const tr_opt opts[] = {
	    TR_FILTER_OPTS(f), {"json", 0, TR_OPT_FLAG, &json, NULL, "print a JSON array"}, {0}};
	const char *pos[1];
	size_t npos;
	int rc = tr_cli_begin(cli, h, opts, argc, argv, pos, search ? 1 : 0, &npos, 0);
	if (rc >= 0)
		return rc;
	if (search) {
		if (npos != 1 || !*pos[0])
			return tr_opt_usage_error(h, "search for what?");
		f.text = pos[0];
	}
	if ((rc = tr_cli_open(cli)) != 0)
		return rc;
	struct list_run r;
	if ((rc = tr_cli_query(cli, h, &f, &r.q)) != 0)
		return rc;
	r.l.json = json;
	r.l.n = 0;
	rc = tr_store_read(cli->store, list_fn, &r);
	if (json)
		fputs(r.l.n ? "\n]\n" : "[]\n", stdout);
	else if (!r.l.n && cli->out_tty)
		fprintf(stderr, "no records match\n");
	if (rc)
		return tr_cli_error("listing stopped: %s", tr_strerror(rc));
	return 0;
}

static const tr_cmd_help record_help = {
    "record", "SUBCOMMAND ...",
    "Work with records. Subcommands:\n"
    "  create KIND FIELD=VALUE...  create and sign a record\n"
    "  show ID                     show one record\n"
    "  list [FILTERS]              list records\n"
    "  search TEXT [FILTERS]       list records containing TEXT",
    "`trestle record SUBCOMMAND --help` tells more."};

int cmd_record(tr_cli *cli, int argc, char **argv)
{
	if (argc < 2)
		return tr_opt_usage_error(&record_help, "which subcommand?");
	const char *sub = argv[1];
	if (!strcmp(sub, "create"))
		return record_create(cli, argc - 1, argv + 1);
	if (!strcmp(sub, "show"))
		return record_show(cli, argc - 1, argv + 1);
	if (!strcmp(sub, "list"))
		return record_list(cli, argc - 1, argv + 1, 0);
	if (!strcmp(sub, "search"))
		return record_list(cli, argc - 1, argv + 1, 1);
	if (!strcmp(sub, "--help") || !strcmp(sub, "-h")) {
		const tr_opt none[] = {{0}};
		tr_opt_help(&record_help, none, stdout);
		return 0;
	}
	return tr_opt_usage_error(&record_help, "unknown subcommand \"%s\"", sub);
}

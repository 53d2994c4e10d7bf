/* cli.c: opening the node for a command, errors, times and record rendering. */
#include "cli.h"

#include <errno.h>
#include <inttypes.h>
#include <pwd.h>
#include <signal.h>
#include <unistd.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sodium.h>

#include "error.h"
#include "keyfile.h"
#include "kind.h"
#include "../../proto/banned.h"

int tr_cli_error(const char *fmt, ...)
{
	va_list ap;
	fputs("trestle: error: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return TR_EXIT_ERROR;
}

const char *tr_cli_path(tr_cli *cli, const char *name)
{
	snprintf(cli->path_buf, sizeof(cli->path_buf), "%s/%s", cli->home, name);
	return cli->path_buf;
}

/* LMDB trusts its pages: a store file truncated under our feet (SIGBUS) or a damaged
 * B-tree page (SIGSEGV inside LMDB) faults on access through its map, and LMDB has no
 * checksums to catch that first. Once a store is open, say plainly what most likely
 * happened instead of dying without a word. Only async-signal-safe calls here. */
static void on_store_fault(int sig)
{
	static const char bus[] = "trestle: error: the store file could not be read (it was "
	                          "truncated while in use); restore it from a backup\n";
	static const char segv[] = "trestle: error: reading the store crashed: its file is most "
	                           "likely damaged; restore it from a backup (`trestle backup` "
	                           "makes them). If the store verifies elsewhere, this is a bug in "
	                           "trestle: please report it.\n";
	ssize_t w =
	    sig == SIGBUS ? write(2, bus, sizeof(bus) - 1) : write(2, segv, sizeof(segv) - 1);
	(void)w;
	_exit(TR_EXIT_ERROR);
}

int tr_cli_open(tr_cli *cli)
{
	char why[4600] = "";
	int rc = tr_config_load(tr_cli_path(cli, TR_CONFIG_FILE), &cli->config, why, sizeof(why));
	if (rc == ENOENT)
		return tr_cli_error("no trestle node at %s (create one with `trestle init`, or "
		                    "point --home or TRESTLE_HOME at it)",
		                    cli->home);
	if (rc)
		return tr_cli_error("%s", why);
	rc = tr_keyfile_load(tr_cli_path(cli, TR_KEY_FILE), &cli->key, why, sizeof(why));
	if (rc)
		return tr_cli_error("%s", why);
	rc = tr_store_open(tr_cli_path(cli, TR_STORE_DIR), 0, tr_key_public(cli->key), &cli->store);
	if (cli->store)
		tr_store_set_key(cli->store, cli->key);
	if (rc) {
		tr_cli_error("%s", tr_store_detail(cli->store));
		if (rc == TR_ECORRUPT)
			fprintf(stderr, "hint: restore the store from a backup (`trestle backup` "
			                "makes them)\n");
		tr_store_close(&cli->store);
		return TR_EXIT_ERROR;
	}
	signal(SIGBUS, on_store_fault);
	signal(SIGSEGV, on_store_fault);
	return 0;
}

int tr_cli_begin(tr_cli *cli, const tr_cmd_help *h, const tr_opt *opts, int argc, char **argv,
                 const char **pos, size_t maxpos, size_t *npos, int open_node)
{
	int rc = tr_opt_parse(h, opts, argc, argv, pos, maxpos, npos);
	if (rc)
		return rc < 0 ? TR_EXIT_OK : rc;
	if (open_node && (rc = tr_cli_open(cli)) != 0)
		return rc;
	return -1;
}

void tr_cli_close(tr_cli *cli)
{
	tr_store_close(&cli->store);
	tr_key_destroy(&cli->key);
}

const char *tr_cli_write_hint(int err)
{
	switch (err) {
	case ENOSPC:
	case EDQUOT:
		return " (the disk is full)";
	case EFBIG:
		return " (the file size limit is reached: the disk is full for this process)";
	case EIO:
		return " (a write did not complete: the disk may be full, or failing)";
	}
	return "";
}

struct audit_ctx {
	const char *action, *detail;
};

static int audit_fn(tr_txn *t, void *ctx)
{
	struct audit_ctx *a = ctx;
	return tr_txn_audit(t, tr_now_ms(), a->action, a->detail);
}

int tr_cli_audit(tr_cli *cli, const char *action, const char *detail)
{
	struct audit_ctx a = {action, detail};
	return tr_store_write(cli->store, audit_fn, &a);
}

uint64_t tr_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

void tr_time_iso(uint64_t ms, char *out, size_t n)
{
	time_t t = (time_t)(ms / 1000);
	struct tm tm;
	gmtime_r(&t, &tm);
	char b[32];
	strftime(b, sizeof(b), "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(out, n, "%s.%03uZ", b, (unsigned)(ms % 1000));
}

void tr_time_short(uint64_t ms, char *out, size_t n)
{
	time_t t = (time_t)(ms / 1000);
	struct tm tm;
	gmtime_r(&t, &tm);
	strftime(out, n, "%Y-%m-%d %H:%M", &tm);
}

int tr_time_parse(const char *s, uint64_t *ms)
{
	struct tm tm;
	memset(&tm, 0, sizeof(tm));
	unsigned msec = 0;
	int y, mo, d, h = 0, mi = 0, sec = 0, used = 0;
	size_t n = strlen(s);
	if (sscanf(s, "%4d-%2d-%2d%n", &y, &mo, &d, &used) != 3 || used != 10)
		return TR_EINVAL;
	if (n > 10) {
		int u2 = 0;
		if (s[10] != 'T' && s[10] != ' ')
			return TR_EINVAL;
		if (sscanf(s + 11, "%2d:%2d%n", &h, &mi, &u2) != 2)
			return TR_EINVAL;
		const char *p = s + 11 + u2;
		if (*p == ':') {
			int u3 = 0;
			if (sscanf(p + 1, "%2d%n", &sec, &u3) != 1)
				return TR_EINVAL;
			p += 1 + u3;
			if (*p == '.') {
				int u4 = 0;
				if (sscanf(p + 1, "%3u%n", &msec, &u4) != 1 || u4 != 3)
					return TR_EINVAL;
				p += 1 + u4;
			}
		}
		if (strcmp(p, "Z") != 0 && *p)
			return TR_EINVAL;
	}
	char date[11];
	memcpy(date, s, 10);
	date[10] = '\0';
	if (!tr_date_valid(date, 10) || h > 23 || mi > 59 || sec > 60)
		return TR_EINVAL;
	tm.tm_year = y - 1900;
	tm.tm_mon = mo - 1;
	tm.tm_mday = d;
	tm.tm_hour = h;
	tm.tm_min = mi;
	tm.tm_sec = sec;
	time_t t = timegm(&tm);
	if (t < 0)
		return TR_EINVAL;
	*ms = (uint64_t)t * 1000 + msec;
	return 0;
}

static const char *const role_names[] = {"user", "distributor", "producer"};

void tr_roles_format(uint64_t roles, char *out, size_t n)
{
	size_t o = 0;
	out[0] = '\0';
	for (int i = 0; i < 3; i++)
		if (roles & (1u << i))
			o += (size_t)snprintf(out + o, o < n ? n - o : 0, "%s%s", o ? "," : "",
			                      role_names[i]);
	if (!roles)
		snprintf(out, n, "none");
}

int tr_roles_parse(const char *s, uint64_t *roles)
{
	*roles = 0;
	if (!strcmp(s, "none") || !*s)
		return 0;
	if (!strcmp(s, "all")) {
		*roles = TR_ROLE_ALL;
		return 0;
	}
	const char *p = s;
	while (*p) {
		size_t n = strcspn(p, ",");
		int found = 0;
		for (int i = 0; i < 3; i++)
			if (strlen(role_names[i]) == n && !memcmp(role_names[i], p, n)) {
				*roles |= 1u << i;
				found = 1;
			}
		if (!found)
			return TR_EINVAL;
		p += n;
		if (*p == ',')
			p++;
	}
	return 0;
}

static json_t *jstr(tr_str s)
{
	return json_stringn(s.p, s.n);
}

json_t *tr_record_json(const tr_record *rec, const uint8_t *env, size_t len, uint32_t source,
                       int with_envelope)
{
	char hex[TR_ID_HEX_SIZE], nodeid[TR_NODEID_TEXT_SIZE], when[40];
	json_t *o = json_object();
	tr_id_hex(rec->id, hex);
	tr_nodeid_format(rec->author, nodeid);
	tr_time_iso(rec->created_ms, when, sizeof(when));
	json_object_set_new(o, "id", json_string(hex));
	json_object_set_new(o, "kind", jstr(rec->kind));
	json_object_set_new(o, "author", json_string(nodeid));
	json_object_set_new(o, "seq", json_integer((json_int_t)rec->seq));
	json_object_set_new(o, "created", json_string(when));
	json_t *refs = json_array();
	for (size_t i = 0; i < rec->nrefs; i++) {
		tr_id_hex(rec->refs[i], hex);
		json_array_append_new(refs, json_string(hex));
	}
	json_object_set_new(o, "refs", refs);
	json_t *terms = json_object(), *to = json_array(), *priv = json_array();
	for (int i = 0; i < 3; i++)
		if (rec->terms.roles & (1u << i))
			json_array_append_new(to, json_string(role_names[i]));
	for (size_t i = 0; i < rec->terms.nprivate; i++)
		json_array_append_new(priv, jstr(rec->terms.private_fields[i]));
	json_object_set_new(terms, "hops", json_integer((json_int_t)rec->terms.hops));
	json_object_set_new(terms, "to", to);
	json_object_set_new(terms, "private", priv);
	json_object_set_new(o, "terms", terms);
	json_t *fields = json_object(), *withheld = json_array();
	for (size_t i = 0; i < rec->nfields; i++) {
		const tr_field *f = &rec->fields[i];
		char name[TR_MAX_NAME + 1];
		memcpy(name, f->name.p, f->name.n);
		name[f->name.n] = '\0';
		if (!f->disclosed)
			json_array_append_new(withheld, json_string(name));
		else if (f->value.type == TR_VAL_INT)
			json_object_set_new(fields, name, json_integer(f->value.i));
		else
			json_object_set_new(fields, name, jstr(f->value.s));
	}
	json_object_set_new(o, "fields", fields);
	json_object_set_new(o, "withheld", withheld);
	if (source == TR_SOURCE_LOCAL)
		json_object_set_new(o, "source", json_string("local"));
	else if (source == TR_SOURCE_IMPORT)
		json_object_set_new(o, "source", json_string("import"));
	else
		json_object_set_new(o, "source", json_integer(source));
	if (with_envelope) {
		size_t b64len = sodium_base64_ENCODED_LEN(len, sodium_base64_VARIANT_ORIGINAL);
		char *b64 = malloc(b64len);
		if (b64) {
			sodium_bin2base64(b64, b64len, env, len, sodium_base64_VARIANT_ORIGINAL);
			json_object_set_new(o, "record", json_string(b64));
			free(b64);
		}
	}
	return o;
}

void tr_cli_field_text(const tr_record *rec, const char *name, char *out, size_t n, int one_line)
{
	const tr_field *f = tr_record_field(rec, name);
	size_t k = 0;
	if (f && f->disclosed && f->value.type == TR_VAL_STR)
		for (size_t i = 0; i < f->value.s.n && k + 1 < n; i++) {
			char c = f->value.s.p[i];
			out[k++] = one_line && (c == '\n' || c == '\r') ? ' ' : c;
		}
	out[k] = '\0';
}

void tr_record_summary(const tr_record *rec, char *out, size_t width)
{
	const tr_kind_spec *k = tr_kind_find(rec->kind.p, rec->kind.n);
	size_t o = 0;
	out[0] = '\0';
	for (int i = 0; k && i < 3 && k->summary_fields[i]; i++) {
		const tr_field *f = tr_record_field(rec, k->summary_fields[i]);
		if (!f || !f->disclosed || o + 4 >= width)
			continue;
		if (o)
			o += (size_t)snprintf(out + o, width - o, " | ");
		if (f->value.type == TR_VAL_INT) {
			o += (size_t)snprintf(out + o, width - o, "%s=%lld", k->summary_fields[i],
			                      (long long)f->value.i);
		} else {
			for (size_t j = 0; j < f->value.s.n && o + 1 < width; j++) {
				char c = f->value.s.p[j];
				out[o++] = (c == '\n' || c == '\t' || c == '\r') ? ' ' : c;
			}
			out[o] = '\0';
		}
		if (o >= width)
			o = width - 1;
	}
	/* a cut may have split a UTF-8 sequence: drop what is left of it */
	size_t start = o;
	while (start > 0 && ((unsigned char)out[start - 1] & 0xc0) == 0x80)
		start--;
	if (start > 0 && ((unsigned char)out[start - 1] & 0x80))
		start--;
	if (!tr_utf8_valid(out + start, o - start))
		out[start] = '\0';
}

int tr_cli_add_field(tr_record *rec, const tr_kind_spec *k, const char *name, const char *text,
                     size_t len, char *why, size_t whylen)
{
	const tr_field_spec *fs = tr_kind_field(k, name, strlen(name));
	if (!tr_kind_field_allowed(k, name, strlen(name))) {
		snprintf(
		    why, whylen,
		    "%s records have no field \"%.40s\" (see `trestle kinds %s`; custom fields "
		    "are x_ then lower-case letters, digits and _)",
		    k->name, name, k->name);
		return TR_ESCHEMA;
	}
	if (tr_record_field(rec, name)) {
		snprintf(why, whylen, "field %s is given twice", name);
		return TR_ESCHEMA;
	}
	int rc;
	if (fs && fs->type == TR_FT_INT) {
		char buf[32], *end;
		if (len == 0 || len >= sizeof(buf)) {
			snprintf(why, whylen, "%s must be a whole number", name);
			return TR_ESCHEMA;
		}
		memcpy(buf, text, len);
		buf[len] = '\0';
		errno = 0;
		long long v = strtoll(buf, &end, 10);
		if (errno || *end) {
			snprintf(why, whylen, "%s must be a whole number, not \"%.30s\"", name,
			         buf);
			return TR_ESCHEMA;
		}
		rc = tr_record_add_int(rec, fs->name, v);
	} else {
		rc = tr_record_add_str(rec, fs ? fs->name : name, text, len);
	}
	if (rc) {
		snprintf(why, whylen, "a record holds at most %d fields", TR_MAX_FIELDS);
		return TR_ESCHEMA;
	}
	tr_field *f = &rec->fields[rec->nfields - 1];
	return tr_field_check(fs, &f->value, why, whylen);
}

struct resolve_ctx {
	const char *prefix;
	uint8_t *id;
};

static int resolve_fn(tr_txn *t, void *ctx)
{
	struct resolve_ctx *r = ctx;
	return tr_txn_resolve(t, r->prefix, r->id);
}

int tr_cli_resolve(tr_cli *cli, const char *prefix, uint8_t id[TR_ID_BYTES])
{
	struct resolve_ctx r = {prefix, id};
	int rc = tr_store_read(cli->store, resolve_fn, &r);
	switch (rc) {
	case 0:
		return 0;
	case TR_EINVAL:
		tr_cli_error("\"%s\" is not a record id (4 to 64 hex digits)", prefix);
		return TR_EXIT_USAGE;
	case TR_ENOTFOUND:
		return tr_cli_error("no record with id %s in this store", prefix);
	case TR_EAMBIG:
		return tr_cli_error("id %s matches more than one record; give more digits", prefix);
	}
	return tr_cli_error("cannot look up %s: %s", prefix, tr_strerror(rc));
}

int tr_cli_query(tr_cli *cli, const tr_cmd_help *h, tr_filter *f, tr_query *q)
{
	memset(q, 0, sizeof(*q));
	q->kind = f->kind;
	q->product = f->product;
	q->text = f->text;
	q->limit = f->limit;
	if (f->kind && !tr_kind_find(f->kind, strlen(f->kind)))
		return tr_opt_usage_error(h, "unknown kind \"%s\" (see `trestle kinds`)", f->kind);
	if (f->author) {
		if (!strcmp(f->author, "self")) {
			memcpy(f->author_pk, tr_key_public(cli->key), TR_PK_BYTES);
		} else {
			int rc = tr_nodeid_parse(f->author, f->author_pk);
			if (rc)
				return tr_opt_usage_error(
				    h, "--author: \"%s\" is not a node id%s", f->author,
				    rc == TR_EDIGEST ? " (its check does not match: a typo?)" : "");
		}
		q->author = f->author_pk;
	}
	if (f->since && tr_time_parse(f->since, &q->since_ms))
		return tr_opt_usage_error(h,
		                          "--since: \"%s\" is not a time (YYYY-MM-DD or "
		                          "YYYY-MM-DDTHH:MMZ)",
		                          f->since);
	if (f->until && tr_time_parse(f->until, &q->until_ms))
		return tr_opt_usage_error(h,
		                          "--until: \"%s\" is not a time (YYYY-MM-DD or "
		                          "YYYY-MM-DDTHH:MMZ)",
		                          f->until);
	if (f->ref) {
		int rc = tr_cli_resolve(cli, f->ref, f->ref_id);
		if (rc)
			return rc;
		q->ref = f->ref_id;
	}
	return 0;
}

int tr_cli_status_authority(tr_txn *t, const tr_cli *cli, const tr_record *rec, char *why,
                            size_t whylen)
{
	const uint8_t *env;
	size_t len;
	tr_record target;
	const tr_field *st = tr_record_field(rec, "state");
	if (!tr_str_eq(rec->kind, "status") || !strcmp(cli->config.role, "producer") ||
	    (st && st->value.type == TR_VAL_STR && tr_str_eq(st->value.s, "note")))
		return 0; /* anyone may add a note */
	for (size_t i = 0; i < rec->nrefs; i++) {
		if (tr_txn_get(t, rec->refs[i], &env, &len, NULL, NULL) != 0 ||
		    tr_record_decode(env, len, &target) != 0)
			continue; /* tr_txn_create says what is wrong with the ref */
		if (tr_str_eq(target.kind, "idea") || tr_str_eq(target.kind, "test_request")) {
			snprintf(why, whylen,
			         "a status on %s %.*s is the producer's to set (this node is a %s; "
			         "a distributor's judgement goes in an assessment)",
			         tr_str_eq(target.kind, "idea") ? "an" : "a", (int)target.kind.n,
			         target.kind.p, cli->config.role);
			return TR_ESCHEMA;
		}
	}
	return 0;
}

const char *tr_cli_who(void)
{
	static char who[200];
	const struct passwd *pw = getpwuid(geteuid());
	const char *sudo = getenv("SUDO_USER");
	snprintf(who, sizeof(who), "%s%s%s%s", pw ? pw->pw_name : "?", sudo ? " (sudo by " : "",
	         sudo ? sudo : "", sudo ? ")" : "");
	return who;
}

int tr_cli_fields(const char *list, char out[][TR_MAX_NAME + 1], size_t *n, char *why,
                  size_t whylen)
{
	*n = 0;
	for (const char *p = list;;) {
		const char *c = strchr(p, ',');
		size_t m = c ? (size_t)(c - p) : strlen(p);
		tr_str name = {p, m};
		if (!tr_name_valid(name)) {
			snprintf(why, whylen,
			         "\"%.*s\" is not a field name (a comma-separated list "
			         "like title,text)",
			         (int)(m > 40 ? 40 : m), p);
			return TR_EINVAL;
		}
		if (*n == TR_MAX_FIELDS) {
			snprintf(why, whylen, "at most %d fields", TR_MAX_FIELDS);
			return TR_EINVAL;
		}
		for (size_t i = 0; i < *n; i++)
			if (strlen(out[i]) == m && !memcmp(out[i], p, m)) {
				snprintf(why, whylen, "field %.*s is listed twice", (int)m, p);
				return TR_EINVAL;
			}
		memcpy(out[*n], p, m);
		out[(*n)++][m] = '\0';
		if (!c)
			return 0;
		p = c + 1;
	}
}

struct name_of_ctx {
	uint32_t index;
	char *out;
	size_t n;
	int found;
};

static int name_of_cb(void *vctx, const tr_partner *p)
{
	struct name_of_ctx *c = vctx;
	if (p->index != c->index)
		return 0;
	snprintf(c->out, c->n, "%s", p->name);
	c->found = 1;
	return 1;
}

void tr_partner_name_of(tr_txn *t, uint32_t index, char *out, size_t n)
{
	struct name_of_ctx c = {index, out, n, 0};
	tr_txn_partner_scan(t, name_of_cb, &c);
	if (!c.found)
		snprintf(out, n, "#%" PRIu32 " (removed)", index);
}

int tr_role_parse(const char *s)
{
	return !strcmp(s, "user")          ? TR_ROLE_USER
	       : !strcmp(s, "distributor") ? TR_ROLE_DISTRIBUTOR
	       : !strcmp(s, "producer")    ? TR_ROLE_PRODUCER
	                                   : 0;
}

const char *tr_role_name(int role)
{
	return role == TR_ROLE_USER          ? "user"
	       : role == TR_ROLE_DISTRIBUTOR ? "distributor"
	       : role == TR_ROLE_PRODUCER    ? "producer"
	                                     : "none";
}

/* cmd_import.c: `trestle import FILE`: records from what a firm's CRM exports.
 *
 * Two passes over the file, streaming (memory does not grow with the file):
 *  1. check: parse and validate every row; report each bad row with line and column.
 *     Any bad row and nothing is imported (unless --skip-invalid).
 *  2. import: create the records in batches, each batch one LMDB transaction, so a crash
 *     or kill at any instant leaves every record fully stored with its index entries,
 *     or absent. If pass 2 stops (disk full), the message says which line to resume at.
 * JSON lines that carry a signed envelope ("record", as `trestle export` writes) are
 * verified and stored as they are: export then import gives the same records. */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <sodium.h>

#include "cli.h"
#include "control.h"
#include "csv.h"
#include "error.h"
#include "kind.h"
#include "../../proto/banned.h"

static const tr_cmd_help help = {
    "import", "FILE",
    "Import records from a CSV file (a header row, then one record per row) or JSON lines\n"
    "(one object per line). The whole file is checked first: if any row is invalid,\n"
    "nothing is imported and every bad row is reported with its line and column.",
    "CSV: headers are matched to the kind's field names ignoring case, with spaces, dashes,\n"
    "dots and slashes read as _ (\"Serial No\" is serial_no: map it to serial). Empty cells\n"
    "are left out. A \"kind\" column may replace --kind. Columns that are not fields must be "
    "mapped or dropped:\n"
    "  --map 'Serial No=serial'   --map 'Internal=x_internal'   --map 'Notes='  (drop)\n"
    "JSON lines: {\"kind\":\"claim\",\"product\":\"DW-200\",...} or "
    "{\"kind\":...,\"fields\":{...},\n"
    "\"refs\":[ID...]}; lines written by `trestle export` (with \"record\") are verified and\n"
    "stored unchanged, and records already present are skipped.\n\n"
    "examples:\n  trestle import claims.csv --kind claim --map 'Customer Name=customer'\n"
    "  trestle import --skip-invalid contacts.csv --kind contact --delimiter ';'\n"
    "  trestle export > all.jsonl && trestle --home other import all.jsonl\n\n"
    "Besides 0, 1 and 2, import exits with 5 when rows are invalid: nothing was imported."};

enum { FMT_CSV = 1, FMT_JSONL };

#define BATCH_RECORDS 1000
#define BATCH_BYTES (8u << 20)
#define ROW_BYTES_MAX ((size_t)TR_CSV_MAX_ROW + 4096) /* largest row a batch must fit */
#define JSON_LINE_MAX (1u << 20)
#define MAX_REPORTED 20

/* One input row as (name, value) pairs, borrowed from the reader until the next row. */
struct row {
	size_t line;
	const tr_kind_spec *kind;
	size_t n;
	const char *name[TR_CSV_MAX_FIELDS];
	const char *text[TR_CSV_MAX_FIELDS];
	size_t len[TR_CSV_MAX_FIELDS];
	int is_int[TR_CSV_MAX_FIELDS];
	int64_t ival[TR_CSV_MAX_FIELDS];
	size_t col[TR_CSV_MAX_FIELDS]; /* where each value starts in the file (CSV) */
	size_t fline[TR_CSV_MAX_FIELDS];
	size_t nrefs;
	const char *refs[TR_MAX_REFS];
	uint64_t hops, roles;
	size_t nprivate;
	const char *private_[TR_MAX_FIELDS];
	uint8_t *env; /* a signed envelope (JSON "record"); malloc'd, or NULL */
	size_t env_len;
};

struct source {
	int fmt;
	const char *path;
	FILE *f;
	tr_csv *csv;
	char delim;
	const tr_kind_spec *kind; /* --kind */
	/* CSV: what each column is */
	size_t ncols;
	int kind_col;                            /* -1: none */
	const char *col_name[TR_CSV_MAX_FIELDS]; /* field name, or NULL to drop */
	char *header_store;                      /* the names above point here */
	/* JSON lines */
	char *line;
	size_t lineno;
	json_t *obj;
	uint64_t bytes;
};

static void normalize(const char *in, char *out, size_t n)
{
	size_t o = 0;
	int sep = 0;
	while (*in == ' ' || *in == '\t')
		in++;
	for (; *in && o + 1 < n; in++) {
		char c = *in;
		if (c == ' ' || c == '-' || c == '.' || c == '/' || c == '\t') {
			sep = 1;
			continue;
		}
		if (sep && o)
			out[o++] = '_';
		sep = 0;
		out[o++] = (char)(c >= 'A' && c <= 'Z' ? c + 32 : c);
	}
	out[o] = '\0';
}

/* A custom field name made from a header: what --map 'Header=x_...' could say. */
static void custom_name(const char *norm, char *out, size_t n)
{
	size_t o = snprintf(out, n, "x_") > 0 ? 2 : 0;
	for (const char *p = norm; *p && o + 1 < n && o < TR_MAX_NAME; p++) {
		char c = *p;
		int ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
		if (ok)
			out[o++] = c;
		else if (out[o - 1] != '_')
			out[o++] = '_';
	}
	while (o > 2 && out[o - 1] == '_')
		o--;
	if (o == 2)
		out[o++] = 'f';
	out[o] = '\0';
}

static int field_in_any_kind(const char *name)
{
	for (const tr_kind_spec *k = tr_kinds; k->name; k++)
		if (tr_kind_field(k, name, strlen(name)))
			return 1;
	return 0;
}

/* Reads the CSV header and decides what every column is. */
static int csv_header(struct source *s, const tr_strlist *maps)
{
	size_t n;
	char *const *fields;
	const size_t *lens;
	int rc = tr_csv_next(s->csv, &n, &fields, &lens);
	if (rc < 0)
		return tr_cli_error("%s: %s", s->path, tr_csv_error(s->csv));
	if (rc == 0)
		return tr_cli_error("%s is empty: a CSV file needs a header row", s->path);
	size_t total = 0;
	for (size_t i = 0; i < n; i++)
		total += lens[i] + 1 + TR_MAX_NAME + 1;
	s->header_store = malloc(total + 1);
	if (!s->header_store)
		return tr_cli_error("out of memory");
	char *p = s->header_store;
	s->ncols = n;
	s->kind_col = -1;
	int bad = 0;
	for (size_t i = 0; i < n; i++) {
		char norm[TR_MAX_NAME * 4];
		normalize(fields[i], norm, sizeof(norm));
		const char *target = NULL;
		int mapped = 0;
		for (size_t m = 0; m < maps->n; m++) {
			const char *eq = strrchr(maps->v[m], '=');
			char mnorm[sizeof(norm)], mh[1024];
			snprintf(mh, sizeof(mh), "%.*s", (int)(eq - maps->v[m]), maps->v[m]);
			normalize(mh, mnorm, sizeof(mnorm));
			if (!strcasecmp(mh, fields[i]) || !strcmp(mnorm, norm)) {
				target = eq + 1;
				mapped = 1;
			}
		}
		if (!mapped)
			target = norm;
		if (mapped && !*target) {
			s->col_name[i] = NULL; /* dropped */
			continue;
		}
		if (!strcmp(target, "kind")) {
			s->kind_col = (int)i;
			s->col_name[i] = NULL;
			continue;
		}
		size_t tl = strlen(target);
		tr_str ts = {target, tl};
		int custom = tl > 2 && !strncmp(target, "x_", 2) && tr_name_valid(ts);
		int known = s->kind ? tr_kind_field(s->kind, target, tl) != NULL
		                    : field_in_any_kind(target);
		if (!known && !custom) {
			char suggest[TR_MAX_NAME + 1];
			custom_name(norm, suggest, sizeof(suggest));
			if (bad++ < MAX_REPORTED)
				fprintf(
				    stderr,
				    "%s:1:%zu: column \"%s\" is not a field of %s; map it with "
				    "--map '%s=FIELD', keep it with --map '%s=%s', or drop it with "
				    "--map '%s='\n",
				    s->path, tr_csv_field_column(s->csv, i), fields[i],
				    s->kind ? s->kind->name : "any kind", fields[i], fields[i],
				    suggest, fields[i]);
			continue;
		}
		if (tl > TR_MAX_NAME) {
			bad++;
			fprintf(stderr, "%s:1: field name \"%s\" is longer than %d bytes\n",
			        s->path, target, TR_MAX_NAME);
			continue;
		}
		memcpy(p, target, tl + 1);
		s->col_name[i] = p;
		p += tl + 1;
	}
	if (!s->kind && s->kind_col < 0)
		return tr_opt_usage_error(&help,
		                          "which kind of record are the rows? give --kind, or "
		                          "a \"kind\" column");
	if (bad) {
		fprintf(stderr, "trestle: %d column%s not understood; nothing was imported\n", bad,
		        bad == 1 ? "" : "s");
		return TR_EXIT_INVALID;
	}
	return 0;
}

static int source_open(struct source *s, const tr_strlist *maps)
{
	s->f = fopen(s->path, "rb");
	if (!s->f)
		return tr_cli_error("cannot open %s: %s", s->path, strerror(errno));
	struct stat st;
	s->bytes = fstat(fileno(s->f), &st) == 0 ? (uint64_t)st.st_size : 0;
	s->lineno = 0;
	if (s->fmt == FMT_CSV) {
		s->csv = tr_csv_new(s->f, s->delim);
		if (!s->csv)
			return tr_cli_error("out of memory");
		free(s->header_store);
		s->header_store = NULL;
		return csv_header(s, maps);
	}
	if (!s->line && !(s->line = malloc(JSON_LINE_MAX + 2)))
		return tr_cli_error("out of memory");
	return 0;
}

static void source_close(struct source *s)
{
	tr_csv_destroy(&s->csv);
	if (s->f)
		fclose(s->f);
	s->f = NULL;
	if (s->obj)
		json_decref(s->obj);
	s->obj = NULL;
}

static uint64_t source_pos(const struct source *s)
{
	if (s->csv)
		return tr_csv_bytes_read(s->csv);
	long p = s->f ? ftell(s->f) : 0;
	return p > 0 ? (uint64_t)p : 0;
}

/* Where in the file a row went wrong; line 0 means the row's first line, col 0 none. */
struct where {
	size_t line, col;
};

#define ROW_FAIL_AT(l, c, ...)                                                                     \
	do {                                                                                       \
		w->line = (l);                                                                     \
		w->col = (c);                                                                      \
		snprintf(why, whylen, __VA_ARGS__);                                                \
		return -2;                                                                         \
	} while (0)
#define ROW_FAIL(c, ...) ROW_FAIL_AT(0, c, __VA_ARGS__)
#define ROW_FAIL_FIELD(i, ...) ROW_FAIL_AT(r->fline[i], r->col[i], __VA_ARGS__)

static int csv_row(struct source *s, struct row *r, char *why, size_t whylen, struct where *w)
{
	size_t n;
	char *const *fields;
	const size_t *lens;
	int rc = tr_csv_next(s->csv, &n, &fields, &lens);
	if (rc < 0) {
		snprintf(why, whylen, "%s", tr_csv_error(s->csv));
		return -1;
	}
	if (rc == 0)
		return 0;
	r->line = tr_csv_row_line(s->csv);
	if (n != s->ncols)
		ROW_FAIL(0, "the row has %zu columns; the header has %zu", n, s->ncols);
	r->kind = s->kind;
	if (s->kind_col >= 0) {
		size_t kc = (size_t)s->kind_col;
		if (lens[kc]) {
			r->kind = tr_kind_find(fields[kc], lens[kc]);
			if (!r->kind)
				ROW_FAIL_AT(tr_csv_field_line(s->csv, kc),
				            tr_csv_field_column(s->csv, kc),
				            "unknown kind \"%.40s\"", fields[kc]);
		}
		if (!r->kind)
			ROW_FAIL_AT(tr_csv_field_line(s->csv, kc), tr_csv_field_column(s->csv, kc),
			            "the kind column is empty");
	}
	for (size_t i = 0; i < n; i++) {
		if (!s->col_name[i])
			continue;
		const char *t = fields[i];
		size_t len = lens[i];
		const tr_field_spec *fs =
		    tr_kind_field(r->kind, s->col_name[i], strlen(s->col_name[i]));
		if (!fs || fs->type != TR_FT_TEXT) { /* one-line fields: forgive padding */
			while (len && (*t == ' ' || *t == '\t')) {
				t++;
				len--;
			}
			while (len && (t[len - 1] == ' ' || t[len - 1] == '\t'))
				len--;
		}
		if (!len)
			continue;
		r->name[r->n] = s->col_name[i];
		r->text[r->n] = t;
		r->len[r->n] = len;
		r->is_int[r->n] = 0;
		r->col[r->n] = tr_csv_field_column(s->csv, i);
		r->fline[r->n] = tr_csv_field_line(s->csv, i);
		r->n++;
	}
	return 1;
}

/* Reads one line into s->line; -1 with why if it is longer than the cap. */
static int read_line(struct source *s, size_t *len, size_t *nul_col, char *why, size_t whylen)
{
	/* byte by byte: a NUL or an overlong line must not fool a strlen */
	size_t n = 0;
	int c;
	*nul_col = 0;
	while ((c = getc_unlocked(s->f)) != EOF && c != '\n') {
		if (n == JSON_LINE_MAX) {
			snprintf(why, whylen, "line %zu: longer than %u bytes", s->lineno + 1,
			         JSON_LINE_MAX);
			return -1;
		}
		if (c == 0 && !*nul_col)
			*nul_col = n + 1;
		s->line[n++] = (char)c;
	}
	if (c == EOF && ferror(s->f)) {
		snprintf(why, whylen, "read error: %s", strerror(errno));
		return -1;
	}
	if (c == EOF && n == 0)
		return 0;
	s->lineno++;
	s->line[n] = '\0';
	*len = n;
	return 1;
}

static int json_row(struct source *s, struct row *r, char *why, size_t whylen, struct where *w)
{
	size_t len, nul_col;
	int rc;
	if (s->obj) {
		json_decref(s->obj);
		s->obj = NULL;
	}
	do {
		rc = read_line(s, &len, &nul_col, why, whylen);
		if (rc <= 0)
			return rc;
		if (len && s->line[len - 1] == '\r')
			len--;
	} while (!nul_col && (len == 0 || strspn(s->line, " \t") == len));
	r->line = s->lineno;
	if (nul_col)
		ROW_FAIL(nul_col, "NUL byte in the line");
	json_error_t err;
	s->obj = json_loadb(s->line, len, JSON_REJECT_DUPLICATES, &err);
	if (!s->obj)
		ROW_FAIL((size_t)err.column, "%s", err.text);
	if (!json_is_object(s->obj))
		ROW_FAIL(1, "expected a JSON object");
	json_t *rec = json_object_get(s->obj, "record");
	if (rec) {
		const char *b64 = json_string_value(rec);
		size_t blen = b64 ? strlen(b64) : 0;
		if (!b64 || blen > TR_MAX_RECORD_BYTES * 2)
			ROW_FAIL(0, "\"record\" must be a base64 string of at most %d bytes",
			         TR_MAX_RECORD_BYTES);
		r->env = malloc(blen);
		if (!r->env || sodium_base642bin(r->env, blen, b64, blen, NULL, &r->env_len, NULL,
		                                 sodium_base64_VARIANT_ORIGINAL) != 0)
			ROW_FAIL(0, "\"record\" is not valid base64");
		return 1;
	}
	json_t *kind = json_object_get(s->obj, "kind");
	const char *kn = kind ? json_string_value(kind) : NULL;
	if (kind && !kn)
		ROW_FAIL(0, "\"kind\" must be a string");
	r->kind = kn ? tr_kind_find(kn, strlen(kn)) : s->kind;
	if (kn && !r->kind)
		ROW_FAIL(0, "unknown kind \"%.40s\"", kn);
	if (!r->kind)
		ROW_FAIL(0, "no \"kind\" (give one per line, or --kind)");
	json_t *refs = json_object_get(s->obj, "refs");
	if (refs) {
		if (!json_is_array(refs) || json_array_size(refs) > TR_MAX_REFS)
			ROW_FAIL(0, "\"refs\" must be an array of at most %d record ids",
			         TR_MAX_REFS);
		for (size_t i = 0; i < json_array_size(refs); i++) {
			r->refs[i] = json_string_value(json_array_get(refs, i));
			if (!r->refs[i])
				ROW_FAIL(0, "\"refs\" must hold record ids (strings)");
		}
		r->nrefs = json_array_size(refs);
	}
	json_t *terms = json_object_get(s->obj, "terms");
	if (terms) {
		json_t *hops = json_object_get(terms, "hops"), *to = json_object_get(terms, "to"),
		       *priv = json_object_get(terms, "private");
		if (!json_is_object(terms) ||
		    (hops && (!json_is_integer(hops) || json_integer_value(hops) < 0 ||
		              json_integer_value(hops) > 16)))
			ROW_FAIL(0, "\"terms\" must be {\"hops\": 0..16, \"to\": [roles], "
			            "\"private\": [fields]}");
		if ((to && !json_is_array(to)) || (priv && !json_is_array(priv)) ||
		    (priv && json_array_size(priv) > TR_MAX_FIELDS))
			ROW_FAIL(0,
			         "\"terms\" must be {\"hops\": 0..16, \"to\": [roles], "
			         "\"private\": [at most %d fields]}",
			         TR_MAX_FIELDS);
		r->hops = hops ? (uint64_t)json_integer_value(hops) : 0;
		for (size_t i = 0; to && i < json_array_size(to); i++) {
			uint64_t bit;
			const char *rn = json_string_value(json_array_get(to, i));
			if (!rn || tr_roles_parse(rn, &bit))
				ROW_FAIL(0, "\"terms\".\"to\" holds producer, distributor or user");
			r->roles |= bit;
		}
		for (size_t i = 0; priv && i < json_array_size(priv); i++) {
			r->private_[i] = json_string_value(json_array_get(priv, i));
			if (!r->private_[i])
				ROW_FAIL(0, "\"terms\".\"private\" holds field names");
			r->nprivate++;
		}
	}
	json_t *fields = json_object_get(s->obj, "fields");
	json_t *src = fields ? fields : s->obj;
	if (fields && !json_is_object(fields))
		ROW_FAIL(0, "\"fields\" must be an object");
	const char *key;
	json_t *val;
	json_object_foreach(src, key, val)
	{
		if (!fields &&
		    (!strcmp(key, "kind") || !strcmp(key, "refs") || !strcmp(key, "terms")))
			continue;
		if (json_is_null(val))
			continue;
		if (r->n >= TR_MAX_FIELDS)
			ROW_FAIL(0, "more than %d fields", TR_MAX_FIELDS);
		r->name[r->n] = key;
		r->col[r->n] = 0;
		r->fline[r->n] = 0;
		if (json_is_string(val)) {
			r->text[r->n] = json_string_value(val);
			r->len[r->n] = json_string_length(val);
			r->is_int[r->n] = 0;
		} else if (json_is_integer(val)) {
			r->is_int[r->n] = 1;
			r->ival[r->n] = json_integer_value(val);
		} else {
			ROW_FAIL(0, "field \"%.40s\" must be a string or a whole number", key);
		}
		r->n++;
	}
	return 1;
}

/* 1 row, 0 end, -1 the file cannot be read on (why), -2 this row is invalid (why). */
static int source_next(struct source *s, struct row *r, char *why, size_t whylen, struct where *w)
{
	free(r->env);
	memset(r, 0, offsetof(struct row, name));
	r->env = NULL;
	r->env_len = 0;
	r->nrefs = r->nprivate = 0;
	r->hops = r->roles = 0;
	w->line = w->col = 0;
	return s->fmt == FMT_CSV ? csv_row(s, r, why, whylen, w) : json_row(s, r, why, whylen, w);
}

/* Builds rec from row (names and values stay borrowed from row). -2 with why. */
static int build(tr_cli *cli, const struct row *r, tr_record *rec, char *why, size_t whylen,
                 struct where *w)
{
	tr_record_init(rec);
	rec->kind.p = r->kind->name;
	rec->kind.n = strlen(r->kind->name);
	rec->terms.hops = r->hops;
	rec->terms.roles = r->roles;
	for (size_t i = 0; i < r->nprivate; i++) {
		rec->terms.private_fields[i].p = r->private_[i];
		rec->terms.private_fields[i].n = strlen(r->private_[i]);
	}
	rec->terms.nprivate = r->nprivate;
	for (size_t i = 0; i < r->n; i++) {
		int rc;
		if (r->is_int[i]) {
			const tr_field_spec *fs =
			    tr_kind_field(r->kind, r->name[i], strlen(r->name[i]));
			if (!tr_kind_field_allowed(r->kind, r->name[i], strlen(r->name[i])))
				ROW_FAIL_FIELD(i, "%s records have no field \"%.40s\"",
				               r->kind->name, r->name[i]);
			if (fs && fs->type != TR_FT_INT)
				ROW_FAIL_FIELD(i, "field %.40s must be text, not a number",
				               r->name[i]);
			if (tr_record_field(rec, r->name[i]))
				ROW_FAIL_FIELD(i, "field %.40s is given twice", r->name[i]);
			if (tr_record_add_int(rec, fs ? fs->name : r->name[i], r->ival[i]))
				ROW_FAIL_FIELD(i, "more than %d fields", TR_MAX_FIELDS);
			rc = tr_field_check(fs, &rec->fields[rec->nfields - 1].value, why, whylen);
		} else {
			rc = tr_cli_add_field(rec, r->kind, r->name[i], r->text[i], r->len[i], why,
			                      whylen);
		}
		if (rc) {
			w->line = r->fline[i];
			w->col = r->col[i];
			return -2;
		}
	}
	for (size_t i = 0; i < r->nrefs; i++) {
		uint8_t *id = rec->refs[rec->nrefs];
		size_t n = strlen(r->refs[i]);
		if (n != 2 * TR_ID_BYTES ||
		    sodium_hex2bin(id, TR_ID_BYTES, r->refs[i], n, NULL, NULL, NULL) != 0)
			ROW_FAIL(0, "refs: \"%.70s\" is not a full record id (64 hex digits)",
			         r->refs[i]);
		rec->nrefs++;
	}
	(void)cli;
	if (tr_kind_validate(rec, why, whylen))
		return -2;
	return 0;
}

/* ---- batches ---- */

struct batch {
	tr_cli *cli;
	size_t n;
	tr_record recs[BATCH_RECORDS];
	uint8_t *envs[BATCH_RECORDS]; /* signed envelopes to store as they are, or NULL */
	size_t env_lens[BATCH_RECORDS];
	size_t lines[BATCH_RECORDS];
	char *buf;
	size_t used;
	tr_mpw scratch;
	char why[512];
	size_t bad_line;
	uint64_t created, present; /* set by a successful commit */
	tr_mpw mark;               /* how far the import got, committed with the batch */
};

static const char *copy_in(struct batch *b, const char *p, size_t n)
{
	char *d = b->buf + b->used;
	memcpy(d, p, n);
	d[n] = '\0';
	b->used += n + 1;
	return d;
}

/* Copies a built record's borrowed strings into the batch's buffer. */
static void keep(struct batch *b, tr_record *rec)
{
	for (size_t i = 0; i < rec->nfields; i++) {
		tr_field *f = &rec->fields[i];
		f->name.p = copy_in(b, f->name.p, f->name.n);
		if (f->value.type == TR_VAL_STR)
			f->value.s.p = copy_in(b, f->value.s.p, f->value.s.n);
	}
	for (size_t i = 0; i < rec->terms.nprivate; i++)
		rec->terms.private_fields[i].p =
		    copy_in(b, rec->terms.private_fields[i].p, rec->terms.private_fields[i].n);
}

static int batch_fn(tr_txn *t, void *ctx)
{
	struct batch *b = ctx;
	b->created = b->present = 0;
	b->bad_line = 0;
	for (size_t i = 0; i < b->n; i++) {
		int rc;
		if (b->envs[i]) {
			tr_record *rec = &b->recs[i];
			int added;
			if ((rc = tr_record_open(b->envs[i], b->env_lens[i], rec)) != 0)
				return rc;
			rc = tr_txn_add(t, b->envs[i], b->env_lens[i], rec, TR_SOURCE_IMPORT,
			                TR_DEPTH_MAX, &added);
			if (rc == TR_ESCHEMA)
				snprintf(b->why, sizeof(b->why),
				         "the signed record is not valid for its kind");
			b->created += added;
			b->present += !added;
		} else {
			rc = tr_txn_create(t, b->cli->key, &b->recs[i], tr_now_ms(), &b->scratch,
			                   b->why, sizeof(b->why));
			b->created++;
		}
		if (rc) {
			b->bad_line = b->lines[i];
			return rc;
		}
	}
	return tr_txn_note_put(t, "import", tr_mpw_data(&b->mark), tr_mpw_size(&b->mark));
}

static void batch_clear(struct batch *b)
{
	for (size_t i = 0; i < b->n; i++)
		free(b->envs[i]);
	b->n = 0;
	b->used = 0;
}

/* ---- progress ---- */

struct progress {
	int on;
	const char *what;
	struct timespec t0, last;
	uint64_t total;
};

static double since(const struct timespec *a, const struct timespec *b)
{
	return (double)(b->tv_sec - a->tv_sec) + (double)(b->tv_nsec - a->tv_nsec) / 1e9;
}

static void progress(struct progress *p, uint64_t rows, uint64_t pos, int final)
{
	if (!p->on)
		return;
	struct timespec now;
	clock_gettime(CLOCK_MONOTONIC, &now);
	if (!final && since(&p->last, &now) < 0.2)
		return;
	p->last = now;
	double el = since(&p->t0, &now);
	double rate = el > 0 ? (double)rows / el : 0;
	fprintf(stderr, "\r%s: %" PRIu64 " rows, %.0f rows/s", p->what, rows, rate);
	if (!final && p->total && pos > 0 && pos < p->total) {
		double left = el * (double)(p->total - pos) / (double)pos;
		fprintf(stderr, ", %d:%02d left ", (int)left / 60, (int)left % 60);
	} else {
		fprintf(stderr, ", %.1f s      ", el);
	}
	if (final)
		fputc('\n', stderr);
}

static void progress_start(struct progress *p, const char *what, uint64_t total)
{
	p->what = what;
	p->total = total;
	clock_gettime(CLOCK_MONOTONIC, &p->t0);
	p->last = p->t0;
	p->last.tv_sec -= 1;
}

/* ---- the command ---- */

/* The import mark: which file an import is reading and the last line it committed.
 * A re-run of an import that was cut off (kill, crash, full disk) would create the
 * committed rows again under new ids; the mark lets import refuse that and say where
 * to go on. It is written in the same transaction as each batch. */
struct mark {
	char file[4096]; /* absolute path */
	uint64_t size, mtime_ns, last_line, records, done;
};

static void mark_encode(tr_mpw *w, const struct mark *m)
{
	tr_mpw_reset(w);
	tr_mpw_array(w, 6);
	tr_mpw_str(w, m->file, strlen(m->file));
	tr_mpw_uint(w, m->size);
	tr_mpw_uint(w, m->mtime_ns);
	tr_mpw_uint(w, m->last_line);
	tr_mpw_uint(w, m->records);
	tr_mpw_uint(w, m->done);
}

static int mark_get_fn(tr_txn *t, void *ctx)
{
	struct mark *m = ctx;
	const void *v;
	size_t n, items;
	tr_str file;
	tr_mpr r;
	int rc = tr_txn_note_get(t, "import", &v, &n);
	if (rc)
		return rc;
	tr_mpr_init(&r, v, n);
	if (tr_mpr_array(&r, &items, 6) || items != 6 || tr_mpr_str(&r, &file, 4095) ||
	    tr_mpr_uint(&r, &m->size) || tr_mpr_uint(&r, &m->mtime_ns) ||
	    tr_mpr_uint(&r, &m->last_line) || tr_mpr_uint(&r, &m->records) ||
	    tr_mpr_uint(&r, &m->done))
		return TR_ENOTFOUND; /* unreadable: as if none */
	memcpy(m->file, file.p, file.n);
	m->file[file.n] = '\0';
	return 0;
}

struct finish_ctx {
	const char *detail;
	tr_mpw *mark;
};

static int finish_fn(tr_txn *t, void *ctx)
{
	struct finish_ctx *f = ctx;
	int rc = tr_txn_note_put(t, "import", tr_mpw_data(f->mark), tr_mpw_size(f->mark));
	return rc ? rc : tr_txn_audit(t, tr_now_ms(), "import", f->detail);
}

struct import_run {
	tr_cli *cli;
	struct mark mark;
	struct source src;
	struct row row;
	tr_record rec;
	struct progress prog;
	int skip_invalid;
	uint64_t start_line;
	/* the records whose state rows of this file change, with the line: a row is checked
	 * against the store's state before the import, so a file may move each record once */
	struct moved {
		uint8_t id[TR_ID_BYTES];
		size_t line;
	} * moved;
	size_t nmoved, movedcap;
};

/* A state change (a status other than a note, about one record) this file makes: a
 * second one for the same record is refused (-2, why), since each is checked against
 * the state the record has before the import. */
static int once_per_record(struct import_run *ir, const tr_record *rec, size_t line, char *why,
                           size_t whylen)
{
	const tr_field *st = tr_record_field(rec, "state");
	if (!tr_str_eq(rec->kind, "status") || rec->nrefs != 1 || !st ||
	    st->value.type != TR_VAL_STR || tr_str_eq(st->value.s, "note"))
		return 0;
	for (size_t i = 0; i < ir->nmoved; i++)
		if (!memcmp(ir->moved[i].id, rec->refs[0], TR_ID_BYTES)) {
			char hex[TR_ID_HEX_SIZE];
			tr_id_hex(rec->refs[0], hex);
			snprintf(
			    why, whylen,
			    "line %zu changes the state of %.12s already: import one state change "
			    "per record at a time (or use `trestle claim|idea|test status`)",
			    ir->moved[i].line, hex);
			return -2;
		}
	if (ir->nmoved == ir->movedcap) {
		size_t cap = ir->movedcap ? ir->movedcap * 2 : 64;
		struct moved *nm = realloc(ir->moved, cap * sizeof(*nm));
		if (!nm) {
			snprintf(why, whylen, "out of memory");
			return -2;
		}
		ir->moved = nm;
		ir->movedcap = cap;
	}
	memcpy(ir->moved[ir->nmoved].id, rec->refs[0], TR_ID_BYTES);
	ir->moved[ir->nmoved++].line = line;
	return 0;
}

static int envelope_check(struct import_run *ir, char *why, size_t whylen)
{
	int rc = tr_record_open(ir->row.env, ir->row.env_len, &ir->rec);
	if (rc) {
		snprintf(why, whylen, "the signed record does not verify: %s", tr_strerror(rc));
		return -2;
	}
	return tr_kind_validate(&ir->rec, why, whylen) ? -2 : 0;
}

struct refs_ctx {
	const tr_cli *cli;
	const tr_record *rec;
	const uint8_t *author;
	char *why;
	size_t whylen;
};

static int refs_fn(tr_txn *t, void *ctx)
{
	struct refs_ctx *r = ctx;
	int rc = tr_cli_status_authority(t, r->cli, r->rec, r->why, r->whylen);
	return rc ? rc : tr_txn_check_refs(t, r->rec, r->author, r->why, r->whylen);
}

/* References must exist before anything is imported: checked in pass 1 too. */
static int check_refs(struct import_run *ir, const tr_record *rec, char *why, size_t whylen)
{
	if (!rec->nrefs)
		return 0;
	struct refs_ctx r = {ir->cli, rec, tr_key_public(ir->cli->key), why, whylen};
	int rc = tr_store_read(ir->cli->store, refs_fn, &r);
	if (rc && rc != TR_EREF && rc != TR_ESCHEMA) /* those say why themselves */
		snprintf(why, whylen, "cannot check the references: %s", tr_strerror(rc));
	return rc ? -2 : 0;
}

/* Pass 1. Returns an exit code; *valid and *invalid count rows. */
static int check_pass(struct import_run *ir, uint64_t *valid, uint64_t *invalid)
{
	char why[600];
	struct where w;
	int rc;
	*valid = *invalid = 0;
	progress_start(&ir->prog, "checking", ir->src.bytes);
	while ((rc = source_next(&ir->src, &ir->row, why, sizeof(why), &w)) != 0) {
		if (rc == -1) {
			progress(&ir->prog, *valid + *invalid, 0, 1);
			fprintf(stderr, "%s: %s\n", ir->src.path, why);
			fprintf(stderr,
			        "trestle: the file cannot be read past this point; nothing was "
			        "imported\n");
			return TR_EXIT_INVALID;
		}
		if (ir->row.line < ir->start_line)
			continue;
		if (rc == 1 && ir->row.env) {
			/* a signed record from elsewhere may refer to records this node was
			 * never shown: only records this node writes must have their refs here */
			rc = envelope_check(ir, why, sizeof(why));
		} else if (rc == 1) {
			rc = build(ir->cli, &ir->row, &ir->rec, why, sizeof(why), &w);
			if (!rc)
				rc = check_refs(ir, &ir->rec, why, sizeof(why));
			if (!rc)
				rc = once_per_record(ir, &ir->rec, ir->row.line, why, sizeof(why));
		}
		if (rc == -2) {
			if ((*invalid)++ < MAX_REPORTED) {
				size_t line = w.line ? w.line : ir->row.line;
				if (w.col)
					fprintf(stderr, "%s:%zu:%zu: %s\n", ir->src.path, line,
					        w.col, why);
				else
					fprintf(stderr, "%s:%zu: %s\n", ir->src.path, line, why);
			}
		} else {
			(*valid)++;
		}
		progress(&ir->prog, *valid + *invalid, source_pos(&ir->src), 0);
	}
	progress(&ir->prog, *valid + *invalid, 0, 1);
	if (*invalid > MAX_REPORTED)
		fprintf(stderr, "... and %" PRIu64 " more invalid rows\n", *invalid - MAX_REPORTED);
	return 0;
}

static int flush(struct import_run *ir, struct batch *b, uint64_t *created, uint64_t *present)
{
	if (!b->n)
		return 0;
	ir->mark.last_line = b->lines[b->n - 1];
	ir->mark.records = *created + b->n; /* what the mark says once this batch commits */
	mark_encode(&b->mark, &ir->mark);
	int rc = tr_store_write(ir->cli->store, batch_fn, b);
	if (rc) {
		if ((rc == TR_EREF || rc == TR_ESCHEMA) && b->bad_line)
			tr_cli_error("%s:%zu: %s", ir->src.path, b->bad_line, b->why);
		else
			tr_cli_error("%s: the rows of lines %zu to %zu were not stored: %s%s",
			             ir->src.path, b->lines[0], b->lines[b->n - 1], tr_strerror(rc),
			             tr_cli_write_hint(rc));
		fprintf(stderr,
		        "trestle: %" PRIu64
		        " records were imported before this and are kept; to go "
		        "on, fix the cause and run the same import with --start-line %zu\n",
		        *created, b->lines[0]);
		batch_clear(b);
		return TR_EXIT_ERROR;
	}
	*created += b->created;
	*present += b->present;
	batch_clear(b);
	return 0;
}

/* Pass 2. */
static int import_pass(struct import_run *ir, struct batch *b, uint64_t expect, uint64_t *created,
                       uint64_t *present)
{
	char why[600];
	struct where w;
	int rc;
	uint64_t rows = 0;
	progress_start(&ir->prog, "importing", ir->src.bytes);
	while ((rc = source_next(&ir->src, &ir->row, why, sizeof(why), &w)) != 0) {
		if (rc == -1)
			return tr_cli_error("%s: %s (the file changed while importing?)",
			                    ir->src.path, why);
		if (ir->row.line < ir->start_line || rc == -2)
			continue;
		tr_record *rec = &b->recs[b->n];
		if (ir->row.env) {
			b->envs[b->n] = ir->row.env; /* the batch owns it now */
			b->env_lens[b->n] = ir->row.env_len;
			ir->row.env = NULL;
		} else {
			/* rows found invalid in pass 1 are skipped (reported there) */
			if (build(ir->cli, &ir->row, rec, why, sizeof(why), &w) != 0 ||
			    check_refs(ir, rec, why, sizeof(why)) != 0)
				continue;
			b->envs[b->n] = NULL;
			keep(b, rec);
		}
		b->lines[b->n++] = ir->row.line;
		rows++;
		if (b->n == BATCH_RECORDS || b->used + ROW_BYTES_MAX > BATCH_BYTES) {
			if ((rc = flush(ir, b, created, present)) != 0)
				return rc;
			progress(&ir->prog, rows, source_pos(&ir->src), 0);
		}
	}
	rc = flush(ir, b, created, present);
	progress(&ir->prog, rows, 0, 1);
	if (!rc && rows != expect)
		return tr_cli_error("%s changed while it was imported: %" PRIu64
		                    " rows were checked valid but %" PRIu64
		                    " were stored; see them with `trestle record list`",
		                    ir->src.path, expect, rows);
	return rc;
}

int cmd_import(tr_cli *cli, int argc, char **argv)
{
	const char *format = NULL, *kind = NULL, *delimiter = NULL;
	tr_strlist maps = {{0}, 0};
	int skip_invalid = 0, quiet = 0;
	uint64_t start_line = 0;
	const tr_opt opts[] = {
	    {"format", 'f', TR_OPT_STR, &format, "FMT", "csv or jsonl (default: by file name)"},
	    {"kind", 'k', TR_OPT_STR, &kind, "KIND", "kind of the records in the file"},
	    {"map", 'm', TR_OPT_LIST, &maps, "COLUMN=FIELD",
	     "take CSV column COLUMN as FIELD (empty FIELD drops the column)"},
	    {"delimiter", 'd', TR_OPT_STR, &delimiter, "C",
	     "CSV delimiter: , ; | or tab (default ,)"},
	    {"skip-invalid", 0, TR_OPT_FLAG, &skip_invalid, NULL,
	     "import the valid rows, report and skip the invalid ones"},
	    {"start-line", 0, TR_OPT_U64, &start_line, "LINE",
	     "skip the rows before LINE (to resume an import that stopped)"},
	    {"quiet", 'q', TR_OPT_FLAG, &quiet, NULL, "no progress display"},
	    {0}};
	const char *pos[1];
	size_t npos;
	int rc = tr_cli_begin(cli, &help, opts, argc, argv, pos, 1, &npos, 0);
	if (rc >= 0)
		return rc;
	if (npos != 1)
		return tr_opt_usage_error(&help, "which file?");

	static struct import_run ir; /* large: keep it off the stack */
	memset(&ir, 0, sizeof(ir));
	ir.cli = cli;
	ir.skip_invalid = skip_invalid;
	ir.start_line = start_line;
	ir.src.path = pos[0];
	ir.src.delim = ',';
	if (delimiter) {
		if (!strcmp(delimiter, "tab") || !strcmp(delimiter, "\\t"))
			ir.src.delim = '\t';
		else if (strlen(delimiter) == 1 && strchr(",;|\t", delimiter[0]))
			ir.src.delim = delimiter[0];
		else
			return tr_opt_usage_error(&help, "--delimiter must be , ; | or tab");
	}
	for (size_t i = 0; i < maps.n; i++)
		if (!strchr(maps.v[i], '=') || maps.v[i][0] == '=')
			return tr_opt_usage_error(&help, "--map needs COLUMN=FIELD, not \"%s\"",
			                          maps.v[i]);
	const char *dot = strrchr(ir.src.path, '.');
	if (format ? !strcmp(format, "csv") : (dot && !strcasecmp(dot, ".csv")))
		ir.src.fmt = FMT_CSV;
	else if (format ? !strcmp(format, "jsonl")
	                : (dot && (!strcasecmp(dot, ".jsonl") || !strcasecmp(dot, ".ndjson") ||
	                           !strcasecmp(dot, ".json"))))
		ir.src.fmt = FMT_JSONL;
	else
		return tr_opt_usage_error(&help, "%s: give --format csv or --format jsonl",
		                          format ? format : ir.src.path);
	if (kind && !(ir.src.kind = tr_kind_find(kind, strlen(kind))))
		return tr_opt_usage_error(&help, "unknown kind \"%s\" (see `trestle kinds`)", kind);
	ir.prog.on = cli->err_tty && !quiet;

	if ((rc = tr_cli_open(cli)) != 0)
		return rc;
	uint64_t valid, invalid, created = 0, present = 0;
	if ((rc = source_open(&ir.src, &maps)) != 0)
		goto done;
	struct stat st;
	if (!realpath(ir.src.path, ir.mark.file) || fstat(fileno(ir.src.f), &st) != 0) {
		rc = tr_cli_error("cannot read %s: %s", ir.src.path, strerror(errno));
		goto done;
	}
	ir.mark.size = (uint64_t)st.st_size;
	ir.mark.mtime_ns = (uint64_t)st.st_mtim.tv_sec * 1000000000u + (uint64_t)st.st_mtim.tv_nsec;
	static struct mark last;
	memset(&last, 0, sizeof(last));
	if (!start_line && tr_store_read(cli->store, mark_get_fn, &last) == 0 && !last.done &&
	    !strcmp(last.file, ir.mark.file) && last.size == ir.mark.size &&
	    last.mtime_ns == ir.mark.mtime_ns) {
		rc = tr_cli_error("an import of %s stopped after line %" PRIu64 " with %" PRIu64
		                  " records stored; to go on, run it with --start-line %" PRIu64
		                  " (or --start-line 1 to import the whole file again, duplicating "
		                  "those records)",
		                  ir.src.path, last.last_line, last.records, last.last_line + 1);
		goto done;
	}
	if ((rc = check_pass(&ir, &valid, &invalid)) != 0)
		goto done;
	if (invalid && !skip_invalid) {
		fprintf(stderr,
		        "trestle: %" PRIu64 " invalid row%s; nothing was imported. Fix %s, or pass "
		        "--skip-invalid to import the %" PRIu64 " valid rows.\n",
		        invalid, invalid == 1 ? "" : "s", invalid == 1 ? "it" : "them", valid);
		rc = TR_EXIT_INVALID;
		goto done;
	}
	source_close(&ir.src);
	if ((rc = source_open(&ir.src, &maps)) != 0)
		goto done;
	static struct batch b;
	memset(&b, 0, offsetof(struct batch, buf));
	b.cli = cli;
	b.buf = malloc(BATCH_BYTES);
	if (!b.buf) {
		rc = tr_cli_error("out of memory");
		goto done;
	}
	tr_mpw_init(&b.scratch);
	tr_mpw_init(&b.mark);
	rc = import_pass(&ir, &b, valid, &created, &present);
	batch_clear(&b);
	tr_mpw_release(&b.scratch);
	free(b.buf);
	char detail[4300];
	snprintf(detail, sizeof(detail),
	         "%s: %" PRIu64 " new, %" PRIu64 " present, %" PRIu64 " invalid skipped%s",
	         ir.src.path, created, present, skip_invalid ? invalid : 0, rc ? ", stopped" : "");
	/* done: the mark says so; stopped: the last batch's mark stays, saying where */
	ir.mark.done = 1;
	ir.mark.records = created;
	mark_encode(&b.mark, &ir.mark);
	struct finish_ctx fin = {detail, &b.mark};
	int arc =
	    rc ? tr_cli_audit(cli, "import", detail) : tr_store_write(cli->store, finish_fn, &fin);
	tr_mpw_release(&b.mark);
	if (created)
		tr_control_kick(cli->home);
	if (!rc) {
		printf("imported %" PRIu64 " record%s from %s", created, created == 1 ? "" : "s",
		       ir.src.path);
		if (present)
			printf(" (%" PRIu64 " already present)", present);
		if (invalid)
			printf("; skipped %" PRIu64 " invalid row%s (listed above)", invalid,
			       invalid == 1 ? "" : "s");
		printf("\n");
		if (arc)
			rc = tr_cli_error("the audit log could not be written: %s",
			                  tr_strerror(arc));
	}
done:
	source_close(&ir.src);
	free(ir.src.line);
	free(ir.src.header_store);
	free(ir.row.env);
	free(ir.moved);
	return rc;
}

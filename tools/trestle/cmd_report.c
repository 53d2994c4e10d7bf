/* cmd_report.c: `trestle report`: the node's view of the trade in one place: the ideas
 * grouped (tr_idea_groups, cmd_idea.c), the claims by product, problem and month with
 * the ones that repeat, and each test request with its answers and trial reports per
 * partner they came from. As JSON (--json), and as one self-contained HTML page (--html
 * FILE): inline CSS and SVG charts, no script, nothing fetched, so it opens from a file
 * in any browser with no server and no network.
 *
 * Everything here is read from records, and records are hostile input: a text from a
 * record reaches the page only through html_text(), which escapes it, and the page
 * declares a policy that runs no script at all, should anything slip through. The page
 * is written to a temporary file beside FILE and renamed over it when complete, so FILE
 * is either the old page or the whole new one; this command never writes the store. */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"
#include "error.h"
#include "../../proto/banned.h"

#define MONTHS_CHARTED 60 /* the claims chart shows at most the last five years */
#define TOP_CHARTED 10    /* bars in the ideas and products charts */
#define GROUPS_LISTED 200 /* rows of the ideas table in the page (--json has all) */
#define PROBLEMS_LISTED 25
#define REPEATS_LISTED 100
#define LATEST_LISTED 100 /* the latest claims, by date opened */
#define PROBLEM_KEY 120   /* bytes of a problem's first line that name it */

/* ---- text from records ---- */

/* Bytes in the valid UTF-8 sequence at s (of at most n bytes), or 0 if there is none. */
static size_t utf8_len(const unsigned char *s, size_t n)
{
	unsigned char c = s[0];
	size_t len;
	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf)
		len = 2;
	else if (c >= 0xe0 && c <= 0xef)
		len = 3;
	else if (c >= 0xf0 && c <= 0xf4)
		len = 4;
	else
		return 0;
	if (len > n)
		return 0;
	for (size_t i = 1; i < len; i++)
		if ((s[i] & 0xc0) != 0x80)
			return 0;
	if ((c == 0xe0 && s[1] < 0xa0) || (c == 0xed && s[1] > 0x9f) ||
	    (c == 0xf0 && s[1] < 0x90) || (c == 0xf4 && s[1] > 0x8f))
		return 0; /* overlong, surrogate, beyond U+10FFFF */
	return len;
}

/* Copies p[0..n) into out (size outn), as valid UTF-8 cut at a character boundary:
 * bytes that are not UTF-8 and control characters become '?', except that tabs and
 * line breaks are kept (or, with one_line, become spaces). Returns the bytes written. */
static size_t text_clean(const char *p, size_t n, char *out, size_t outn, int one_line)
{
	const unsigned char *s = (const unsigned char *)p;
	size_t o = 0;
	for (size_t i = 0; i < n && outn > 0;) {
		size_t len = utf8_len(s + i, n - i);
		if (o + (len ? len : 1) >= outn)
			break;
		if (len == 1 && (s[i] < 0x20 || s[i] == 0x7f)) {
			int space = s[i] == '\t' || s[i] == '\n' || s[i] == '\r';
			out[o++] = space ? (one_line ? ' ' : (char)s[i]) : '?';
		} else if (len == 0) {
			out[o++] = '?';
		} else {
			memcpy(out + o, s + i, len);
			o += len;
		}
		i += len ? len : 1;
	}
	if (outn > 0)
		out[o] = '\0';
	return o;
}

/* A text field of rec, cleaned (text_clean) into out: 1 if disclosed, -1 if withheld,
 * 0 if absent (out is "" unless disclosed). */
static int field_text(const tr_record *rec, const char *name, char *out, size_t n, int one_line)
{
	const tr_field *f = tr_record_field(rec, name);
	out[0] = '\0';
	if (!f)
		return 0;
	if (!f->disclosed)
		return -1;
	if (f->value.type != TR_VAL_STR)
		return 0;
	text_clean(f->value.s.p, f->value.s.n, out, n, one_line);
	return 1;
}

/* An integer field: 1 and *v if disclosed. */
static int field_int(const tr_record *rec, const char *name, int64_t *v)
{
	const tr_field *f = tr_record_field(rec, name);
	if (!f || !f->disclosed || f->value.type != TR_VAL_INT)
		return 0;
	*v = f->value.i;
	return 1;
}

/* "YYYY-MM-DD" as months since year 0 (year * 12 + month - 1), or -1. */
static int month_of(const char *date)
{
	for (int i = 0; i < 10; i++)
		if (i == 4 || i == 7 ? date[i] != '-' : (date[i] < '0' || date[i] > '9'))
			return -1;
	int y =
	    (date[0] - '0') * 1000 + (date[1] - '0') * 100 + (date[2] - '0') * 10 + (date[3] - '0');
	int m = (date[5] - '0') * 10 + (date[6] - '0');
	if (date[10] != '\0' || m < 1 || m > 12)
		return -1;
	return y * 12 + m - 1;
}

static void month_text(int month, char out[8])
{
	if (month < 0)
		snprintf(out, 8, "unknown");
	else
		snprintf(out, 8, "%04d-%02d", (month / 12) % 10000, month % 12 + 1);
}

/* ---- reading the store ---- */

struct claim {
	uint8_t id[TR_ID_BYTES];
	uint32_t source;
	int month;          /* month opened (month_of), -1 if not shown */
	int customer_shown; /* field_text's answer for "customer" */
	char product[65], serial[65], problem[PROBLEM_KEY + 1], opened[11], closed[11];
	char severity[16], state[33], customer[201];
};

struct partner_name {
	uint32_t index;
	char name[TR_PARTNER_NAME_MAX + 1];
};

struct gather {
	struct claim *c;
	size_t n, cap;
	struct partner_name *p;
	size_t np, pcap;
	json_t *tests; /* the test requests, built in the transaction */
	tr_txn *t;
};

static const char *source_name(const struct gather *g, uint32_t source)
{
	if (source == TR_SOURCE_LOCAL)
		return "this node";
	if (source == TR_SOURCE_IMPORT)
		return "imported";
	for (size_t i = 0; i < g->np; i++)
		if (g->p[i].index == source)
			return g->p[i].name;
	return "a removed partner";
}

static int partner_cb(void *ctx, const tr_partner *p)
{
	struct gather *g = ctx;
	if (g->np == g->pcap) {
		size_t cap = g->pcap ? g->pcap * 2 : 16;
		struct partner_name *np = realloc(g->p, cap * sizeof(*np));
		if (!np)
			return ENOMEM;
		g->p = np;
		g->pcap = cap;
	}
	g->p[g->np].index = p->index;
	text_clean(p->name, strlen(p->name), g->p[g->np].name, sizeof(g->p[g->np].name), 1);
	g->np++;
	return 0;
}

static int claim_cb(void *ctx, const tr_hit *h)
{
	struct gather *g = ctx;
	const tr_record *rec = h->rec;
	if (g->n == g->cap) {
		size_t cap = g->cap ? g->cap * 2 : 256;
		struct claim *nc = realloc(g->c, cap * sizeof(*nc));
		if (!nc)
			return ENOMEM;
		g->c = nc;
		g->cap = cap;
	}
	struct claim *c = &g->c[g->n++];
	memset(c, 0, sizeof(*c));
	memcpy(c->id, rec->id, TR_ID_BYTES);
	c->source = h->source;
	if (field_text(rec, "product", c->product, sizeof(c->product), 1) < 0)
		snprintf(c->product, sizeof(c->product), "(withheld)");
	/* a problem code names the problem where the claim has one; else its first line */
	if ((field_text(rec, "problem_code", c->problem, sizeof(c->problem), 1) <= 0 ||
	     !c->problem[0]) &&
	    field_text(rec, "problem", c->problem, sizeof(c->problem), 0) < 0)
		snprintf(c->problem, sizeof(c->problem), "(withheld)");
	c->problem[strcspn(c->problem, "\r\n")] = '\0';
	field_text(rec, "serial", c->serial, sizeof(c->serial), 1);
	field_text(rec, "severity", c->severity, sizeof(c->severity), 1);
	c->customer_shown = field_text(rec, "customer", c->customer, sizeof(c->customer), 1);
	field_text(rec, "opened", c->opened, sizeof(c->opened), 1);
	field_text(rec, "closed", c->closed, sizeof(c->closed), 1);
	c->month = month_of(c->opened);
	return 0;
}

/* ---- test requests: each with its answers and trial reports ---- */

struct per_partner {
	uint32_t source;
	size_t nominated, accepted, declined, reports;
};

struct request_ctx {
	struct gather *g;
	json_t *responses, *reports;
	uint8_t (*seen)[TR_ID_BYTES]; /* trial reports listed (one may refer to two) */
	size_t nseen, seencap;
	struct per_partner *pp;
	size_t npp, ppcap;
	char state[33];
};

static struct per_partner *partner_row(struct request_ctx *r, uint32_t source)
{
	for (size_t i = 0; i < r->npp; i++)
		if (r->pp[i].source == source)
			return &r->pp[i];
	if (r->npp == r->ppcap) {
		size_t cap = r->ppcap ? r->ppcap * 2 : 8;
		struct per_partner *n = realloc(r->pp, cap * sizeof(*n));
		if (!n)
			return NULL;
		r->pp = n;
		r->ppcap = cap;
	}
	struct per_partner *p = &r->pp[r->npp++];
	memset(p, 0, sizeof(*p));
	p->source = source;
	return p;
}

/* Who wrote a record, as a person can compare it: the author's fingerprint, the only
 * name a producer has for a user firm. */
static json_t *author_json(const tr_record *rec)
{
	char fpr[TR_FPR_TEXT_SIZE];
	tr_fingerprint_format(rec->author, fpr);
	return json_string(fpr);
}

static json_t *when_json(uint64_t ms)
{
	char when[40];
	tr_time_iso(ms, when, sizeof(when));
	return json_string(when);
}

static int report_cb(void *ctx, const tr_hit *h)
{
	struct request_ctx *r = ctx;
	const tr_record *rec = h->rec;
	for (size_t i = 0; i < r->nseen; i++)
		if (!memcmp(r->seen[i], rec->id, TR_ID_BYTES))
			return 0;
	if (r->nseen == r->seencap) {
		size_t cap = r->seencap ? r->seencap * 2 : 8;
		uint8_t(*n)[TR_ID_BYTES] = realloc(r->seen, cap * sizeof(*n));
		if (!n)
			return ENOMEM;
		r->seen = n;
		r->seencap = cap;
	}
	memcpy(r->seen[r->nseen++], rec->id, TR_ID_BYTES);
	struct per_partner *p = partner_row(r, h->source);
	if (!p)
		return ENOMEM;
	p->reports++;
	char hex[TR_ID_HEX_SIZE], text[8001], outcome[16];
	int64_t rating;
	tr_id_hex(rec->id, hex);
	json_t *o = json_object();
	json_object_set_new(o, "id", json_string(hex));
	json_object_set_new(o, "from", json_string(source_name(r->g, h->source)));
	json_object_set_new(o, "firm", author_json(rec));
	json_object_set_new(o, "created", when_json(rec->created_ms));
	if (field_int(rec, "rating", &rating))
		json_object_set_new(o, "rating", json_integer(rating));
	if (field_text(rec, "outcome", outcome, sizeof(outcome), 1) == 1)
		json_object_set_new(o, "outcome", json_string(outcome));
	if (field_text(rec, "text", text, sizeof(text), 0) == 1)
		json_object_set_new(o, "text", json_string(text));
	json_array_append_new(r->reports, o);
	return 0;
}

static int response_cb(void *ctx, const tr_hit *h)
{
	struct request_ctx *r = ctx;
	const tr_record *rec = h->rec;
	char hex[TR_ID_HEX_SIZE], answer[16], text[8001], contact[201];
	tr_id_hex(rec->id, hex);
	field_text(rec, "answer", answer, sizeof(answer), 1);
	struct per_partner *p = partner_row(r, h->source);
	if (!p)
		return ENOMEM;
	if (!strcmp(answer, "accept"))
		p->accepted++;
	else if (!strcmp(answer, "decline"))
		p->declined++;
	else if (!strcmp(answer, "nominate"))
		p->nominated++;
	json_t *o = json_object();
	json_object_set_new(o, "id", json_string(hex));
	json_object_set_new(o, "answer", json_string(answer[0] ? answer : "(withheld)"));
	json_object_set_new(o, "from", json_string(source_name(r->g, h->source)));
	/* a nomination puts forward another firm: its node key is the firm shown */
	char nominee[80];
	if (!strcmp(answer, "nominate") &&
	    field_text(rec, "nominee", nominee, sizeof(nominee), 1) == 1) {
		uint8_t pk[TR_PK_BYTES];
		char fpr[TR_FPR_TEXT_SIZE];
		if (tr_nodeid_parse(nominee, pk) == 0) {
			tr_fingerprint_format(pk, fpr);
			json_object_set_new(o, "firm", json_string(fpr));
		} else
			json_object_set_new(o, "firm", json_string(nominee));
		json_object_set_new(o, "nominee", json_string(nominee));
	} else
		json_object_set_new(o, "firm", author_json(rec));
	json_object_set_new(o, "created", when_json(rec->created_ms));
	if (field_text(rec, "text", text, sizeof(text), 0) == 1)
		json_object_set_new(o, "text", json_string(text));
	/* a contact at the user firm only if it was shown to this node */
	if (field_text(rec, "contact", contact, sizeof(contact), 1) == 1)
		json_object_set_new(o, "contact", json_string(contact));
	json_array_append_new(r->responses, o);
	/* trial reports that refer to this answer rather than to the request; the scan
	 * decodes into the record rec points to, so the id it looks for is copied first */
	uint8_t id[TR_ID_BYTES];
	tr_query q;
	memcpy(id, rec->id, TR_ID_BYTES);
	memset(&q, 0, sizeof(q));
	q.kind = "trial_report";
	q.ref = id;
	return tr_txn_scan(r->g->t, &q, report_cb, r);
}

static int request_cb(void *ctx, const tr_hit *h)
{
	struct gather *g = ctx;
	const tr_record *rec = h->rec;
	/* a nested scan decodes into the record rec points to: what is needed of it is
	 * copied before the scans */
	uint8_t id[TR_ID_BYTES];
	char hex[TR_ID_HEX_SIZE], buf[8001];
	int64_t slots;
	int rc;
	memcpy(id, rec->id, TR_ID_BYTES);
	tr_id_hex(id, hex);
	json_t *o = json_object();
	json_object_set_new(o, "id", json_string(hex));
	json_object_set_new(o, "from", json_string(source_name(g, h->source)));
	json_object_set_new(o, "author", author_json(rec));
	json_object_set_new(o, "created", when_json(rec->created_ms));
	static const char *const texts[] = {"title", "product", "start", "end", "text"};
	for (size_t i = 0; i < sizeof(texts) / sizeof(texts[0]); i++)
		if (field_text(rec, texts[i], buf, sizeof(buf), strcmp(texts[i], "text")) == 1)
			json_object_set_new(o, texts[i], json_string(buf));
	if (field_int(rec, "slots", &slots))
		json_object_set_new(o, "slots", json_integer(slots));

	struct request_ctx r;
	memset(&r, 0, sizeof(r));
	r.g = g;
	r.responses = json_array();
	r.reports = json_array();
	snprintf(r.state, sizeof(r.state), "open");
	tr_query q;
	memset(&q, 0, sizeof(q));
	q.ref = id;
	q.kind = "test_response";
	rc = tr_txn_scan(g->t, &q, response_cb, &r);
	q.kind = "trial_report";
	if (!rc)
		rc = tr_txn_scan(g->t, &q, report_cb, &r);
	/* its state by the lifecycle's reading (a status of another kind's states, or
	 * none, leaves it where it was) */
	if (!rc)
		rc = tr_txn_state(g->t, id, "test_request", r.state, sizeof(r.state));
	json_t *pp = json_array();
	size_t accepted = 0, declined = 0, nominated = 0;
	for (size_t i = 0; !rc && i < r.npp; i++) {
		accepted += r.pp[i].accepted;
		declined += r.pp[i].declined;
		nominated += r.pp[i].nominated;
		json_array_append_new(pp, json_pack("{s:s, s:I, s:I, s:I, s:I}", "partner",
		                                    source_name(g, r.pp[i].source), "nominated",
		                                    (json_int_t)r.pp[i].nominated, "accepted",
		                                    (json_int_t)r.pp[i].accepted, "declined",
		                                    (json_int_t)r.pp[i].declined, "reports",
		                                    (json_int_t)r.pp[i].reports));
	}
	json_object_set_new(o, "nominated", json_integer((json_int_t)nominated));
	json_object_set_new(o, "state", json_string(r.state));
	json_object_set_new(o, "accepted", json_integer((json_int_t)accepted));
	json_object_set_new(o, "declined", json_integer((json_int_t)declined));
	json_object_set_new(o, "partners", pp);
	json_object_set_new(o, "responses", r.responses);
	json_object_set_new(o, "reports", r.reports);
	json_array_append_new(g->tests, o);
	free(r.seen);
	free(r.pp);
	return rc;
}

static int gather_fn(tr_txn *t, void *ctx)
{
	struct gather *g = ctx;
	tr_query q;
	int rc;
	g->t = t;
	if ((rc = tr_txn_partner_scan(t, partner_cb, g)) != 0)
		return rc;
	memset(&q, 0, sizeof(q));
	q.kind = "claim";
	if ((rc = tr_txn_scan(t, &q, claim_cb, g)) != 0)
		return rc;
	/* each claim's state by its lifecycle (a status of another kind's states, with two
	 * refs, or from a skewed clock does not make it) */
	for (size_t i = 0; i < g->n; i++)
		if ((rc = tr_txn_state(t, g->c[i].id, "claim", g->c[i].state,
		                       sizeof(g->c[i].state))) != 0)
			return rc;
	q.kind = "test_request";
	return tr_txn_scan(t, &q, request_cb, g);
}

/* ---- claims: counted ---- */

/* Closed: its state says so, or it has a closed date and is not being worked on
 * (under review again, information requested: a reopened claim is under review). */
static int claim_closed(const struct claim *c)
{
	return !strcmp(c->state, "closed") || (c->closed[0] && strcmp(c->state, "under_review") &&
	                                       strcmp(c->state, "information_requested"));
}

static int cmp_product_month(const void *a, const void *b)
{
	const struct claim *x = *(const struct claim *const *)a,
	                   *y = *(const struct claim *const *)b;
	int d = strcmp(x->product, y->product);
	return d ? d : (x->month > y->month) - (x->month < y->month);
}

static int cmp_product_problem(const void *a, const void *b)
{
	const struct claim *x = *(const struct claim *const *)a,
	                   *y = *(const struct claim *const *)b;
	int d = strcmp(x->product, y->product);
	return d ? d : strcmp(x->problem, y->problem);
}

static int cmp_product_serial(const void *a, const void *b)
{
	const struct claim *x = *(const struct claim *const *)a,
	                   *y = *(const struct claim *const *)b;
	int d = strcmp(x->product, y->product);
	if (!d)
		d = strcmp(x->serial, y->serial);
	return d ? d : strcmp(x->opened, y->opened);
}

static int cmp_month(const void *a, const void *b)
{
	const struct claim *x = *(const struct claim *const *)a,
	                   *y = *(const struct claim *const *)b;
	return (x->month > y->month) - (x->month < y->month);
}

static int cmp_latest(const void *a, const void *b)
{
	const struct claim *x = *(const struct claim *const *)a,
	                   *y = *(const struct claim *const *)b;
	return -strcmp(x->opened, y->opened);
}

/* Largest "total" first; ties in the order they came (by name). */
static int cmp_total(const void *a, const void *b)
{
	json_int_t x = json_integer_value(json_object_get(*(json_t *const *)a, "total")),
	           y = json_integer_value(json_object_get(*(json_t *const *)b, "total"));
	if (x != y)
		return x > y ? -1 : 1;
	return strcmp(json_string_value(json_object_get(*(json_t *const *)a, "key")),
	              json_string_value(json_object_get(*(json_t *const *)b, "key")));
}

/* Sorts an array of objects by their "total" (largest first), drops their sort "key",
 * and keeps at most max of them (0: all). Returns a new array; arr is decref'd. */
static json_t *by_total(json_t *arr, size_t max)
{
	size_t n = json_array_size(arr);
	json_t **v = malloc((n ? n : 1) * sizeof(*v)), *out = json_array();
	for (size_t i = 0; v && i < n; i++)
		v[i] = json_array_get(arr, i);
	if (v)
		qsort(v, n, sizeof(*v), cmp_total);
	for (size_t i = 0; v && i < n && (!max || i < max); i++) {
		json_object_del(v[i], "key");
		json_array_append(out, v[i]);
	}
	free(v);
	json_decref(arr);
	return out;
}

static json_t *claim_json(const struct claim *c, const struct gather *g)
{
	char hex[TR_ID_HEX_SIZE];
	tr_id_hex(c->id, hex);
	json_t *o =
	    json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:b}", "id", hex, "product", c->product,
	              "serial", c->serial, "problem", c->problem, "opened", c->opened, "from",
	              source_name(g, c->source), "open", !claim_closed(c));
	if (!o)
		return json_object();
	if (c->closed[0])
		json_object_set_new(o, "closed", json_string(c->closed));
	if (c->state[0])
		json_object_set_new(o, "state", json_string(c->state));
	if (c->severity[0])
		json_object_set_new(o, "severity", json_string(c->severity));
	/* the customer's identity only if the claim disclosed it to this node */
	if (c->customer_shown == 1)
		json_object_set_new(o, "customer", json_string(c->customer));
	else if (c->customer_shown < 0)
		json_object_set_new(o, "customer_withheld", json_true());
	return o;
}

/* The claims section of the report. */
static json_t *claims_json(const struct gather *g)
{
	size_t n = g->n, open = 0;
	struct claim **v = malloc((n ? n : 1) * sizeof(*v));
	json_t *o = json_object();
	if (!v || !o) {
		free(v);
		json_decref(o);
		return NULL;
	}
	for (size_t i = 0; i < n; i++) {
		v[i] = &g->c[i];
		open += !claim_closed(v[i]);
	}
	json_object_set_new(o, "total", json_integer((json_int_t)n));
	json_object_set_new(o, "open", json_integer((json_int_t)open));
	json_object_set_new(o, "closed", json_integer((json_int_t)(n - open)));

	/* per month opened: how many, and how many of them are still open */
	json_t *months = json_array();
	qsort(v, n, sizeof(*v), cmp_month);
	for (size_t a = 0, b; a < n; a = b) {
		size_t op = 0;
		char m[8];
		for (b = a; b < n && v[b]->month == v[a]->month; b++)
			op += !claim_closed(v[b]);
		month_text(v[a]->month, m);
		json_array_append_new(months, json_pack("{s:s, s:I, s:I, s:I}", "month", m, "total",
		                                        (json_int_t)(b - a), "open", (json_int_t)op,
		                                        "closed", (json_int_t)(b - a - op)));
	}
	json_object_set_new(o, "by_month", months);

	/* per product, with its months */
	json_t *products = json_array();
	qsort(v, n, sizeof(*v), cmp_product_month);
	for (size_t a = 0, b; a < n; a = b) {
		size_t op = 0;
		json_t *pm = json_object();
		for (b = a; b < n && !strcmp(v[b]->product, v[a]->product); b++) {
			char m[8];
			op += !claim_closed(v[b]);
			month_text(v[b]->month, m);
			json_object_set_new(
			    pm, m, json_integer(json_integer_value(json_object_get(pm, m)) + 1));
		}
		json_array_append_new(products,
		                      json_pack("{s:s, s:s, s:I, s:I, s:I, s:o}", "key",
		                                v[a]->product, "product", v[a]->product, "total",
		                                (json_int_t)(b - a), "open", (json_int_t)op,
		                                "closed", (json_int_t)(b - a - op), "months", pm));
	}
	json_object_set_new(o, "by_product", by_total(products, 0));

	/* per product and problem */
	json_t *problems = json_array();
	qsort(v, n, sizeof(*v), cmp_product_problem);
	for (size_t a = 0, b; a < n; a = b) {
		size_t op = 0;
		char key[200];
		for (b = a; b < n && !cmp_product_problem(&v[a], &v[b]); b++)
			op += !claim_closed(v[b]);
		snprintf(key, sizeof(key), "%s\n%s", v[a]->product, v[a]->problem);
		json_array_append_new(
		    problems,
		    json_pack("{s:s, s:s, s:s, s:I, s:I, s:I}", "key", key, "product",
		              v[a]->product, "problem", v[a]->problem, "total", (json_int_t)(b - a),
		              "open", (json_int_t)op, "closed", (json_int_t)(b - a - op)));
	}
	json_object_set_new(o, "by_problem", by_total(problems, 0));

	/* the ones that repeat: the same machine (product and serial) claimed again */
	json_t *repeats = json_array();
	qsort(v, n, sizeof(*v), cmp_product_serial);
	for (size_t a = 0, b; a < n; a = b) {
		for (b = a + 1; b < n && !strcmp(v[b]->product, v[a]->product) &&
		                !strcmp(v[b]->serial, v[a]->serial);
		     b++)
			;
		if (b - a < 2 || !v[a]->serial[0])
			continue;
		char key[140];
		json_t *list = json_array();
		for (size_t i = a; i < b; i++)
			json_array_append_new(list, claim_json(v[i], g));
		snprintf(key, sizeof(key), "%s\n%s", v[a]->product, v[a]->serial);
		json_array_append_new(repeats,
		                      json_pack("{s:s, s:s, s:s, s:I, s:o}", "key", key, "product",
		                                v[a]->product, "serial", v[a]->serial, "total",
		                                (json_int_t)(b - a), "claims", list));
	}
	json_object_set_new(o, "repeats", by_total(repeats, 0));

	json_t *latest = json_array();
	qsort(v, n, sizeof(*v), cmp_latest);
	for (size_t i = 0; i < n && i < LATEST_LISTED; i++)
		json_array_append_new(latest, claim_json(v[i], g));
	json_object_set_new(o, "latest", latest);
	free(v);
	return o;
}

/* ---- the report as JSON ---- */

int tr_report_build(tr_cli *cli, const char *title, json_t **out)
{
	struct gather g;
	json_t *groups = NULL, *claims = NULL;
	char nodeid[TR_NODEID_TEXT_SIZE], fpr[TR_FPR_TEXT_SIZE], name[200], role[32];
	int rc;
	*out = NULL;
	memset(&g, 0, sizeof(g));
	if ((rc = tr_idea_groups(cli, NULL, NULL, 1, &groups)) != 0)
		return rc;
	g.tests = json_array();
	rc = tr_store_read(cli->store, gather_fn, &g);
	if (!rc && !(claims = claims_json(&g)))
		rc = ENOMEM;
	if (!rc) {
		json_t *node = json_object(), *r = json_object();
		size_t ideas = 0;
		for (size_t i = 0; i < json_array_size(groups); i++)
			ideas += (size_t)json_integer_value(
			    json_object_get(json_array_get(groups, i), "ideas"));
		tr_nodeid_format(tr_key_public(cli->key), nodeid);
		tr_fingerprint_format(tr_key_public(cli->key), fpr);
		text_clean(cli->config.name, strlen(cli->config.name), name, sizeof(name), 1);
		text_clean(cli->config.role, strlen(cli->config.role), role, sizeof(role), 1);
		json_object_set_new(node, "name", json_string(name));
		json_object_set_new(node, "role", json_string(role));
		json_object_set_new(node, "id", json_string(nodeid));
		json_object_set_new(node, "fingerprint", json_string(fpr));
		if (title) {
			char t[400];
			text_clean(title, strlen(title), t, sizeof(t), 1);
			json_object_set_new(r, "title", json_string(t));
		} else {
			char t[300];
			snprintf(t, sizeof(t), "trestle report: %s", name);
			json_object_set_new(r, "title", json_string(t));
		}
		json_object_set_new(r, "generated", when_json(tr_now_ms()));
		json_object_set_new(r, "node", node);
		json_object_set_new(r, "ideas", json_integer((json_int_t)ideas));
		json_object_set_new(r, "idea_groups", groups);
		json_object_set_new(r, "claims", claims);
		json_object_set_new(r, "test_requests", g.tests);
		groups = claims = g.tests = NULL;
		*out = r;
	}
	json_decref(groups);
	json_decref(claims);
	json_decref(g.tests);
	free(g.c);
	free(g.p);
	return rc;
}

/* ---- the report as HTML ---- */

/* Writes s with &, <, >, " and ' escaped, so that it is text in element content and in
 * quoted attributes alike; at most max bytes of it (0: all), cut at a character with
 * an ellipsis. s is valid UTF-8 (text_clean made it so). */
static void html_text(FILE *o, const char *s, size_t max)
{
	size_t n = strlen(s), cut = n;
	if (max && n > max) {
		cut = max;
		while (cut > 0 && ((unsigned char)s[cut] & 0xc0) == 0x80)
			cut--;
	}
	for (size_t i = 0; i < cut; i++) {
		switch (s[i]) {
		case '&':
			fputs("&amp;", o);
			break;
		case '<':
			fputs("&lt;", o);
			break;
		case '>':
			fputs("&gt;", o);
			break;
		case '"':
			fputs("&quot;", o);
			break;
		case '\'':
			fputs("&#39;", o);
			break;
		default:
			fputc(s[i], o);
		}
	}
	if (cut < n)
		fputs("\xe2\x80\xa6", o); /* U+2026 */
}

static const char *jstr(json_t *o, const char *k)
{
	const char *s = json_string_value(json_object_get(o, k));
	return s ? s : "";
}

static long long jint(json_t *o, const char *k)
{
	return (long long)json_integer_value(json_object_get(o, k));
}

/* A table cell with a record's text, or a dash when empty. */
static void td_text(FILE *o, const char *s, size_t max)
{
	if (!*s) {
		fputs("<td class=\"none\">&#8212;</td>", o);
		return;
	}
	fputs("<td>", o);
	html_text(o, s, max);
	fputs("</td>", o);
}

static void td_num(FILE *o, long long v)
{
	fprintf(o, "<td class=\"n\">%lld</td>", v);
}

static const char page_style[] =
    "body{font:15px/1.45 system-ui,-apple-system,\"Segoe "
    "UI\",Roboto,\"Helvetica Neue\",Arial,sans-serif;color:#1d2430;background:#f6f7f9;"
    "margin:0}\n"
    "header{background:#1f3a5f;color:#fff;padding:18px 28px}\n"
    "header h1{margin:0 0 6px;font-size:22px}\n"
    "header p{margin:0;opacity:.9}\n"
    "main{padding:8px 28px 40px;max-width:1200px}\n"
    "section{background:#fff;border:1px solid #dde2e8;border-radius:6px;padding:4px 20px "
    "16px;margin:18px 0}\n"
    "h2{font-size:19px;border-bottom:1px solid #dde2e8;padding-bottom:6px}\n"
    "h3{font-size:16px;margin:18px 0 6px}\n"
    "table{border-collapse:collapse;margin:8px 0 14px;font-size:14px}\n"
    "th,td{border-bottom:1px solid #e5e8ec;padding:4px 10px;text-align:left;vertical-align:"
    "top}\n"
    "th{background:#eef1f5;font-weight:600;white-space:nowrap}\n"
    "table.products td:first-child{white-space:nowrap}\n"
    ".scroll{overflow-x:auto}\n"
    "td.n,th.n{text-align:right;font-variant-numeric:tabular-nums}\n"
    "td.none{color:#98a1ad}\n"
    ".muted{color:#5d6775}\n"
    ".cards{display:flex;flex-wrap:wrap;gap:12px;margin:14px 0}\n"
    ".card{background:#fff;border:1px solid #dde2e8;border-radius:6px;padding:10px "
    "16px;min-width:130px}\n"
    ".card b{display:block;font-size:24px}\n"
    ".text{white-space:pre-wrap;max-width:60em}\n"
    ".open{color:#b45309;font-weight:600}\n"
    ".tag{display:inline-block;border-radius:3px;padding:0 6px;background:#eef1f5}\n"
    "svg{display:block;margin:8px 0;max-width:100%;height:auto}\n"
    "svg text{font-size:12px;fill:#1d2430}\n"
    "@media print{body{background:#fff}section{border:none}}\n";

/* ---- charts: inline SVG ---- */

#define C_CLOSED "#6b8fb8"
#define C_OPEN "#e08a2c"
#define C_BAR "#2f6db5"

/* A "nice" axis maximum at or above v: 1, 2 or 5 times a power of ten. */
static long long axis_max(long long v)
{
	long long p = 1;
	if (v < 1)
		return 1;
	for (;;) {
		if (v <= p)
			return p;
		if (v <= 2 * p)
			return 2 * p;
		if (v <= 5 * p)
			return 5 * p;
		p *= 10;
	}
}

/* Horizontal bars: label, and one or two stacked values (b < 0: one). */
struct hbar {
	const char *label;
	long long a, b;
};

static void chart_hbars(FILE *o, const char *what, const struct hbar *bars, size_t n,
                        const char *ca, const char *cb, const char *la, const char *lb)
{
	const int left = 250, width = 720, row = 24, top = 26;
	const int plot = width - left - 50;
	long long max = 0;
	for (size_t i = 0; i < n; i++)
		if (bars[i].a + (bars[i].b > 0 ? bars[i].b : 0) > max)
			max = bars[i].a + (bars[i].b > 0 ? bars[i].b : 0);
	max = axis_max(max);
	int height = top + (int)n * row + 10;
	fprintf(o,
	        "<svg xmlns=\"http://www.w3.org/2000/svg\" role=\"img\" width=\"%d\" "
	        "height=\"%d\" viewBox=\"0 0 %d %d\" aria-label=\"",
	        width, height, width, height);
	html_text(o, what, 0);
	fputs("\">\n", o);
	/* legend */
	fprintf(o, "<rect x=\"%d\" y=\"6\" width=\"12\" height=\"12\" fill=\"%s\"/>", left, ca);
	fprintf(o, "<text x=\"%d\" y=\"16\">%s</text>", left + 16, la);
	if (lb) {
		fprintf(o, "<rect x=\"%d\" y=\"6\" width=\"12\" height=\"12\" fill=\"%s\"/>",
		        left + 110, cb);
		fprintf(o, "<text x=\"%d\" y=\"16\">%s</text>", left + 126, lb);
	}
	fputc('\n', o);
	for (size_t i = 0; i < n; i++) {
		int y = top + (int)i * row;
		long long b = bars[i].b > 0 ? bars[i].b : 0;
		int wa = (int)((double)bars[i].a * plot / (double)max);
		int wb = (int)((double)b * plot / (double)max);
		fprintf(o, "<g><title>");
		html_text(o, bars[i].label, 300);
		fprintf(o, ": %lld", bars[i].a + b);
		fprintf(o, "</title><text x=\"%d\" y=\"%d\" text-anchor=\"end\">", left - 8,
		        y + 15);
		html_text(o, bars[i].label, 34);
		fprintf(o,
		        "</text><rect x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\" fill=\"%s\"/>",
		        left, y + 3, wa, row - 7, ca);
		if (b)
			fprintf(o,
			        "<rect x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\" fill=\"%s\"/>",
			        left + wa, y + 3, wb, row - 7, cb);
		fprintf(o, "<text x=\"%d\" y=\"%d\">%lld</text></g>\n", left + wa + wb + 6, y + 15,
		        bars[i].a + b);
	}
	fputs("</svg>\n", o);
}

/* "YYYY-MM" as month_of counts it, or -1 ("unknown"). */
static int month_start(const char *month)
{
	char date[11];
	if (strlen(month) != 7)
		return -1;
	snprintf(date, sizeof(date), "%s-01", month);
	return month_of(date);
}

/* Claims per month opened, over the months from the first to the last (at most
 * MONTHS_CHARTED, the latest): stacked bars, closed below and open above, with a line
 * through the totals for the trend. */
static void chart_months(FILE *o, json_t *by_month)
{
	int first = -1, last = -1;
	size_t nm = json_array_size(by_month);
	for (size_t i = 0; i < nm; i++) {
		int m = month_start(jstr(json_array_get(by_month, i), "month"));
		if (m < 0)
			continue;
		if (first < 0 || m < first)
			first = m;
		if (m > last)
			last = m;
	}
	if (first < 0) {
		fputs("<p class=\"muted\">No claim shows the date it was opened.</p>\n", o);
		return;
	}
	if (last - first + 1 > MONTHS_CHARTED) {
		first = last - MONTHS_CHARTED + 1;
		fprintf(o,
		        "<p class=\"muted\">The last %d months; the claims opened before are in "
		        "the counts, and per month in <code>trestle report --json</code>.</p>\n",
		        MONTHS_CHARTED);
	}
	int span = last - first + 1;
	long long *open = calloc((size_t)span, sizeof(*open)),
	          *closed = calloc((size_t)span, sizeof(*closed)), max = 0;
	if (!open || !closed) {
		free(open);
		free(closed);
		return;
	}
	for (size_t i = 0; i < nm; i++) {
		json_t *r = json_array_get(by_month, i);
		int m = month_start(jstr(r, "month"));
		if (m < first || m > last)
			continue;
		open[m - first] = jint(r, "open");
		closed[m - first] = jint(r, "closed");
	}
	for (int i = 0; i < span; i++)
		if (open[i] + closed[i] > max)
			max = open[i] + closed[i];
	max = axis_max(max);
	const int left = 44, top = 30, plot_h = 200, bottom = 56;
	int step = span <= 12 ? 40 : span <= 24 ? 26 : 14;
	int width = left + span * step + 20, height = top + plot_h + bottom;
	if (width < 360)
		width = 360;
	int every = span <= 12 ? 1 : span <= 24 ? 2 : span <= 36 ? 3 : 6;
	fprintf(o,
	        "<svg xmlns=\"http://www.w3.org/2000/svg\" role=\"img\" width=\"%d\" "
	        "height=\"%d\" viewBox=\"0 0 %d %d\" aria-label=\"claims per month "
	        "opened\">\n",
	        width, height, width, height);
	fprintf(o, "<rect x=\"%d\" y=\"8\" width=\"12\" height=\"12\" fill=\"" C_CLOSED "\"/>",
	        left);
	fprintf(o, "<text x=\"%d\" y=\"18\">closed</text>", left + 16);
	fprintf(o, "<rect x=\"%d\" y=\"8\" width=\"12\" height=\"12\" fill=\"" C_OPEN "\"/>",
	        left + 80);
	fprintf(o, "<text x=\"%d\" y=\"18\">open</text>\n", left + 96);
	/* whole numbers at every tick: 1 to 5 steps of 1, else 4 or 5 steps of max's
	 * "nice" form (axis_max: 1, 2 or 5 times a power of ten) */
	long long lead = max;
	while (lead >= 10)
		lead /= 10;
	int ticks = max <= 5 ? (int)max : lead == 2 ? 4 : 5;
	for (int k = 0; k <= ticks; k++) {
		int y = top + plot_h - k * plot_h / ticks;
		fprintf(o,
		        "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" stroke=\"#e5e8ec\"/>"
		        "<text x=\"%d\" y=\"%d\" text-anchor=\"end\">%lld</text>\n",
		        left, y, width - 10, y, left - 6, y + 4, max * k / ticks);
	}
	fputs("<polyline fill=\"none\" stroke=\"#1d2430\" stroke-width=\"1.5\" points=\"", o);
	for (int i = 0; i < span; i++)
		fprintf(o, "%s%d,%d", i ? " " : "", left + i * step + step / 2,
		        top + plot_h - (int)((double)(open[i] + closed[i]) * plot_h / (double)max));
	fputs("\"/>\n", o);
	for (int i = 0; i < span; i++) {
		char m[8];
		int x = left + i * step + 2, w = step - 4;
		int hc = (int)((double)closed[i] * plot_h / (double)max);
		int ho = (int)((double)open[i] * plot_h / (double)max);
		month_text(first + i, m);
		fprintf(o, "<g><title>%s: %lld opened, %lld still open</title>", m,
		        open[i] + closed[i], open[i]);
		fprintf(
		    o, "<rect x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\" fill=\"" C_CLOSED "\"/>",
		    x, top + plot_h - hc, w, hc);
		fprintf(o,
		        "<rect x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\" fill=\"" C_OPEN "\"/>",
		        x, top + plot_h - hc - ho, w, ho);
		if (i % every == 0 || i == span - 1)
			fprintf(o,
			        "<text x=\"%d\" y=\"%d\" text-anchor=\"end\" "
			        "transform=\"rotate(-45 %d %d)\">%s</text>",
			        x + w / 2 + 4, top + plot_h + 14, x + w / 2 + 4, top + plot_h + 14,
			        m);
		fputs("</g>\n", o);
	}
	fputs("</svg>\n", o);
	free(open);
	free(closed);
}

/* ---- the page ---- */

static void html_ideas(FILE *o, json_t *r)
{
	json_t *groups = json_object_get(r, "idea_groups");
	size_t n = json_array_size(groups);
	fputs("<section id=\"ideas\">\n<h2>Ideas, grouped</h2>\n", o);
	if (!n) {
		fputs("<p class=\"muted\">No ideas here yet.</p>\n</section>\n", o);
		return;
	}
	fprintf(o,
	        "<p>%lld idea%s in %zu group%s: near-duplicates raised by several user firms "
	        "in their own words are one group. User firms are counted by their node key; "
	        "distributors by the partner the ideas came from.</p>\n",
	        jint(r, "ideas"), jint(r, "ideas") == 1 ? "" : "s", n, n == 1 ? "" : "s");
	struct hbar bars[TOP_CHARTED];
	size_t nb = 0;
	for (size_t i = 0; i < n && nb < TOP_CHARTED; i++) {
		json_t *g = json_array_get(groups, i);
		bars[nb].label = jstr(g, "title");
		bars[nb].a = jint(g, "firms");
		bars[nb].b = -1;
		nb++;
	}
	fputs("<h3>Top groups by user firms</h3>\n", o);
	chart_hbars(o, "top idea groups by user firms", bars, nb, C_BAR, NULL, "user firms", NULL);
	fputs("<table class=\"groups\">\n<tr><th>Group</th><th class=\"n\">Ideas</th>"
	      "<th class=\"n\">Firms</th><th class=\"n\">Distributors</th><th>Product</th>"
	      "<th>Category</th><th>Status</th><th class=\"n\">Assessments</th></tr>\n",
	      o);
	for (size_t i = 0; i < n && i < GROUPS_LISTED; i++) {
		json_t *g = json_array_get(groups, i);
		fputs("<tr class=\"group\">", o);
		td_text(o, jstr(g, "title"), 120);
		td_num(o, jint(g, "ideas"));
		td_num(o, jint(g, "firms"));
		td_num(o, jint(g, "distributors"));
		td_text(o, jstr(g, "product"), 64);
		td_text(o, jstr(g, "category"), 64);
		td_text(o, jstr(g, "status"), 32);
		td_num(o, jint(g, "assessments"));
		fputs("</tr>\n", o);
	}
	fputs("</table>\n", o);
	if (n > GROUPS_LISTED)
		fprintf(o,
		        "<p class=\"muted\">and %zu more groups (all of them: <code>trestle idea "
		        "groups</code>).</p>\n",
		        n - GROUPS_LISTED);
	fputs("</section>\n", o);
}

static void td_customer(FILE *o, json_t *c)
{
	if (json_is_true(json_object_get(c, "customer_withheld")))
		fputs("<td class=\"none\">withheld</td>", o);
	else
		td_text(o, jstr(c, "customer"), 80);
}

static void td_state(FILE *o, json_t *c)
{
	const char *state = jstr(c, "state");
	if (json_is_true(json_object_get(c, "open"))) {
		fputs("<td class=\"open\">", o);
		html_text(o, *state ? state : "open", 32);
	} else {
		fputs("<td>", o);
		html_text(o, *state ? state : "closed", 32);
	}
	fputs("</td>", o);
}

static void claims_table(FILE *o, json_t *list)
{
	fputs("<table class=\"claims\">\n<tr><th>Opened</th><th>Product</th><th>Serial</th>"
	      "<th>Problem</th><th>Severity</th><th>State</th><th>Closed</th><th>Customer</th>"
	      "<th>From</th></tr>\n",
	      o);
	for (size_t i = 0; i < json_array_size(list); i++) {
		json_t *c = json_array_get(list, i);
		fputs("<tr>", o);
		td_text(o, jstr(c, "opened"), 10);
		td_text(o, jstr(c, "product"), 64);
		td_text(o, jstr(c, "serial"), 64);
		td_text(o, jstr(c, "problem"), 100);
		td_text(o, jstr(c, "severity"), 16);
		td_state(o, c);
		td_text(o, jstr(c, "closed"), 10);
		td_customer(o, c);
		td_text(o, jstr(c, "from"), 64);
		fputs("</tr>\n", o);
	}
	fputs("</table>\n", o);
}

static void html_claims(FILE *o, json_t *r)
{
	json_t *c = json_object_get(r, "claims");
	json_t *products = json_object_get(c, "by_product"),
	       *months = json_object_get(c, "by_month");
	long long total = jint(c, "total");
	fputs("<section id=\"claims\">\n<h2>Claims by product, problem and month</h2>\n", o);
	if (!total) {
		fputs("<p class=\"muted\">No claims here yet.</p>\n</section>\n", o);
		return;
	}
	fprintf(o,
	        "<div class=\"cards\"><div class=\"card\"><b id=\"claims-total\">%lld</b>"
	        "claims</div><div class=\"card\"><b id=\"claims-open\">%lld</b>open</div>"
	        "<div class=\"card\"><b id=\"claims-closed\">%lld</b>closed</div></div>\n",
	        total, jint(c, "open"), jint(c, "closed"));
	fputs("<p class=\"muted\">A claim is closed when it has a closed date or its latest "
	      "status is <i>closed</i>. The customer is shown only where the claim disclosed "
	      "it to this node.</p>\n",
	      o);
	fputs("<h3>Claims per month opened</h3>\n", o);
	chart_months(o, months);

	struct hbar bars[TOP_CHARTED];
	size_t nb = 0, np = json_array_size(products);
	for (size_t i = 0; i < np && nb < TOP_CHARTED; i++) {
		json_t *p = json_array_get(products, i);
		bars[nb].label = jstr(p, "product");
		bars[nb].a = jint(p, "closed");
		bars[nb].b = jint(p, "open");
		nb++;
	}
	fputs("<h3>Per product</h3>\n", o);
	chart_hbars(o, "claims per product", bars, nb, C_CLOSED, C_OPEN, "closed", "open");

	/* product by month: the last twelve months that have claims */
	size_t nm = json_array_size(months), m0 = nm > 12 ? nm - 12 : 0;
	fputs("<div class=\"scroll\"><table class=\"products\">\n<tr><th>Product</th>"
	      "<th class=\"n\">Claims</th><th class=\"n\">Open</th><th class=\"n\">Closed</th>",
	      o);
	for (size_t k = m0; k < nm; k++) {
		fputs("<th class=\"n\">", o);
		html_text(o, jstr(json_array_get(months, k), "month"), 8);
		fputs("</th>", o);
	}
	fputs("</tr>\n", o);
	for (size_t i = 0; i < np; i++) {
		json_t *p = json_array_get(products, i), *pm = json_object_get(p, "months");
		fputs("<tr class=\"product\">", o);
		td_text(o, jstr(p, "product"), 64);
		td_num(o, jint(p, "total"));
		td_num(o, jint(p, "open"));
		td_num(o, jint(p, "closed"));
		for (size_t k = m0; k < nm; k++)
			td_num(o, jint(pm, jstr(json_array_get(months, k), "month")));
		fputs("</tr>\n", o);
	}
	fputs("</table></div>\n", o);
	if (nm > 12)
		fputs("<p class=\"muted\">The table shows the last twelve months with claims; "
		      "<code>trestle report --json</code> has them all.</p>\n",
		      o);

	json_t *problems = json_object_get(c, "by_problem");
	fputs("<h3>Per product and problem</h3>\n<table class=\"problems\">\n<tr><th>Product</th>"
	      "<th>Problem</th><th class=\"n\">Claims</th><th class=\"n\">Open</th>"
	      "<th class=\"n\">Closed</th></tr>\n",
	      o);
	for (size_t i = 0; i < json_array_size(problems) && i < PROBLEMS_LISTED; i++) {
		json_t *p = json_array_get(problems, i);
		fputs("<tr>", o);
		td_text(o, jstr(p, "product"), 64);
		td_text(o, jstr(p, "problem"), PROBLEM_KEY);
		td_num(o, jint(p, "total"));
		td_num(o, jint(p, "open"));
		td_num(o, jint(p, "closed"));
		fputs("</tr>\n", o);
	}
	fputs("</table>\n", o);

	json_t *repeats = json_object_get(c, "repeats");
	size_t nr = json_array_size(repeats);
	fputs("<h3>Repeat claims: the same machine again</h3>\n", o);
	if (!nr)
		fputs("<p class=\"muted\">No machine (product and serial) was claimed twice.</p>\n",
		      o);
	for (size_t i = 0; i < nr && i < REPEATS_LISTED; i++) {
		json_t *p = json_array_get(repeats, i);
		fputs("<p class=\"repeat\"><span class=\"tag\">", o);
		html_text(o, jstr(p, "product"), 64);
		fputs("</span> serial <span class=\"tag\">", o);
		html_text(o, jstr(p, "serial"), 64);
		fprintf(o, "</span>: %lld claims</p>\n", jint(p, "total"));
		claims_table(o, json_object_get(p, "claims"));
	}
	fputs("<h3>Latest claims</h3>\n", o);
	claims_table(o, json_object_get(c, "latest"));
	if (total > LATEST_LISTED)
		fprintf(o, "<p class=\"muted\">The latest %d of %lld, by the date opened.</p>\n",
		        LATEST_LISTED, total);
	fputs("</section>\n", o);
}

static void html_tests(FILE *o, json_t *r)
{
	json_t *tests = json_object_get(r, "test_requests");
	size_t n = json_array_size(tests);
	fputs("<section id=\"tests\">\n<h2>Test requests</h2>\n", o);
	if (!n)
		fputs("<p class=\"muted\">No test requests here yet.</p>\n", o);
	for (size_t i = 0; i < n; i++) {
		json_t *t = json_array_get(tests, i);
		json_t *pp = json_object_get(t, "partners"),
		       *resp = json_object_get(t, "responses"),
		       *reps = json_object_get(t, "reports");
		fputs("<div class=\"test\">\n<h3>", o);
		html_text(o, *jstr(t, "title") ? jstr(t, "title") : "(title withheld)", 200);
		fputs("</h3>\n<p>Product <span class=\"tag\">", o);
		html_text(o, jstr(t, "product"), 64);
		fputs("</span> &#183; state <span class=\"tag\">", o);
		html_text(o, jstr(t, "state"), 32);
		fputs("</span>", o);
		if (json_object_get(t, "slots"))
			fprintf(o, " &#183; %lld slots", jint(t, "slots"));
		if (*jstr(t, "start") || *jstr(t, "end")) {
			fputs(" &#183; trial ", o);
			html_text(o, *jstr(t, "start") ? jstr(t, "start") : "?", 10);
			fputs(" to ", o);
			html_text(o, *jstr(t, "end") ? jstr(t, "end") : "?", 10);
		}
		fprintf(o, " &#183; %lld accepted, %lld declined, %zu trial report%s</p>\n",
		        jint(t, "accepted"), jint(t, "declined"), json_array_size(reps),
		        json_array_size(reps) == 1 ? "" : "s");
		if (*jstr(t, "text")) {
			fputs("<p class=\"text\">", o);
			html_text(o, jstr(t, "text"), 2000);
			fputs("</p>\n", o);
		}
		if (!json_array_size(pp)) {
			fputs("<p class=\"muted\">No answers yet.</p>\n</div>\n", o);
			continue;
		}
		fputs("<table class=\"partners\">\n<tr><th>From</th><th class=\"n\">Nominated</th>"
		      "<th class=\"n\">Accepted</th><th class=\"n\">Declined</th>"
		      "<th class=\"n\">Trial reports</th></tr>\n",
		      o);
		for (size_t k = 0; k < json_array_size(pp); k++) {
			json_t *p = json_array_get(pp, k);
			fputs("<tr>", o);
			td_text(o, jstr(p, "partner"), 64);
			td_num(o, jint(p, "nominated"));
			td_num(o, jint(p, "accepted"));
			td_num(o, jint(p, "declined"));
			td_num(o, jint(p, "reports"));
			fputs("</tr>\n", o);
		}
		fputs("</table>\n", o);
		if (json_array_size(resp)) {
			fputs("<table class=\"responses\">\n<tr><th>Answer</th><th>From</th>"
			      "<th>Firm</th><th>Contact</th><th>Text</th></tr>\n",
			      o);
			for (size_t k = 0; k < json_array_size(resp); k++) {
				json_t *a = json_array_get(resp, k);
				fputs("<tr>", o);
				td_text(o, jstr(a, "answer"), 16);
				td_text(o, jstr(a, "from"), 64);
				td_text(o, jstr(a, "firm"), 16);
				td_text(o, jstr(a, "contact"), 80);
				td_text(o, jstr(a, "text"), 300);
				fputs("</tr>\n", o);
			}
			fputs("</table>\n", o);
		}
		if (json_array_size(reps)) {
			fputs("<table class=\"reports\">\n<tr><th class=\"n\">Rating</th>"
			      "<th>Outcome</th><th>From</th><th>Firm</th><th>Report</th></tr>\n",
			      o);
			for (size_t k = 0; k < json_array_size(reps); k++) {
				json_t *a = json_array_get(reps, k);
				fputs("<tr>", o);
				if (json_object_get(a, "rating"))
					fprintf(o, "<td class=\"n\">%lld / 5</td>",
					        jint(a, "rating"));
				else
					td_text(o, "", 0);
				td_text(o, jstr(a, "outcome"), 16);
				td_text(o, jstr(a, "from"), 64);
				td_text(o, jstr(a, "firm"), 16);
				fputs("<td class=\"text\">", o);
				html_text(o, jstr(a, "text"), 2000);
				fputs("</td></tr>\n", o);
			}
			fputs("</table>\n", o);
		}
		fputs("</div>\n", o);
	}
	fputs("</section>\n", o);
}

static void html_page(FILE *o, json_t *r)
{
	json_t *node = json_object_get(r, "node");
	/* no script may run, nothing may be fetched: the policy says so to the browser, in
	 * case a value from a record ever got past html_text */
	fputs("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
	      "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; "
	      "style-src 'unsafe-inline'; img-src data:\">\n"
	      "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
	      "<meta name=\"generator\" content=\"trestle report\">\n<title>",
	      o);
	html_text(o, jstr(r, "title"), 300);
	fprintf(o, "</title>\n<style>\n%s</style>\n</head>\n<body>\n<header>\n<h1>", page_style);
	html_text(o, jstr(r, "title"), 300);
	fputs("</h1>\n<p id=\"node\">Node <b>", o);
	html_text(o, jstr(node, "name"), 128);
	fputs("</b> (", o);
	html_text(o, jstr(node, "role"), 16);
	fputs("), fingerprint <code>", o);
	html_text(o, jstr(node, "fingerprint"), 16);
	fputs("</code> &#183; report made ", o);
	html_text(o, jstr(r, "generated"), 30);
	fputs("</p>\n</header>\n<main>\n", o);
	json_t *c = json_object_get(r, "claims");
	fprintf(o,
	        "<div class=\"cards\"><div class=\"card\"><b>%zu</b>idea groups</div>"
	        "<div class=\"card\"><b>%lld</b>ideas</div><div class=\"card\"><b>%lld</b>claims"
	        "</div><div class=\"card\"><b>%zu</b>test requests</div></div>\n",
	        json_array_size(json_object_get(r, "idea_groups")), jint(r, "ideas"),
	        jint(c, "total"), json_array_size(json_object_get(r, "test_requests")));
	html_ideas(o, r);
	html_claims(o, r);
	html_tests(o, r);
	fputs("<p class=\"muted\">Made by <code>trestle report</code> from the records this node "
	      "holds: what its partners chose to share with it.</p>\n</main>\n</body>\n</html>\n",
	      o);
}

/* Writes the page to path: to a temporary file beside it, then renamed over it, so
 * that path holds the old page or the whole new one. 0, or an errno value with what
 * failed in why. */
static int html_write(const char *path, json_t *r, char *why, size_t whylen)
{
	struct stat st;
	char tmp[4200];
	int err = 0;
	why[0] = '\0';
	if (stat(path, &st) == 0 && S_ISDIR(st.st_mode)) {
		snprintf(why, whylen, "%s is a directory: give the name of a file", path);
		return EISDIR;
	}
	if (lstat(path, &st) == 0 && !S_ISREG(st.st_mode) && !S_ISLNK(st.st_mode)) {
		snprintf(why, whylen, "%s is not a regular file: give the name of a file", path);
		return EINVAL;
	}
	if (snprintf(tmp, sizeof(tmp), "%s.tmp-XXXXXX", path) >= (int)sizeof(tmp)) {
		snprintf(why, whylen, "the file name is too long");
		return ENAMETOOLONG;
	}
	int fd = mkstemp(tmp);
	if (fd < 0) {
		err = errno;
		snprintf(why, whylen, "cannot write %s: %s", path, strerror(err));
		return err;
	}
	/* claims and customers' names are the firm's own: 0600, as `export -o` writes */
	FILE *o = NULL;
	if (fchmod(fd, 0600) != 0 || !(o = fdopen(fd, "w"))) {
		err = errno;
		close(fd);
		unlink(tmp);
		snprintf(why, whylen, "cannot write %s: %s", tmp, strerror(err));
		return err;
	}
	html_page(o, r);
	if (ferror(o) || fflush(o) != 0 || fsync(fileno(o)) != 0)
		err = errno ? errno : EIO;
	if (fclose(o) != 0 && !err)
		err = errno ? errno : EIO;
	if (!err && rename(tmp, path) != 0)
		err = errno;
	if (err) {
		unlink(tmp);
		snprintf(why, whylen, "cannot write %s: %s%s; nothing was written", path,
		         strerror(err), tr_cli_write_hint(err));
	}
	return err;
}

int cmd_report(tr_cli *cli, int argc, char **argv)
{
	static const tr_cmd_help h = {
	    "report", "--html FILE | --json",
	    "The view of everything this node holds, in one place: the ideas grouped (as "
	    "`trestle idea groups`), the claims by product, problem and month, open and closed, "
	    "with the machines claimed more than once, and each test request with its answers "
	    "and trial reports per partner they came from.",
	    "--html writes one self-contained page (inline styles and SVG charts, no script, "
	    "nothing fetched):\nit opens from the file in any browser, with no server and no "
	    "network. FILE is replaced\nonly when the new page is complete. --json prints the "
	    "same data.\n"
	    "A claim's customer shows only if the claim disclosed it to this node; user firms\n"
	    "show by their node key's fingerprint.\n"
	    "example:\n  trestle report --html report.html --title \"Acme: Q3 review\""};
	const char *html = NULL, *title = NULL;
	int json = 0;
	const tr_opt opts[] = {
	    {"html", 0, TR_OPT_STR, &html, "FILE", "write the report as an HTML page to FILE"},
	    {"title", 0, TR_OPT_STR, &title, "TEXT", "the page's title (default: the node's name)"},
	    {"json", 0, TR_OPT_FLAG, &json, NULL, "print the report's data as JSON"},
	    {0}};
	const char *pos[1];
	size_t npos;
	int rc = tr_cli_begin(cli, &h, opts, argc, argv, pos, 0, &npos, 0);
	if (rc >= 0)
		return rc;
	if (!html && !json)
		return tr_opt_usage_error(&h, "give --html FILE, or --json");
	if (html && !*html)
		return tr_opt_usage_error(&h, "--html needs a file name");
	if ((rc = tr_cli_open(cli)) != 0)
		return rc;
	json_t *r;
	if ((rc = tr_report_build(cli, title, &r)) != 0)
		return tr_cli_error("cannot make the report: %s", tr_strerror(rc));
	if (html) {
		char why[4600];
		if ((rc = html_write(html, r, why, sizeof(why))) != 0) {
			json_decref(r);
			return tr_cli_error("%s", why);
		}
	}
	if (json) {
		json_dumpf(r, stdout, JSON_INDENT(2));
		putchar('\n');
	} else {
		json_t *c = json_object_get(r, "claims");
		size_t ng = json_array_size(json_object_get(r, "idea_groups")),
		       nt = json_array_size(json_object_get(r, "test_requests"));
		printf("wrote %s: %zu idea group%s, %lld claim%s (%lld open), %zu test "
		       "request%s\n",
		       html, ng, ng == 1 ? "" : "s", jint(c, "total"),
		       jint(c, "total") == 1 ? "" : "s", jint(c, "open"), nt, nt == 1 ? "" : "s");
	}
	json_decref(r);
	return 0;
}

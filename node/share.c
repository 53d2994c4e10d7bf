/* share.c: who may have which record. The rules and grants of this node's admin, the
 * author's onward terms and consent, decided in one function (decide), and what
 * follows from it: the partners' outbound queues, the inbox, consents received, and
 * retractions with their receipts.
 *
 * Must never: let a record go that decide() did not allow, or with a field it did not
 * allow; put a scan of the whole store on the sync path (a new record is decided for
 * each partner once; a pull reads only the partner's queue); hold a pointer into the
 * map across a write. */
#include "store_int.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "clock.h"
#include "error.h"
#include "kind.h"
#include "banned.h"

#define ALL_FIELDS 0xffffffffu

struct share_rules {
	tr_partner *partners;
	size_t npartners;
	tr_rule *rules;
	size_t nrules;
	uint64_t *qnext; /* per partner: next queue position, 0 until looked up */
	size_t *rfirst;  /* per partner: its rules are rules[rfirst .. rfirst + rcount) */
	size_t *rcount;
	/* equal conditions of different rules share an id, and each is evaluated once per
	 * record (a distributor's rules for its user firms are much alike) */
	uint32_t *cond_id; /* rules[i].conds[j]: cond_id[i * TR_RULE_MAX_CONDS + j] */
	signed char *memo; /* per id: -1 not yet, else the result for memo_rec */
	size_t nids;
	uint8_t memo_rec[TR_ID_BYTES];
	const tr_rule *extra; /* a rule not added yet (dry run) */
};

/* How decide() is asked. */
enum {
	DECIDE_FULL,  /* rules and grants */
	DECIDE_NEW,   /* a record stored just now: it has no grant yet */
	DECIDE_TERMS, /* the author's terms and consent only, as if a rule allowed it */
	DECIDE_AGAIN  /* as FULL, and queue again what the partner pulled past (it may have
	               * been skipped then: consent had lapsed, its role did not fit) */
};

typedef struct decision {
	int allowed;
	int why;          /* TR_SHARE_* */
	uint32_t fields;  /* bit i: rec->fields[i] may go */
	uint32_t blocked; /* bits the author's terms keep here */
} decision;

/* ---- small things ---- */

static uint32_t all_bits(const tr_record *rec)
{
	return rec->nfields >= 32 ? ALL_FIELDS : ((1u << rec->nfields) - 1);
}

static uint32_t disclosed_bits(const tr_record *rec)
{
	uint32_t m = 0;
	for (size_t i = 0; i < rec->nfields; i++)
		if (rec->fields[i].disclosed)
			m |= 1u << i;
	return m;
}

static int name_eq(tr_str a, const char *b)
{
	return tr_str_eq(a, b);
}

static int grant_only(const tr_record *rec)
{
	return name_eq(rec->kind, "consent") || name_eq(rec->kind, "retraction") ||
	       name_eq(rec->kind, "receipt");
}

static unsigned purpose_of(const tr_record *rec)
{
	if (name_eq(rec->kind, "idea"))
		return TR_PURPOSE_IDEAS;
	if (name_eq(rec->kind, "claim") || name_eq(rec->kind, "claim_line"))
		return TR_PURPOSE_CLAIMS;
	if (name_eq(rec->kind, "test_response") || name_eq(rec->kind, "trial_report"))
		return TR_PURPOSE_TRIALS;
	return 0;
}

static const char *const purpose_names[] = {"ideas", "claims", "trials"};

int tr_purposes_parse(const char *scope, size_t n, unsigned *mask)
{
	*mask = 0;
	size_t i = 0;
	while (i <= n) {
		size_t j = i;
		while (j < n && scope[j] != ',')
			j++;
		size_t b = i, e = j;
		while (b < e && scope[b] == ' ')
			b++;
		while (e > b && scope[e - 1] == ' ')
			e--;
		int known = 0;
		for (unsigned k = 0; k < 3; k++)
			if (e - b == strlen(purpose_names[k]) &&
			    !memcmp(scope + b, purpose_names[k], e - b)) {
				*mask |= 1u << k;
				known = 1;
			}
		if (!known && e > b)
			return TR_EINVAL;
		i = j + 1;
	}
	return *mask ? 0 : TR_EINVAL;
}

const char *tr_share_why(int why)
{
	switch (why) {
	case TR_SHARE_OK:
		return "allowed";
	case TR_SHARE_SOURCE:
		return "it came from that partner";
	case TR_SHARE_AUTHOR:
		return "that partner wrote it";
	case TR_SHARE_GRANT_ONLY:
		return "consents, retractions and receipts go only to the partner they are for";
	case TR_SHARE_HOPS:
		return "its author's terms do not let it travel that far";
	case TR_SHARE_ROLE:
		return "its author's terms do not let it reach a node of that partner's role";
	case TR_SHARE_CONSENT:
		return "its author has not consented to this node passing it on (consent "
		       "for ideas, claims or trials, given with `trestle consent grant`)";
	case TR_SHARE_PATH:
		return "it was imported from a file, so how far it travelled is unknown";
	case TR_SHARE_NO_RULE:
		return "no rule or grant of this node allows it";
	}
	return "?";
}

/* glob over bytes: * any run, ? one byte */
static int glob(const char *p, size_t pn, const char *s, size_t sn)
{
	size_t pi = 0, si = 0, star = (size_t)-1, mark = 0;
	while (si < sn) {
		if (pi < pn && (p[pi] == '?' || p[pi] == s[si])) {
			pi++;
			si++;
		} else if (pi < pn && p[pi] == '*') {
			star = pi++;
			mark = si;
		} else if (star != (size_t)-1) {
			pi = star + 1;
			si = ++mark;
		} else
			return 0;
	}
	while (pi < pn && p[pi] == '*')
		pi++;
	return pi == pn;
}

static int cond_holds(const tr_cond *c, const tr_record *rec)
{
	const tr_field *f = tr_record_field(rec, c->field);
	char num[32];
	const char *v;
	size_t vn;
	if (!f || !f->disclosed)
		return 0; /* a value this node was not shown never matches */
	if (f->value.type == TR_VAL_INT) {
		vn = (size_t)snprintf(num, sizeof(num), "%" PRId64, f->value.i);
		v = num;
	} else {
		v = f->value.s.p;
		vn = f->value.s.n;
	}
	const char *p = c->pattern;
	for (;;) {
		const char *bar = strchr(p, '|');
		size_t n = bar ? (size_t)(bar - p) : strlen(p);
		if (glob(p, n, v, vn))
			return 1;
		if (!bar)
			return 0;
		p = bar + 1;
	}
}

static uint32_t rule_bits(const tr_rule *r, const tr_record *rec)
{
	if (r->all_fields)
		return all_bits(rec);
	uint32_t m = 0;
	for (size_t i = 0; i < rec->nfields; i++)
		for (size_t j = 0; j < r->nfields; j++)
			if (name_eq(rec->fields[i].name, r->fields[j]))
				m |= 1u << i;
	return m;
}

/* ---- rules: parsing, checking, storing ---- */

int tr_cond_parse(const char *text, tr_cond *c, char *why, size_t whylen)
{
	const char *eq = strchr(text, '=');
	memset(c, 0, sizeof(*c));
	if (!eq) {
		snprintf(why, whylen, "\"%.80s\" is not FIELD=PATTERN (e.g. product=DW-*)", text);
		return TR_EINVAL;
	}
	size_t fn = (size_t)(eq - text), pn = strlen(eq + 1);
	tr_str name = {text, fn};
	if (!tr_name_valid(name)) {
		snprintf(why, whylen, "\"%.*s\" is not a field name ([a-z][a-z0-9_]*)", (int)fn,
		         text);
		return TR_EINVAL;
	}
	if (pn == 0) {
		snprintf(why, whylen,
		         "the pattern for %.*s is empty (use * to match any disclosed value)",
		         (int)fn, text);
		return TR_EINVAL;
	}
	if (pn > TR_PATTERN_MAX || !tr_utf8_valid(eq + 1, pn)) {
		snprintf(why, whylen, "the pattern for %.*s must be UTF-8 of at most %d bytes",
		         (int)fn, text, TR_PATTERN_MAX);
		return TR_EINVAL;
	}
	for (const char *q = eq + 1; *q; q++)
		if ((unsigned char)*q < 0x20) {
			snprintf(why, whylen, "the pattern for %.*s has a control character",
			         (int)fn, text);
			return TR_EINVAL;
		}
	memcpy(c->field, text, fn);
	memcpy(c->pattern, eq + 1, pn);
	return 0;
}

static void field_list(const tr_kind_spec *k, char *out, size_t n)
{
	size_t o = 0;
	out[0] = '\0';
	for (const tr_field_spec *f = k->fields; f->name && o + 1 < n; f++)
		o += (size_t)snprintf(out + o, n - o, "%s%s", o ? ", " : "", f->name);
}

int tr_rule_check(const tr_rule *r, char *why, size_t whylen)
{
	const tr_kind_spec *k = tr_kind_find(r->kind, strlen(r->kind));
	char names[400];
	if (!k) {
		snprintf(why, whylen, "\"%.40s\" is not a record kind (see `trestle kinds`)",
		         r->kind);
		return TR_EINVAL;
	}
	field_list(k, names, sizeof(names));
	for (size_t i = 0; i < r->nfields; i++) {
		if (!tr_kind_field_allowed(k, r->fields[i], strlen(r->fields[i]))) {
			snprintf(why, whylen, "a %s has no field \"%.40s\"; its fields are: %s",
			         k->name, r->fields[i], names);
			return TR_EINVAL;
		}
		for (size_t j = 0; j < i; j++)
			if (!strcmp(r->fields[i], r->fields[j])) {
				snprintf(why, whylen, "field %s is listed twice", r->fields[i]);
				return TR_EINVAL;
			}
	}
	for (size_t i = 0; i < r->nconds; i++)
		if (!tr_kind_field_allowed(k, r->conds[i].field, strlen(r->conds[i].field))) {
			snprintf(why, whylen,
			         "a condition on \"%.40s\", which a %s does not have; its fields "
			         "are: %s",
			         r->conds[i].field, k->name, names);
			return TR_EINVAL;
		}
	if (!strcmp(r->kind, "consent") || !strcmp(r->kind, "retraction") ||
	    !strcmp(r->kind, "receipt")) {
		snprintf(why, whylen,
		         "%ss go only to the partner they are for (written by `trestle %s`); "
		         "no rule is needed or allowed",
		         r->kind, !strcmp(r->kind, "consent") ? "consent grant" : "retract");
		return TR_EINVAL;
	}
	if (r->flags & ~(unsigned)(TR_RULE_FORWARD | TR_RULE_REPLIES)) {
		snprintf(why, whylen, "unknown rule flags");
		return TR_EINVAL;
	}
	return 0;
}

void tr_rule_describe(const tr_rule *r, char *out, size_t n)
{
	size_t o = (size_t)snprintf(out, n, "%s", r->kind);
	if (o < n && !r->all_fields) {
		o += (size_t)snprintf(out + o, n - o, " fields=");
		for (size_t i = 0; i < r->nfields && o < n; i++)
			o += (size_t)snprintf(out + o, n - o, "%s%s", i ? "," : "", r->fields[i]);
		if (!r->nfields && o < n)
			o += (size_t)snprintf(out + o, n - o, "(none)");
	}
	for (size_t i = 0; i < r->nconds && o < n; i++)
		o += (size_t)snprintf(out + o, n - o, "%s%s=%s", i ? " and " : " where ",
		                      r->conds[i].field, r->conds[i].pattern);
	if (o < n && (r->flags & TR_RULE_FORWARD))
		o += (size_t)snprintf(out + o, n - o, " forward");
	if (o < n && (r->flags & TR_RULE_REPLIES))
		snprintf(out + o, n - o, " replies");
}

static int rule_encode(const tr_rule *r, tr_mpw *w)
{
	tr_mpw_array(w, 9);
	tr_mpw_uint(w, 1);
	tr_mpw_uint(w, r->partner);
	tr_mpw_str(w, r->kind, strlen(r->kind));
	tr_mpw_uint(w, r->all_fields ? 1 : 0);
	tr_mpw_array(w, r->nfields);
	for (size_t i = 0; i < r->nfields; i++)
		tr_mpw_str(w, r->fields[i], strlen(r->fields[i]));
	tr_mpw_array(w, r->nconds);
	for (size_t i = 0; i < r->nconds; i++) {
		tr_mpw_array(w, 2);
		tr_mpw_str(w, r->conds[i].field, strlen(r->conds[i].field));
		tr_mpw_str(w, r->conds[i].pattern, strlen(r->conds[i].pattern));
	}
	tr_mpw_uint(w, r->flags);
	tr_mpw_uint(w, r->created_ms);
	tr_mpw_uint(w, r->version);
	return tr_mpw_error(w);
}

static int copy_str(tr_mpr *rd, char *out, size_t cap)
{
	tr_str s;
	if (tr_mpr_str(rd, &s, cap - 1))
		return TR_ECORRUPT;
	memcpy(out, s.p, s.n);
	out[s.n] = '\0';
	return 0;
}

static int rule_decode(const MDB_val *k, const MDB_val *v, tr_rule *r)
{
	tr_mpr rd;
	size_t n, nf, nc, two;
	uint64_t version, partner, all, flags;
	memset(r, 0, sizeof(*r));
	if (k->mv_size != 4)
		return TR_ECORRUPT;
	r->id = get_be32(k->mv_data);
	tr_mpr_init(&rd, v->mv_data, v->mv_size);
	if (tr_mpr_array(&rd, &n, 16) || n != 9 || tr_mpr_uint(&rd, &version) || version != 1 ||
	    tr_mpr_uint(&rd, &partner) || partner > UINT32_MAX ||
	    copy_str(&rd, r->kind, sizeof(r->kind)) || tr_mpr_uint(&rd, &all) ||
	    tr_mpr_array(&rd, &nf, TR_MAX_FIELDS))
		return TR_ECORRUPT;
	r->partner = (uint32_t)partner;
	r->all_fields = all != 0;
	r->nfields = nf;
	for (size_t i = 0; i < nf; i++)
		if (copy_str(&rd, r->fields[i], sizeof(r->fields[i])))
			return TR_ECORRUPT;
	if (tr_mpr_array(&rd, &nc, TR_RULE_MAX_CONDS))
		return TR_ECORRUPT;
	r->nconds = nc;
	for (size_t i = 0; i < nc; i++)
		if (tr_mpr_array(&rd, &two, 2) || two != 2 ||
		    copy_str(&rd, r->conds[i].field, sizeof(r->conds[i].field)) ||
		    copy_str(&rd, r->conds[i].pattern, sizeof(r->conds[i].pattern)))
			return TR_ECORRUPT;
	if (tr_mpr_uint(&rd, &flags) || tr_mpr_uint(&rd, &r->created_ms) ||
	    tr_mpr_uint(&rd, &r->version) || tr_mpr_done(&rd))
		return TR_ECORRUPT;
	r->flags = (unsigned)flags;
	return 0;
}

/* ---- the rules of this transaction ---- */

void share_rules_free(tr_txn *t)
{
	if (!t->rules)
		return;
	free(t->rules->partners);
	free(t->rules->rules);
	free(t->rules->qnext);
	free(t->rules->rfirst);
	free(t->rules->rcount);
	free(t->rules->cond_id);
	free(t->rules->memo);
	free(t->rules);
	t->rules = NULL;
}

static int rule_cmp(const void *a, const void *b)
{
	const tr_rule *x = a, *y = b;
	if (x->partner != y->partner)
		return x->partner < y->partner ? -1 : 1;
	return x->id < y->id ? -1 : x->id > y->id;
}

static int partner_cmp(const void *a, const void *b)
{
	const tr_partner *x = a, *y = b;
	return x->index < y->index ? -1 : x->index > y->index;
}

static uint64_t cond_hash(const tr_cond *c)
{
	uint64_t h = 1469598103934665603ull;
	for (const char *p = c->field; *p; p++)
		h = (h ^ (uint8_t)*p) * 1099511628211ull;
	h = (h ^ '=') * 1099511628211ull;
	for (const char *p = c->pattern; *p; p++)
		h = (h ^ (uint8_t)*p) * 1099511628211ull;
	return h;
}

/* Numbers the distinct conditions of the rules (an open hash table of rule slots). */
static int cond_ids(struct share_rules *r)
{
	size_t n = r->nrules * TR_RULE_MAX_CONDS, cap = 16;
	while (cap < 2 * n)
		cap *= 2;
	size_t *slot = malloc(cap * sizeof(*slot)); /* index into cond_id + 1; 0: empty */
	r->cond_id = calloc(n ? n : 1, sizeof(*r->cond_id));
	if (!slot || !r->cond_id) {
		free(slot);
		return ENOMEM;
	}
	memset(slot, 0, cap * sizeof(*slot));
	r->nids = 0;
	for (size_t i = 0; i < r->nrules; i++)
		for (size_t j = 0; j < r->rules[i].nconds; j++) {
			const tr_cond *c = &r->rules[i].conds[j];
			size_t h = (size_t)cond_hash(c) & (cap - 1);
			for (;; h = (h + 1) & (cap - 1)) {
				if (!slot[h]) {
					slot[h] = i * TR_RULE_MAX_CONDS + j + 1;
					r->cond_id[i * TR_RULE_MAX_CONDS + j] = (uint32_t)r->nids++;
					break;
				}
				size_t o = slot[h] - 1;
				const tr_cond *e =
				    &r->rules[o / TR_RULE_MAX_CONDS].conds[o % TR_RULE_MAX_CONDS];
				if (!strcmp(e->field, c->field) &&
				    !strcmp(e->pattern, c->pattern)) {
					r->cond_id[i * TR_RULE_MAX_CONDS + j] = r->cond_id[o];
					break;
				}
			}
		}
	free(slot);
	r->memo = malloc(r->nids ? r->nids : 1);
	if (!r->memo)
		return ENOMEM;
	memset(r->memo_rec, 0, sizeof(r->memo_rec));
	memset(r->memo, -1, r->nids);
	return 0;
}

static int rules_load(tr_txn *t)
{
	if (t->rules)
		return 0;
	struct share_rules *r = calloc(1, sizeof(*r));
	if (!r)
		return ENOMEM;
	struct partner_list l;
	int rc = store_partner_load_all(t, &l);
	if (rc) {
		free(r);
		return rc;
	}
	if (l.n)
		qsort(l.v, l.n, sizeof(*l.v), partner_cmp);
	r->partners = l.v;
	r->npartners = l.n;
	r->qnext = calloc(l.n ? l.n : 1, sizeof(uint64_t));
	t->rules = r;
	if (!r->qnext)
		return ENOMEM;
	MDB_cursor *c;
	MDB_val k, v;
	if ((rc = mdb_cursor_open(t->txn, t->s->dbi[DB_RULES], &c)) != 0)
		return rc;
	size_t cap = 0;
	for (rc = mdb_cursor_get(c, &k, &v, MDB_FIRST); rc == 0;
	     rc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
		if (r->nrules == cap) {
			cap = cap ? cap * 2 : 8;
			tr_rule *nr = realloc(r->rules, cap * sizeof(*nr));
			if (!nr) {
				rc = ENOMEM;
				break;
			}
			r->rules = nr;
		}
		if ((rc = rule_decode(&k, &v, &r->rules[r->nrules])) != 0)
			break;
		r->nrules++;
	}
	mdb_cursor_close(c);
	if (rc != MDB_NOTFOUND)
		return rc;
	/* each partner's rules together, so that deciding reads only its own */
	if (r->nrules)
		qsort(r->rules, r->nrules, sizeof(*r->rules), rule_cmp);
	r->rfirst = calloc(l.n ? l.n : 1, sizeof(size_t));
	r->rcount = calloc(l.n ? l.n : 1, sizeof(size_t));
	if (!r->rfirst || !r->rcount)
		return ENOMEM;
	for (size_t i = 0, j = 0; i < l.n; i++) {
		while (j < r->nrules && r->rules[j].partner < l.v[i].index)
			j++;
		r->rfirst[i] = j;
		while (j + r->rcount[i] < r->nrules &&
		       r->rules[j + r->rcount[i]].partner == l.v[i].index)
			r->rcount[i]++;
	}
	return cond_ids(r);
}

static int partner_slot(tr_txn *t, uint32_t index, size_t *pi)
{
	int rc = rules_load(t);
	if (rc)
		return rc;
	for (size_t i = 0; i < t->rules->npartners; i++)
		if (t->rules->partners[i].index == index) {
			*pi = i;
			return 0;
		}
	return TR_ENOTFOUND;
}

static const tr_partner *partner_by_index(tr_txn *t, uint32_t index)
{
	size_t pi;
	return partner_slot(t, index, &pi) == 0 ? &t->rules->partners[pi] : NULL;
}

static int bump_version(tr_txn *t)
{
	MDB_val v;
	uint8_t b[8];
	uint64_t n = 0;
	if (store_meta_get(t, "policy_version", &v) == 0 && v.mv_size == 8)
		n = get_be64(v.mv_data);
	put_be64(b, n + 1);
	return store_meta_put(t, "policy_version", b, 8);
}

int tr_txn_policy_version(tr_txn *t, uint64_t *version)
{
	MDB_val v;
	*version = 0;
	if (store_meta_get(t, "policy_version", &v) == 0 && v.mv_size == 8)
		*version = get_be64(v.mv_data);
	return 0;
}

/* ---- consent ---- */

static void consent_key(uint8_t *key, size_t *klen, const uint8_t author[TR_PK_BYTES],
                        const uint8_t grantee[TR_PK_BYTES], unsigned bit)
{
	memcpy(key, author, TR_PK_BYTES);
	memcpy(key + TR_PK_BYTES, grantee, TR_PK_BYTES);
	const char *name = purpose_names[bit];
	memcpy(key + 2 * TR_PK_BYTES, name, strlen(name));
	*klen = 2 * TR_PK_BYTES + strlen(name);
}

static unsigned purpose_bit(unsigned purpose)
{
	return purpose == TR_PURPOSE_IDEAS ? 0 : purpose == TR_PURPOSE_CLAIMS ? 1 : 2;
}

int tr_txn_consent_holds(tr_txn *t, const uint8_t author[TR_PK_BYTES], unsigned purpose,
                         uint64_t now_ms)
{
	uint8_t key[2 * TR_PK_BYTES + 8];
	size_t klen;
	consent_key(key, &klen, author, t->s->node, purpose_bit(purpose));
	MDB_val k = {klen, key}, v;
	if (mdb_get(t->txn, t->s->dbi[DB_CONSENT], &k, &v) != 0 || v.mv_size != TR_ID_BYTES + 8)
		return 0;
	uint64_t until = get_be64((const uint8_t *)v.mv_data + TR_ID_BYTES);
	return until == 0 || now_ms < until;
}

/* The end of day YYYY-MM-DD (UTC) in ms. */
static uint64_t day_end_ms(tr_str d)
{
	struct tm tm;
	memset(&tm, 0, sizeof(tm));
	if (d.n != 10 || !tr_date_valid(d.p, d.n))
		return 0;
	tm.tm_year = (d.p[0] - '0') * 1000 + (d.p[1] - '0') * 100 + (d.p[2] - '0') * 10 +
	             (d.p[3] - '0') - 1900;
	tm.tm_mon = (d.p[5] - '0') * 10 + (d.p[6] - '0') - 1;
	tm.tm_mday = (d.p[8] - '0') * 10 + (d.p[9] - '0') + 1;
	time_t s = timegm(&tm);
	return s > 0 ? (uint64_t)s * 1000 : 1;
}

/* A consent received from its author, naming this node: remember it per purpose
 * (*added: the purposes it holds for). */
static int consent_received(tr_txn *t, const tr_record *rec, unsigned *added)
{
	*added = 0;
	const tr_field *g = tr_record_field(rec, "grantee");
	const tr_field *sc = tr_record_field(rec, "scope");
	const tr_field *un = tr_record_field(rec, "until");
	uint8_t grantee[TR_PK_BYTES];
	char text[TR_NODEID_TEXT_SIZE + 8];
	unsigned purposes;
	if (!g || !g->disclosed || g->value.type != TR_VAL_STR || !sc || !sc->disclosed ||
	    sc->value.type != TR_VAL_STR || g->value.s.n >= sizeof(text))
		return 0;
	memcpy(text, g->value.s.p, g->value.s.n);
	text[g->value.s.n] = '\0';
	if (tr_nodeid_parse(text, grantee) != 0 || memcmp(grantee, t->s->node, TR_PK_BYTES) != 0 ||
	    tr_purposes_parse(sc->value.s.p, sc->value.s.n, &purposes) != 0)
		return 0; /* not for this node, or for purposes it does not know */
	uint8_t val[TR_ID_BYTES + 8];
	memcpy(val, rec->id, TR_ID_BYTES);
	put_be64(val + TR_ID_BYTES,
	         un && un->disclosed && un->value.type == TR_VAL_STR ? day_end_ms(un->value.s) : 0);
	for (unsigned b = 0; b < 3; b++) {
		if (!(purposes & (1u << b)))
			continue;
		uint8_t key[2 * TR_PK_BYTES + 8];
		size_t klen;
		consent_key(key, &klen, rec->author, grantee, b);
		MDB_val k = {klen, key}, v = {sizeof(val), val};
		/* what waited for it goes when a purpose starts to hold, not on every
		 * consent a partner sends again */
		int held = tr_txn_consent_holds(t, rec->author, 1u << b, tr_wall_ms());
		int rc = mdb_put(t->txn, t->s->dbi[DB_CONSENT], &k, &v, 0);
		if (rc)
			return rc;
		if (!held)
			*added |= 1u << b;
	}
	return 0;
}

/* The consent with this id is withdrawn by its author. */
static int consent_withdrawn(tr_txn *t, const uint8_t author[TR_PK_BYTES],
                             const uint8_t id[TR_ID_BYTES])
{
	for (unsigned b = 0; b < 3; b++) {
		uint8_t key[2 * TR_PK_BYTES + 8];
		size_t klen;
		consent_key(key, &klen, author, t->s->node, b);
		MDB_val k = {klen, key}, v;
		int rc = mdb_get(t->txn, t->s->dbi[DB_CONSENT], &k, &v);
		if (rc == MDB_NOTFOUND)
			continue;
		if (rc)
			return rc;
		if (v.mv_size >= TR_ID_BYTES && !memcmp(v.mv_data, id, TR_ID_BYTES) &&
		    (rc = mdb_del(t->txn, t->s->dbi[DB_CONSENT], &k, NULL)) != 0)
			return rc;
	}
	return 0;
}

/* ---- the decision ---- */

static int outset_get(tr_txn *t, uint32_t partner, const uint8_t posb[8], uint64_t *qpos,
                      uint32_t *mask);

/* Is record id between this node and partner: did it come from the partner, or was it
 * passed to it? (A reply goes back the way the record came, and down the way a request
 * went.) */
static int passed_between(tr_txn *t, const uint8_t id[TR_ID_BYTES], uint32_t partner)
{
	MDB_val k = {TR_ID_BYTES, (void *)id}, v;
	uint32_t source, had;
	uint8_t posb[8];
	if (mdb_get(t->txn, t->s->dbi[DB_ID], &k, &v) != 0 || v.mv_size != 8)
		return 0;
	memcpy(posb, v.mv_data, 8);
	if (store_rec_at(t, posb, NULL, NULL, &source, NULL) == 0 && source == partner)
		return 1;
	/* queued for it and not retracted from it whole */
	return outset_get(t, partner, posb, NULL, &had) == 0 && had != 0;
}

/* A grant entry: the fields the admin granted the partner (has: there is a grant), and
 * the fields this node retracted from it, which no rule sends it again. */
typedef struct grant_entry {
	int has;
	uint32_t fields, withheld;
} grant_entry;

static int grant_get(tr_txn *t, uint32_t partner, const uint8_t posb[8], grant_entry *g)
{
	uint8_t key[12];
	put_be32(key, partner);
	memcpy(key + 4, posb, 8);
	MDB_val k = {12, key}, v;
	memset(g, 0, sizeof(*g));
	int rc = mdb_get(t->txn, t->s->dbi[DB_GRANTS], &k, &v);
	if (rc)
		return rc;
	if (v.mv_size == 9) {
		g->fields = get_be32(v.mv_data);
		g->withheld = get_be32((const uint8_t *)v.mv_data + 4);
		g->has = ((const uint8_t *)v.mv_data)[8] != 0;
	} else if (v.mv_size == 4) {
		g->fields = get_be32(v.mv_data);
		g->has = 1;
	} else
		return TR_ECORRUPT;
	return 0;
}

static int grant_put(tr_txn *t, uint32_t partner, const uint8_t posb[8], const grant_entry *g)
{
	uint8_t key[12], val[9];
	put_be32(key, partner);
	memcpy(key + 4, posb, 8);
	MDB_val k = {12, key}, v = {9, val};
	if (!g->has && !g->withheld) {
		int rc = mdb_del(t->txn, t->s->dbi[DB_GRANTS], &k, NULL);
		return rc == MDB_NOTFOUND ? 0 : rc;
	}
	put_be32(val, g->has ? g->fields : 0);
	put_be32(val + 4, g->withheld);
	val[8] = g->has ? 1 : 0;
	return mdb_put(t->txn, t->s->dbi[DB_GRANTS], &k, &v, 0);
}

static int rule_matches(tr_txn *t, const tr_rule *r, const tr_partner *p, const tr_record *rec,
                        unsigned depth)
{
	if (r->partner != p->index || !name_eq(rec->kind, r->kind))
		return 0;
	if (depth > 0 && !(r->flags & TR_RULE_FORWARD))
		return 0;
	struct share_rules *sr = t->rules;
	size_t ri = (size_t)(r - sr->rules);
	int stored = r >= sr->rules && ri < sr->nrules; /* not the dry run's extra rule */
	if (stored && r->nconds && memcmp(sr->memo_rec, rec->id, TR_ID_BYTES) != 0) {
		memcpy(sr->memo_rec, rec->id, TR_ID_BYTES); /* another record: forget */
		memset(sr->memo, -1, sr->nids);
	}
	for (size_t i = 0; i < r->nconds; i++) {
		signed char *m = stored ? &sr->memo[sr->cond_id[ri * TR_RULE_MAX_CONDS + i]] : NULL;
		if (m && *m < 0)
			*m = (signed char)cond_holds(&r->conds[i], rec);
		if (!(m ? *m : cond_holds(&r->conds[i], rec)))
			return 0;
	}
	if (r->flags & TR_RULE_REPLIES) {
		int any = 0;
		for (size_t i = 0; i < rec->nrefs && !any; i++)
			any = passed_between(t, rec->refs[i], p->index);
		if (!any)
			return 0;
	}
	return 1;
}

/* The author's terms and consent, for a record written elsewhere (depth >= 1): 0 if
 * they let partner p have it (d->blocked: the author's private fields), else the
 * TR_SHARE_* reason. */
static int terms_allow(tr_txn *t, const tr_partner *p, const tr_record *rec, unsigned depth,
                       decision *d)
{
	/* this node is depth hops from the author; the partner would be depth + 1, that is
	 * depth hops beyond the first partner */
	unsigned purpose = purpose_of(rec);
	if (depth >= TR_DEPTH_MAX)
		return TR_SHARE_PATH;
	if (rec->terms.hops < depth)
		return TR_SHARE_HOPS;
	if (!(rec->terms.roles & (uint64_t)p->role))
		return TR_SHARE_ROLE;
	if (purpose && !tr_txn_consent_holds(t, rec->author, purpose, tr_wall_ms()))
		return TR_SHARE_CONSENT;
	for (size_t i = 0; i < rec->nfields; i++)
		for (size_t j = 0; j < rec->terms.nprivate; j++)
			if (rec->fields[i].name.n == rec->terms.private_fields[j].n &&
			    !memcmp(rec->fields[i].name.p, rec->terms.private_fields[j].p,
			            rec->fields[i].name.n))
				d->blocked |= 1u << i;
	return TR_SHARE_OK;
}

/* The one place that decides whether partner p (one of t->rules->partners) may have rec
 * (stored at posb, which arrived from source, depth hops from its author), and which of
 * its fields. how: DECIDE_*. The admin's rules and grants are weighed first (in memory,
 * and one lookup), the author's terms and consent after: a record no rule lets go costs
 * little however many partners there are. */
static int decide(tr_txn *t, const tr_partner *p, const tr_record *rec, const uint8_t posb[8],
                  uint32_t source, unsigned depth, int how, decision *d)
{
	const struct share_rules *r = t->rules;
	size_t pi = (size_t)(p - r->partners);
	int matched = 0;
	uint32_t mask = 0;
	grant_entry g;
	memset(d, 0, sizeof(*d));
	memset(&g, 0, sizeof(g));
	if (source == p->index) {
		d->why = TR_SHARE_SOURCE;
		return 0;
	}
	if (!memcmp(rec->author, p->id, TR_PK_BYTES)) {
		d->why = TR_SHARE_AUTHOR;
		return 0;
	}
	if (how == DECIDE_TERMS) {
		matched = 1;
		mask = ALL_FIELDS;
	} else if (!grant_only(rec)) {
		for (size_t i = r->rfirst[pi]; i < r->rfirst[pi] + r->rcount[pi]; i++)
			if (rule_matches(t, &r->rules[i], p, rec, depth)) {
				matched = 1;
				mask |= rule_bits(&r->rules[i], rec);
			}
		if (r->extra && rule_matches(t, r->extra, p, rec, depth)) {
			matched = 1;
			mask |= rule_bits(r->extra, rec);
		}
	}
	if (posb && (how == DECIDE_FULL || how == DECIDE_AGAIN)) {
		int rc = grant_get(t, p->index, posb, &g);
		if (rc == 0 && g.has) {
			matched = 1;
			mask |= g.fields;
		} else if (rc && rc != MDB_NOTFOUND)
			return rc;
	}
	if (!matched) {
		d->why = grant_only(rec) ? TR_SHARE_GRANT_ONLY : TR_SHARE_NO_RULE;
		return 0;
	}
	if (depth > 0 && (d->why = terms_allow(t, p, rec, depth, d)) != TR_SHARE_OK)
		return 0;
	d->allowed = 1;
	/* only what this node holds can go; never what it retracted from the partner */
	d->fields = mask & disclosed_bits(rec) & ~d->blocked & ~g.withheld;
	return 0;
}

/* ---- outbound queues ---- */

static int queue_next(tr_txn *t, size_t pi, uint64_t *next)
{
	struct share_rules *r = t->rules;
	if (!r->qnext[pi]) {
		uint8_t kb[12];
		put_be32(kb, r->partners[pi].index + 1);
		memset(kb + 4, 0, 8);
		MDB_cursor *c;
		MDB_val k = {12, kb}, v;
		int rc = mdb_cursor_open(t->txn, t->s->dbi[DB_OUTQ], &c);
		if (rc)
			return rc;
		rc = mdb_cursor_get(c, &k, &v, MDB_SET_RANGE);
		if (rc == 0 || rc == MDB_NOTFOUND)
			rc = mdb_cursor_get(c, &k, &v, rc == 0 ? MDB_PREV : MDB_LAST);
		r->qnext[pi] = 1;
		if (rc == 0 && k.mv_size == 12 && get_be32(k.mv_data) == r->partners[pi].index)
			r->qnext[pi] = get_be64((const uint8_t *)k.mv_data + 4) + 1;
		mdb_cursor_close(c);
		if (rc && rc != MDB_NOTFOUND)
			return rc;
	}
	*next = r->qnext[pi];
	return 0;
}

/* What partner was given of the record at posb: 0 and *mask, or MDB_NOTFOUND. */
static int outset_get(tr_txn *t, uint32_t partner, const uint8_t posb[8], uint64_t *qpos,
                      uint32_t *mask)
{
	uint8_t sk[12];
	put_be32(sk, partner);
	memcpy(sk + 4, posb, 8);
	MDB_val k = {12, sk}, v;
	int rc = mdb_get(t->txn, t->s->dbi[DB_OUTSET], &k, &v);
	if (rc)
		return rc;
	if (v.mv_size != 8 && v.mv_size != 12)
		return TR_ECORRUPT;
	if (qpos)
		*qpos = get_be64(v.mv_data);
	/* 8 bytes: queued by schema 2, which sent whole records */
	*mask = v.mv_size == 12 ? get_be32((const uint8_t *)v.mv_data + 8) : ALL_FIELDS;
	return 0;
}

static int outset_put(tr_txn *t, uint32_t partner, const uint8_t posb[8], uint64_t qpos,
                      uint32_t mask)
{
	uint8_t sk[12], val[12];
	put_be32(sk, partner);
	memcpy(sk + 4, posb, 8);
	put_be64(val, qpos);
	put_be32(val + 8, mask);
	MDB_val k = {12, sk}, v = {12, val};
	return mdb_put(t->txn, t->s->dbi[DB_OUTSET], &k, &v, 0);
}

/* Appends posb to partner pi's queue, unless the partner was given it already with at
 * least these fields. *queued counts appends. */
static int enqueue(tr_txn *t, size_t pi, const uint8_t posb[8], uint32_t mask, uint64_t *queued)
{
	uint32_t partner = t->rules->partners[pi].index, had = 0;
	uint64_t q, oldq;
	int rc = outset_get(t, partner, posb, &oldq, &had);
	if (rc == 0 && !(mask & ~had))
		return 0;
	if (rc && rc != MDB_NOTFOUND)
		return rc;
	if ((rc = queue_next(t, pi, &q)) != 0)
		return rc;
	if ((rc = outset_put(t, partner, posb, q, had | mask)) != 0)
		return rc;
	uint8_t qk[12];
	put_be32(qk, partner);
	put_be64(qk + 4, q);
	MDB_val k = {12, qk}, v = {8, (void *)posb};
	/* not MDB_APPEND: partners share the table, and another partner's entries may sort
	 * after this one's end */
	if ((rc = mdb_put(t->txn, t->s->dbi[DB_OUTQ], &k, &v, 0)) != 0)
		return rc;
	t->rules->qnext[pi] = q + 1;
	if (queued)
		(*queued)++;
	return 0;
}

static int decide_enqueue(tr_txn *t, size_t pi, const uint8_t posb[8], const tr_record *rec,
                          uint32_t source, unsigned depth, int how, uint64_t *queued, int *sent)
{
	decision d;
	int rc = decide(t, &t->rules->partners[pi], rec, posb, source, depth, how, &d);
	if (rc || !d.allowed)
		return rc;
	if (sent)
		*sent = 1;
	if (how == DECIDE_AGAIN) {
		uint32_t partner = t->rules->partners[pi].index, had;
		uint64_t q, acked;
		if ((rc = outset_get(t, partner, posb, &q, &had)) == 0 &&
		    (rc = tr_txn_acked_get(t, partner, &acked)) == 0 && q <= acked &&
		    (rc = outset_put(t, partner, posb, q, 0)) != 0)
			return rc;
		if (rc && rc != MDB_NOTFOUND)
			return rc;
	}
	return enqueue(t, pi, posb, d.fields, queued);
}

/* ---- records this node writes itself ---- */

/* Writes a record of this node (kind, one ref, name=value pairs: NULL values are left
 * out) and grants it to partner. Needs the store's key. */
static int write_for(tr_txn *t, const char *kind, const uint8_t ref[TR_ID_BYTES], uint32_t partner,
                     const char *const *kv, size_t nkv, uint64_t now_ms)
{
	if (!t->s->key)
		return 0;
	tr_record *rec = malloc(sizeof(*rec));
	if (!rec)
		return ENOMEM;
	tr_record_init(rec);
	rec->kind.p = kind;
	rec->kind.n = strlen(kind);
	rec->nrefs = 1;
	memcpy(rec->refs[0], ref, TR_ID_BYTES);
	int rc = 0;
	for (size_t i = 0; i + 1 < nkv && !rc; i += 2)
		if (kv[i + 1])
			rc = tr_record_add_str(rec, kv[i], kv[i + 1], strlen(kv[i + 1]));
	tr_mpw w;
	char why[200];
	tr_mpw_init(&w);
	if (!rc)
		rc = tr_txn_create(t, t->s->key, rec, now_ms, &w, why, sizeof(why));
	uint8_t id[TR_ID_BYTES];
	memcpy(id, rec->id, TR_ID_BYTES);
	tr_mpw_release(&w);
	free(rec);
	if (rc)
		return rc;
	MDB_val k = {TR_ID_BYTES, id}, v;
	if ((rc = mdb_get(t->txn, t->s->dbi[DB_ID], &k, &v)) != 0)
		return rc;
	uint8_t posb[8];
	grant_entry g = {1, ALL_FIELDS, 0};
	memcpy(posb, v.mv_data, 8);
	if ((rc = grant_put(t, partner, posb, &g)) != 0)
		return rc;
	size_t pi;
	if ((rc = partner_slot(t, partner, &pi)) != 0)
		return rc == TR_ENOTFOUND ? 0 : rc;
	return enqueue(t, pi, posb, ALL_FIELDS, NULL);
}

/* Names of the fields in bits, comma-separated; "" for none. */
static void bit_names(const tr_record *rec, uint32_t bits, char *out, size_t n)
{
	size_t o = 0;
	out[0] = '\0';
	for (size_t i = 0; i < rec->nfields && o + 1 < n; i++)
		if (bits & (1u << i))
			o += (size_t)snprintf(out + o, n - o, "%s%.*s", o ? "," : "",
			                      (int)rec->fields[i].name.n, rec->fields[i].name.p);
}

/* A retraction of rec for partner: of the fields in bits, or all of it (whole). */
static int retract_for(tr_txn *t, const tr_record *rec, uint32_t partner, int whole, uint32_t bits,
                       const char *reason, uint64_t now_ms)
{
	const tr_partner *p = partner_by_index(t, partner);
	char to[TR_NODEID_TEXT_SIZE], names[1100];
	if (!p)
		return 0;
	tr_nodeid_format(p->id, to);
	uint8_t id[TR_ID_BYTES];
	memcpy(id, rec->id, TR_ID_BYTES);
	if (whole) {
		const char *kv[] = {"reason", reason, "to", to};
		return write_for(t, "retraction", id, partner, kv, 4, now_ms);
	}
	/* the names of the fields, in as many retractions as they need (a field value
	 * holds 1000 bytes, 31 names of 32 bytes do not fit one) */
	while (bits) {
		uint32_t part = 0;
		size_t n = 0;
		for (size_t i = 0; i < rec->nfields; i++)
			if ((bits & (1u << i)) && n + rec->fields[i].name.n + 1 <= 1000) {
				part |= 1u << i;
				n += rec->fields[i].name.n + 1;
			}
		bit_names(rec, part, names, sizeof(names));
		const char *kv[] = {"reason", reason, "fields", names, "to", to};
		int rc = write_for(t, "retraction", id, partner, kv, 6, now_ms);
		if (rc)
			return rc;
		bits &= ~part;
	}
	return 0;
}

/* ---- a record stored ---- */

static int inbox_put(tr_txn *t, const uint8_t posb[8], uint32_t source)
{
	uint8_t sb[4];
	put_be32(sb, source);
	MDB_val k = {8, (void *)posb}, v = {4, sb};
	return mdb_put(t->txn, t->s->dbi[DB_INBOX], &k, &v, 0);
}

static int inbox_del(tr_txn *t, const uint8_t posb[8])
{
	MDB_val k = {8, (void *)posb};
	int rc = mdb_del(t->txn, t->s->dbi[DB_INBOX], &k, NULL);
	return rc == MDB_NOTFOUND ? 0 : rc;
}

static int honour_retraction(tr_txn *t, const tr_record *x, uint32_t source);

/* A record this node writes in answer to a partner's (a receipt, a retraction passed
 * on) that does not validate is a fault of this node, not the partner's: it stays
 * unwritten rather than the partner's whole batch refused. */
static int answer(tr_txn *t, int rc)
{
	(void)t;
	return rc == TR_ESCHEMA || rc == TR_EREF ? 0 : rc;
}

/* A consent arrived: what its author's records waited for may go now. Reads only that
 * author's records (by_author). */
static int consent_backfill(tr_txn *t, const uint8_t author_[TR_PK_BYTES], unsigned purposes)
{
	uint8_t author[TR_PK_BYTES];
	memcpy(author, author_, TR_PK_BYTES);
	MDB_cursor *c;
	MDB_val kk = {TR_PK_BYTES, author}, pv;
	tr_record *rec = malloc(sizeof(*rec));
	uint8_t *copy = malloc(TR_MAX_RECORD_BYTES);
	int rc = rec && copy ? mdb_cursor_open(t->txn, t->s->dbi[DB_AUTHOR], &c) : ENOMEM;
	if (rc) {
		free(rec);
		free(copy);
		return rc;
	}
	for (rc = mdb_cursor_get(c, &kk, &pv, MDB_SET_KEY); rc == 0;
	     rc = mdb_cursor_get(c, &kk, &pv, MDB_NEXT_DUP)) {
		const uint8_t *env;
		size_t len;
		uint32_t source;
		uint8_t flags, posb[8];
		if (pv.mv_size != 8) {
			rc = TR_ECORRUPT;
			break;
		}
		memcpy(posb, pv.mv_data, 8);
		if ((rc = store_rec_at(t, posb, &env, &len, &source, &flags)) != 0)
			break;
		if (len > TR_MAX_RECORD_BYTES) {
			rc = TR_ECORRUPT;
			break;
		}
		memcpy(copy, env, len); /* queueing writes; the map's bytes may move */
		if (tr_record_decode(copy, len, rec) != 0) {
			rc = TR_ECORRUPT;
			break;
		}
		if (!(purpose_of(rec) & purposes))
			continue;
		/* what a partner pulled past while it could not have it goes again */
		for (size_t i = 0; i < t->rules->npartners && !rc; i++)
			rc = decide_enqueue(t, i, posb, rec, source, flags & REC_DEPTH_MASK,
			                    DECIDE_AGAIN, NULL, NULL);
		if (rc)
			break;
	}
	mdb_cursor_close(c);
	free(rec);
	free(copy);
	return rc == MDB_NOTFOUND ? 0 : rc;
}

int share_stored(tr_txn *t, const uint8_t posb_[8], const tr_record *rec, uint32_t source,
                 unsigned depth, int added)
{
	uint8_t posb[8];
	memcpy(posb, posb_, 8); /* posb_ may point into the map, which writes move */
	int rc = rules_load(t), sent = 0;
	if (rc)
		return rc;
	for (size_t i = 0; i < t->rules->npartners; i++)
		if ((rc = decide_enqueue(t, i, posb, rec, source, depth,
		                         added ? DECIDE_NEW : DECIDE_FULL, NULL, &sent)) != 0)
			return rc;
	if (!added || source == TR_SOURCE_LOCAL || source == TR_SOURCE_IMPORT)
		return 0;
	/* received from a partner */
	const tr_partner *from = partner_by_index(t, source);
	int from_author = from && !memcmp(from->id, rec->author, TR_PK_BYTES);
	if (name_eq(rec->kind, "consent")) {
		unsigned purposes;
		if (!from_author || (rc = consent_received(t, rec, &purposes)) != 0)
			return rc;
		return purposes ? consent_backfill(t, rec->author, purposes) : 0;
	}
	if (name_eq(rec->kind, "retraction"))
		return from_author ? honour_retraction(t, rec, source) : 0;
	if (!sent && !grant_only(rec) && depth < TR_DEPTH_MAX && depth <= rec->terms.hops &&
	    rec->terms.roles)
		return inbox_put(t, posb, source); /* it could go on: the admin decides */
	return 0;
}

/* A retraction x from the partner source, which wrote it. Honoured when it is for this
 * node (or for everyone) and its author wrote the record or passed it to this node:
 * the named disclosures (all if none are named) are deleted here, retracted in turn
 * from the partners this node passed the record to, and a receipt goes back. */
static int honour_retraction(tr_txn *t, const tr_record *x, uint32_t source)
{
	const tr_field *to = tr_record_field(x, "to");
	const tr_field *fl = tr_record_field(x, "fields");
	char text[TR_NODEID_TEXT_SIZE + 8];
	uint8_t whom[TR_PK_BYTES], xid[TR_ID_BYTES], posb[8];
	uint64_t now = tr_wall_ms();
	int rc;
	if (x->nrefs != 1)
		return 0;
	if (to && to->disclosed && to->value.type == TR_VAL_STR) {
		if (to->value.s.n >= sizeof(text))
			return 0;
		memcpy(text, to->value.s.p, to->value.s.n);
		text[to->value.s.n] = '\0';
		if (tr_nodeid_parse(text, whom) != 0 || memcmp(whom, t->s->node, TR_PK_BYTES) != 0)
			return 0;
	}
	memcpy(xid, x->id, TR_ID_BYTES);
	MDB_val k = {TR_ID_BYTES, (void *)x->refs[0]}, v;
	rc = mdb_get(t->txn, t->s->dbi[DB_ID], &k, &v);
	if (rc == MDB_NOTFOUND) {
		const char *kv[] = {"result", "not_held"};
		return answer(t, write_for(t, "receipt", xid, source, kv, 2, now));
	}
	if (rc)
		return rc;
	memcpy(posb, v.mv_data, 8);
	const uint8_t *env;
	size_t len;
	uint32_t rsource;
	uint8_t flags;
	if ((rc = store_rec_at(t, posb, &env, &len, &rsource, &flags)) != 0)
		return rc;
	tr_record *r = malloc(sizeof(*r));
	uint8_t *copy = malloc(len);
	if (!r || !copy) {
		free(r);
		free(copy);
		return ENOMEM;
	}
	memcpy(copy, env, len); /* the rewrite below moves the map's bytes */
	if (tr_record_decode(copy, len, r) != 0) {
		rc = TR_ECORRUPT;
		goto out;
	}
	if (memcmp(r->author, x->author, TR_PK_BYTES) != 0 && rsource != source)
		goto out; /* neither wrote it nor passed it here: not theirs to retract */
	if (name_eq(r->kind, "consent") && !memcmp(r->author, x->author, TR_PK_BYTES)) {
		/* a consent withdrawn by its author: it ends at once; what was consented
		 * to, and when, stays on record here */
		const char *kv[] = {"result", "noted"};
		if ((rc = consent_withdrawn(t, r->author, r->id)) == 0)
			rc = answer(t, write_for(t, "receipt", xid, source, kv, 2, now));
		goto out;
	}
	uint32_t bits = 0;
	int whole = !(fl && fl->disclosed && fl->value.type == TR_VAL_STR && fl->value.s.n);
	for (size_t i = 0; i < r->nfields; i++) {
		int named = whole;
		const char *p = whole ? NULL : fl->value.s.p, *e = whole ? NULL : p + fl->value.s.n;
		while (p && p < e && !named) {
			const char *c = memchr(p, ',', (size_t)(e - p));
			size_t n = c ? (size_t)(c - p) : (size_t)(e - p);
			named = n == r->fields[i].name.n && !memcmp(p, r->fields[i].name.p, n);
			p = c ? c + 1 : e;
		}
		if (named)
			bits |= 1u << i;
	}
	/* what goes now: only what is still here (a repeat or a field it never had deletes
	 * nothing, and is answered without passing anything on) */
	const tr_field *prod = tr_record_field(r, "product");
	int prod_gone = 0;
	uint32_t gone = 0;
	for (size_t i = 0; i < r->nfields; i++)
		if ((bits & (1u << i)) && r->fields[i].disclosed) {
			r->fields[i].disclosed = 0;
			gone |= 1u << i;
			prod_gone |= &r->fields[i] == prod;
		}
	if (gone) {
		tr_mpw w;
		uint8_t one = 1;
		tr_mpw_init(&w);
		rc = tr_record_encode(r, &w);
		if (!rc)
			rc = store_rec_rewrite(t, posb, tr_mpw_data(&w), tr_mpw_size(&w),
			                       (uint8_t)(flags | REC_RETRACTED));
		tr_mpw_release(&w);
		/* the deleted bytes stay in freed pages until the store is compacted */
		if (!rc)
			rc = store_meta_put(t, "scrub", &one, 1);
		t->s->scrub = 1;
	}
	if (!rc && prod_gone && prod->value.type == TR_VAL_STR && prod->value.s.n &&
	    prod->value.s.n <= 511) {
		MDB_val pk = {prod->value.s.n, (void *)prod->value.s.p}, pv = {8, posb};
		rc = mdb_del(t->txn, t->s->dbi[DB_PRODUCT], &pk, &pv);
		if (rc == MDB_NOTFOUND)
			rc = 0;
	}
	if (!rc)
		rc = inbox_del(t, posb);
	/* the partners this node passed those fields to lose them too, whatever the rules
	 * say now (it may hold what an older rule sent it) */
	for (size_t i = 0; !rc && gone && i < t->rules->npartners; i++) {
		uint32_t pidx = t->rules->partners[i].index, had;
		uint64_t q;
		if (pidx == source)
			continue;
		rc = outset_get(t, pidx, posb, &q, &had);
		if (rc == MDB_NOTFOUND) {
			rc = 0;
			continue;
		}
		if (!rc && (had & gone)) {
			rc = outset_put(t, pidx, posb, q, had & ~gone);
			if (!rc)
				rc = answer(t,
				            retract_for(t, r, pidx, whole, gone, "passed on", now));
		}
	}
	if (!rc) {
		const char *kv[] = {"result", "deleted"};
		rc = answer(t, write_for(t, "receipt", xid, source, kv, 2, now));
	}
out:
	free(r);
	free(copy);
	return rc;
}

/* ---- rules: the admin's changes ---- */

/* The records a rule could match: through the product index when the rule names its
 * products exactly (product=A or product=A|B, no * or ?), else every record of its
 * kind. fn is called with each one's position; it returns non-zero to stop. */
static int each_candidate(tr_txn *t, const char *kind, const tr_rule *r,
                          int (*fn)(tr_txn *t, const uint8_t posb[8], void *ctx), void *ctx)
{
	const char *exact = NULL;
	for (size_t i = 0; r && i < r->nconds && !exact; i++)
		if (!strcmp(r->conds[i].field, "product") && !strpbrk(r->conds[i].pattern, "*?"))
			exact = r->conds[i].pattern;
	MDB_cursor *c;
	MDB_val kk, pv;
	int rc = mdb_cursor_open(t->txn, t->s->dbi[exact ? DB_PRODUCT : DB_KIND], &c);
	if (rc)
		return rc;
	for (const char *p = exact ? exact : kind; p && !rc;) {
		const char *bar = exact ? strchr(p, '|') : NULL;
		kk.mv_size = bar ? (size_t)(bar - p) : strlen(p);
		kk.mv_data = (void *)p;
		p = bar ? bar + 1 : NULL;
		if (kk.mv_size == 0 || kk.mv_size > 511)
			continue;
		for (rc = mdb_cursor_get(c, &kk, &pv, MDB_SET_KEY); rc == 0;
		     rc = mdb_cursor_get(c, &kk, &pv, MDB_NEXT_DUP)) {
			uint8_t posb[8];
			if (pv.mv_size != 8) {
				rc = TR_ECORRUPT;
				break;
			}
			memcpy(posb, pv.mv_data, 8);
			if ((rc = fn(t, posb, ctx)) != 0)
				break;
		}
		if (rc == MDB_NOTFOUND)
			rc = 0;
	}
	mdb_cursor_close(c);
	return rc;
}

struct backfill_ctx {
	size_t pi;
	const char *kind;
	uint64_t *queued;
	int how; /* DECIDE_FULL, or DECIDE_AGAIN after the partner's role changed */
};

static int backfill_one(tr_txn *t, const uint8_t posb[8], void *vctx)
{
	struct backfill_ctx *b = vctx;
	const uint8_t *env;
	size_t len;
	uint32_t source;
	uint8_t flags;
	tr_record *rec = &t->scratch_rec;
	int rc = store_rec_at(t, posb, &env, &len, &source, &flags);
	if (rc)
		return rc == MDB_NOTFOUND ? TR_ECORRUPT : rc; /* an index entry for no record */
	if (tr_record_decode(env, len, rec) != 0)
		return TR_ECORRUPT;
	if (!name_eq(rec->kind, b->kind))
		return 0; /* the same product, another kind */
	return decide_enqueue(t, b->pi, posb, rec, source, flags & REC_DEPTH_MASK, b->how,
	                      b->queued, NULL);
}

/* Queues for partner pi what it may have now of the records rule r (or, with r NULL,
 * any rule of kind) could match: only what it was not given before. */
static int backfill(tr_txn *t, size_t pi, const char *kind, const tr_rule *r, uint64_t *queued)
{
	struct backfill_ctx b = {pi, kind, queued, r ? DECIDE_FULL : DECIDE_AGAIN};
	return each_candidate(t, kind, r, backfill_one, &b);
}

static int rule_put(tr_txn *t, tr_rule *r)
{
	MDB_val v;
	uint64_t next = 1;
	if (store_meta_get(t, "rule_next", &v) == 0 && v.mv_size == 8)
		next = get_be64(v.mv_data);
	if (next > UINT32_MAX)
		return TR_ETOOBIG;
	uint8_t nb[8], kb[4];
	put_be64(nb, next + 1);
	int rc = store_meta_put(t, "rule_next", nb, 8);
	if (rc)
		return rc;
	r->id = (uint32_t)next;
	if ((rc = bump_version(t)) != 0 || (rc = tr_txn_policy_version(t, &r->version)) != 0)
		return rc;
	put_be32(kb, r->id);
	tr_mpw w;
	tr_mpw_init(&w);
	rc = rule_encode(r, &w);
	if (!rc) {
		MDB_val k = {4, kb};
		v = (MDB_val){tr_mpw_size(&w), (void *)tr_mpw_data(&w)};
		rc = mdb_put(t->txn, t->s->dbi[DB_RULES], &k, &v, MDB_NOOVERWRITE);
	}
	tr_mpw_release(&w);
	share_rules_free(t); /* decisions from here on see it */
	return rc;
}

int tr_txn_rule_add(tr_txn *t, tr_rule *r, uint64_t now_ms, uint64_t *backfilled, char *why,
                    size_t whylen)
{
	size_t pi;
	*backfilled = 0;
	int rc = tr_rule_check(r, why, whylen);
	if (rc)
		return rc;
	if ((rc = partner_slot(t, r->partner, &pi)) != 0)
		return store_map_err(rc);
	r->created_ms = now_ms;
	if ((rc = rule_put(t, r)) != 0 || (rc = partner_slot(t, r->partner, &pi)) != 0)
		return store_map_err(rc);
	/* the records of that kind already here: only what the partner was not given */
	return store_map_err(backfill(t, pi, r->kind, r, backfilled));
}

int tr_txn_share_refresh(tr_txn *t, uint32_t partner, uint64_t *queued)
{
	size_t pi;
	*queued = 0;
	share_rules_free(t); /* the partner may have changed in this transaction */
	int rc = partner_slot(t, partner, &pi);
	for (size_t i = 0; !rc && i < t->rules->nrules; i++) {
		const tr_rule *r = &t->rules->rules[i];
		size_t j;
		if (r->partner != partner)
			continue;
		for (j = 0; j < i; j++) /* each kind once */
			if (t->rules->rules[j].partner == partner &&
			    !strcmp(t->rules->rules[j].kind, r->kind))
				break;
		if (j == i)
			rc = backfill(t, pi, r->kind, NULL, queued);
	}
	return store_map_err(rc);
}

int tr_txn_rule_get(tr_txn *t, uint32_t id, tr_rule *r)
{
	uint8_t kb[4];
	put_be32(kb, id);
	MDB_val k = {4, kb}, v;
	int rc = mdb_get(t->txn, t->s->dbi[DB_RULES], &k, &v);
	if (rc)
		return store_map_err(rc);
	return rule_decode(&k, &v, r);
}

int tr_txn_rule_scan(tr_txn *t, uint32_t partner, int (*cb)(void *ctx, const tr_rule *r), void *ctx)
{
	MDB_cursor *c;
	MDB_val k, v;
	tr_rule r;
	int rc = mdb_cursor_open(t->txn, t->s->dbi[DB_RULES], &c);
	if (rc)
		return store_map_err(rc);
	for (rc = mdb_cursor_get(c, &k, &v, MDB_FIRST); rc == 0;
	     rc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
		if ((rc = rule_decode(&k, &v, &r)) != 0)
			break;
		if (partner && r.partner != partner)
			continue;
		if ((rc = cb(ctx, &r)) != 0)
			break;
	}
	mdb_cursor_close(c);
	return store_map_err(rc == MDB_NOTFOUND ? 0 : rc);
}

struct narrow {
	uint8_t posb[8];
	uint64_t q;
	uint32_t had;
};

/* After a rule or grant of partner went: decide again each record of kind (NULL: one
 * record, only) the partner was given, note what it may no longer have, and retract
 * that if asked. */
struct narrow_list {
	uint32_t partner;
	struct narrow *v;
	size_t n, cap;
};

/* A candidate the partner was given: on the list. */
static int narrow_add(tr_txn *t, const uint8_t posb[8], void *vctx)
{
	struct narrow_list *l = vctx;
	uint64_t q;
	uint32_t had;
	int rc = outset_get(t, l->partner, posb, &q, &had);
	if (rc)
		return rc == MDB_NOTFOUND ? 0 : rc;
	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 64;
		struct narrow *nv = realloc(l->v, cap * sizeof(*nv));
		if (!nv)
			return ENOMEM;
		l->v = nv;
		l->cap = cap;
	}
	memcpy(l->v[l->n].posb, posb, 8);
	l->v[l->n].q = q;
	l->v[l->n++].had = had;
	return 0;
}

static int narrow_partner(tr_txn *t, uint32_t partner, const char *kind, const tr_rule *gone,
                          const uint8_t *only, int retract, uint64_t now_ms, uint64_t *narrowed,
                          uint64_t *retracted)
{
	size_t pi, n;
	struct narrow *list;
	struct narrow_list l = {partner, NULL, 0, 0};
	int rc = partner_slot(t, partner, &pi);
	if (rc)
		return rc;
	/* only records the rule that went could have matched (or the one record) */
	rc = only ? narrow_add(t, only, &l) : each_candidate(t, kind, gone, narrow_add, &l);
	list = l.v;
	n = l.n;
	tr_record *rec = malloc(sizeof(*rec));
	uint8_t *copy = malloc(TR_MAX_RECORD_BYTES);
	uint64_t acked = 0;
	if (!rec || !copy)
		rc = rc ? rc : ENOMEM;
	if (!rc)
		rc = tr_txn_acked_get(t, partner, &acked);
	for (size_t i = 0; i < n && !rc; i++) {
		const uint8_t *env;
		size_t len;
		uint32_t source;
		uint8_t flags;
		decision d;
		if ((rc = store_rec_at(t, list[i].posb, &env, &len, &source, &flags)) != 0)
			break;
		if (len > TR_MAX_RECORD_BYTES) {
			rc = TR_ECORRUPT;
			break;
		}
		memcpy(copy, env, len);
		if (tr_record_decode(copy, len, rec) != 0) {
			rc = TR_ECORRUPT;
			break;
		}
		if (kind && !name_eq(rec->kind, kind))
			continue;
		if ((rc = decide(t, &t->rules->partners[pi], rec, list[i].posb, source,
		                 flags & REC_DEPTH_MASK, DECIDE_FULL, &d)) != 0)
			break;
		uint32_t keep = d.allowed ? d.fields : 0,
		         lost = list[i].had & all_bits(rec) & ~keep;
		if (d.allowed && !lost)
			continue;
		if (narrowed)
			(*narrowed)++;
		/* what the partner pulled already it holds, unless it is retracted; what it did
		 * not pull yet it will get narrowed, so widening again must queue it again */
		if ((retract || list[i].q > acked) &&
		    (rc = outset_put(t, partner, list[i].posb, list[i].q, list[i].had & keep)) != 0)
			break;
		if (retract) {
			rc = retract_for(t, rec, partner, !d.allowed, lost,
			                 "no longer shared with you", now_ms);
			if (!rc && retracted)
				(*retracted)++;
		}
	}
	free(rec);
	free(copy);
	free(list);
	return rc;
}

int tr_txn_rule_remove(tr_txn *t, uint32_t id, int retract, uint64_t now_ms, uint64_t *narrowed,
                       uint64_t *retracted)
{
	tr_rule r;
	uint8_t kb[4];
	*narrowed = *retracted = 0;
	int rc = tr_txn_rule_get(t, id, &r);
	if (rc)
		return rc;
	put_be32(kb, id);
	MDB_val k = {4, kb};
	if ((rc = mdb_del(t->txn, t->s->dbi[DB_RULES], &k, NULL)) != 0 ||
	    (rc = bump_version(t)) != 0)
		return store_map_err(rc);
	share_rules_free(t);
	rc = narrow_partner(t, r.partner, r.kind, &r, NULL, retract, now_ms, narrowed, retracted);
	return store_map_err(rc == TR_ENOTFOUND ? 0 : rc);
}

struct same_ctx {
	uint32_t partner;
	const char *kind;
	int found;
	uint32_t ids[64];
	size_t n;
};

static int same_cb(void *vctx, const tr_rule *r)
{
	struct same_ctx *c = vctx;
	if (r->partner != c->partner || strcmp(r->kind, c->kind))
		return 0;
	if (r->all_fields && !r->nconds && r->flags == TR_RULE_FORWARD)
		c->found = 1;
	if (c->n < 64)
		c->ids[c->n++] = r->id;
	return 0;
}

int tr_txn_policy_allow(tr_txn *t, uint32_t partner, const char *kind, uint64_t now_ms,
                        uint64_t *backfilled)
{
	struct same_ctx c = {partner, kind, 0, {0}, 0};
	tr_rule r;
	char why[200];
	*backfilled = 0;
	int rc = tr_txn_rule_scan(t, partner, same_cb, &c);
	if (rc)
		return rc;
	if (c.found)
		return TR_EEXIST;
	memset(&r, 0, sizeof(r));
	r.partner = partner;
	snprintf(r.kind, sizeof(r.kind), "%s", kind);
	r.all_fields = 1;
	r.flags = TR_RULE_FORWARD;
	return tr_txn_rule_add(t, &r, now_ms, backfilled, why, sizeof(why));
}

int tr_txn_policy_deny(tr_txn *t, uint32_t partner, const char *kind)
{
	uint64_t narrowed, retracted;
	for (int round = 0;; round++) {
		/* up to 64 rules a round, until none is left */
		struct same_ctx c = {partner, kind, 0, {0}, 0};
		int rc = tr_txn_rule_scan(t, partner, same_cb, &c);
		if (rc)
			return rc;
		if (!c.n)
			return round ? 0 : TR_ENOTFOUND;
		for (size_t i = 0; i < c.n && !rc; i++)
			rc = tr_txn_rule_remove(t, c.ids[i], 0, 0, &narrowed, &retracted);
		if (rc)
			return rc;
	}
}

/* ---- grants, inbox, retraction ---- */

static int record_pos(tr_txn *t, const uint8_t id[TR_ID_BYTES], uint8_t posb[8])
{
	MDB_val k = {TR_ID_BYTES, (void *)id}, v;
	int rc = mdb_get(t->txn, t->s->dbi[DB_ID], &k, &v);
	if (rc)
		return store_map_err(rc);
	if (v.mv_size != 8)
		return TR_ECORRUPT;
	memcpy(posb, v.mv_data, 8);
	return 0;
}

/* Bits of the named fields of rec; TR_EINVAL with why for a name it lacks. */
static int names_bits(const tr_record *rec, const char fields[][TR_MAX_NAME + 1], size_t n,
                      uint32_t *bits, char *why, size_t whylen)
{
	*bits = n ? 0 : all_bits(rec);
	for (size_t j = 0; j < n; j++) {
		size_t i;
		for (i = 0; i < rec->nfields; i++)
			if (name_eq(rec->fields[i].name, fields[j]))
				break;
		if (i == rec->nfields) {
			snprintf(why, whylen, "the record has no field \"%.40s\"", fields[j]);
			return TR_EINVAL;
		}
		*bits |= 1u << i;
	}
	return 0;
}

static int grant_decoded(tr_txn *t, uint32_t partner, size_t pi, const uint8_t posb[8],
                         const tr_record *rec, uint32_t source, uint8_t flags,
                         const char fields[][TR_MAX_NAME + 1], size_t nfields, char *why,
                         size_t whylen)
{
	uint32_t bits;
	decision d;
	int rc;
	if ((rc = names_bits(rec, fields, nfields, &bits, why, whylen)) != 0)
		return rc;
	grant_entry g;
	if ((rc = grant_get(t, partner, posb, &g)) != 0 && rc != MDB_NOTFOUND)
		return store_map_err(rc);
	g.fields = (g.has ? g.fields : 0) | bits;
	g.has = 1;
	g.withheld &= ~bits; /* granting a field again lifts its retraction */
	if ((rc = grant_put(t, partner, posb, &g)) != 0 || (rc = bump_version(t)) != 0)
		return store_map_err(rc);
	const tr_partner *p = &t->rules->partners[pi];
	if ((rc = decide(t, p, rec, posb, source, flags & REC_DEPTH_MASK, DECIDE_FULL, &d)) != 0)
		return store_map_err(rc);
	if (!d.allowed) {
		/* and where it could go: the partners its terms and consent allow */
		char ok[300] = "";
		size_t o = 0;
		for (size_t i = 0; i < t->rules->npartners && o < sizeof(ok); i++) {
			decision e;
			if (i == pi || (rc = decide(t, &t->rules->partners[i], rec, posb, source,
			                            flags & REC_DEPTH_MASK, DECIDE_TERMS, &e)) != 0)
				continue;
			if (e.allowed)
				o += (size_t)snprintf(ok + o, sizeof(ok) - o, "%s%s", o ? ", " : "",
				                      t->rules->partners[i].name);
		}
		snprintf(why, whylen, "it cannot go to %s: %s; %s%s", p->name, tr_share_why(d.why),
		         o ? "it may go to: " : "it may go to no other partner of this node", ok);
		return TR_EPERM;
	}
	if (nfields && (bits & d.blocked)) {
		char names[400];
		bit_names(rec, bits & d.blocked, names, sizeof(names));
		snprintf(why, whylen,
		         "its author keeps %s to its first partner: those fields cannot go on "
		         "(leave them out of --fields)",
		         names);
		return TR_EPERM;
	}
	if ((rc = enqueue(t, pi, posb, d.fields, NULL)) != 0 || (rc = inbox_del(t, posb)) != 0)
		return store_map_err(rc);
	return 0;
}

int tr_txn_grant(tr_txn *t, uint32_t partner, const uint8_t id[TR_ID_BYTES],
                 const char fields[][TR_MAX_NAME + 1], size_t nfields, char *why, size_t whylen)
{
	uint8_t posb[8], flags;
	const uint8_t *env;
	size_t len, pi;
	uint32_t source;
	int rc = record_pos(t, id, posb);
	if (rc)
		return rc;
	if ((rc = partner_slot(t, partner, &pi)) != 0)
		return store_map_err(rc);
	if ((rc = store_rec_at(t, posb, &env, &len, &source, &flags)) != 0)
		return store_map_err(rc);
	/* decoded from a copy: granting writes, and the map's bytes may move */
	uint8_t *copy = malloc(len ? len : 1);
	if (!copy)
		return ENOMEM;
	memcpy(copy, env, len);
	tr_record *rec = &t->scratch_rec;
	rc = tr_record_decode(copy, len, rec) != 0
	         ? TR_ECORRUPT
	         : grant_decoded(t, partner, pi, posb, rec, source, flags, fields, nfields, why,
	                         whylen);
	free(copy);
	return rc;
}

int tr_txn_grant_revoke(tr_txn *t, uint32_t partner, const uint8_t id[TR_ID_BYTES], int retract,
                        uint64_t now_ms, uint64_t *retracted)
{
	uint8_t posb[8];
	uint64_t narrowed = 0;
	*retracted = 0;
	int rc = record_pos(t, id, posb);
	if (rc)
		return rc;
	grant_entry g;
	if ((rc = grant_get(t, partner, posb, &g)) != 0)
		return store_map_err(rc);
	if (!g.has)
		return TR_ENOTFOUND;
	g.has = 0;
	if ((rc = grant_put(t, partner, posb, &g)) != 0 || (rc = bump_version(t)) != 0)
		return store_map_err(rc);
	share_rules_free(t);
	return store_map_err(
	    narrow_partner(t, partner, NULL, NULL, posb, retract, now_ms, &narrowed, retracted));
}

int tr_txn_inbox_scan(tr_txn *t, int (*cb)(void *ctx, const tr_hit *h), void *ctx)
{
	MDB_cursor *c;
	MDB_val k, v;
	int rc = rules_load(t);
	if (rc)
		return store_map_err(rc);
	if ((rc = mdb_cursor_open(t->txn, t->s->dbi[DB_INBOX], &c)) != 0)
		return store_map_err(rc);
	for (rc = mdb_cursor_get(c, &k, &v, MDB_FIRST); rc == 0;
	     rc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
		tr_hit h;
		if (k.mv_size != 8 || v.mv_size != 4) {
			rc = TR_ECORRUPT;
			break;
		}
		/* passed on by a rule or grant since: not waiting any more */
		int passed = 0;
		for (size_t i = 0; i < t->rules->npartners && !passed; i++) {
			uint32_t had;
			passed =
			    t->rules->partners[i].index != get_be32(v.mv_data) &&
			    outset_get(t, t->rules->partners[i].index, k.mv_data, NULL, &had) == 0;
		}
		if (passed)
			continue;
		h.pos = get_be64(k.mv_data);
		if ((rc = store_rec_at(t, k.mv_data, &h.env, &h.len, &h.source, NULL)) != 0)
			break;
		h.rec = &t->scratch_rec;
		if (tr_record_decode(h.env, h.len, h.rec) != 0) {
			rc = TR_ECORRUPT;
			break;
		}
		if ((rc = cb(ctx, &h)) != 0)
			break;
	}
	mdb_cursor_close(c);
	return store_map_err(rc == MDB_NOTFOUND ? 0 : rc);
}

int tr_txn_inbox_decline(tr_txn *t, const uint8_t id[TR_ID_BYTES])
{
	uint8_t posb[8];
	int rc = record_pos(t, id, posb);
	if (rc)
		return rc;
	MDB_val k = {8, posb};
	return store_map_err(mdb_del(t->txn, t->s->dbi[DB_INBOX], &k, NULL));
}

int tr_txn_retract(tr_txn *t, const uint8_t id[TR_ID_BYTES], uint32_t partner, const char *fields,
                   const char *reason, uint64_t now_ms, uint64_t *n, char *why, size_t whylen)
{
	uint8_t posb[8];
	const uint8_t *env;
	size_t len;
	uint32_t bits = 0;
	*n = 0;
	int rc = record_pos(t, id, posb);
	if (rc)
		return rc;
	if (!t->s->key) {
		snprintf(why, whylen, "no key to sign the retraction with");
		return TR_EINVAL;
	}
	if ((rc = rules_load(t)) != 0 || (rc = store_rec_at(t, posb, &env, &len, NULL, NULL)) != 0)
		return store_map_err(rc);
	tr_record *rec = malloc(sizeof(*rec));
	uint8_t *copy = malloc(len);
	if (!rec || !copy) {
		free(rec);
		free(copy);
		return ENOMEM;
	}
	memcpy(copy, env, len);
	if (tr_record_decode(copy, len, rec) != 0)
		rc = TR_ECORRUPT;
	if (!rc && fields) {
		char list[TR_MAX_FIELDS][TR_MAX_NAME + 1];
		size_t nl = 0;
		const char *p = fields;
		while (*p && !rc) {
			const char *c = strchr(p, ',');
			size_t m = c ? (size_t)(c - p) : strlen(p);
			if (m == 0 || m > TR_MAX_NAME || nl == TR_MAX_FIELDS) {
				snprintf(why, whylen,
				         "--fields: a comma-separated list of field names");
				rc = TR_EINVAL;
				break;
			}
			memcpy(list[nl], p, m);
			list[nl++][m] = '\0';
			p = c ? c + 1 : p + m;
		}
		if (!rc)
			rc = names_bits(rec, (const char(*)[TR_MAX_NAME + 1]) list, nl, &bits, why,
			                whylen);
	}
	for (size_t i = 0; !rc && i < t->rules->npartners; i++) {
		uint32_t pidx = t->rules->partners[i].index, had;
		uint64_t q;
		if (partner && pidx != partner)
			continue;
		rc = outset_get(t, pidx, posb, &q, &had);
		if (rc == MDB_NOTFOUND) {
			rc = 0;
			continue;
		}
		if (!rc)
			rc = outset_put(t, pidx, posb, q, fields ? had & ~bits : 0);
		/* no rule sends it what was retracted again; a new grant of it does */
		grant_entry g;
		if (!rc && (rc = grant_get(t, pidx, posb, &g)) == MDB_NOTFOUND)
			rc = 0;
		if (!rc) {
			g.withheld |= fields ? bits : ALL_FIELDS;
			rc = grant_put(t, pidx, posb, &g);
		}
		if (!rc)
			rc = retract_for(t, rec, pidx, !fields, bits, reason, now_ms);
		if (!rc)
			(*n)++;
	}
	free(rec);
	free(copy);
	if (!rc && !*n) {
		snprintf(why, whylen, "the record was never sent to %s",
		         partner ? "that partner" : "any partner");
		rc = TR_ENOTFOUND;
	}
	return store_map_err(rc);
}

/* ---- reading: a pull, a dry run ---- */

int tr_txn_out_head(tr_txn *t, uint32_t partner, uint64_t *head)
{
	size_t pi;
	uint64_t next;
	int rc = partner_slot(t, partner, &pi);
	if (!rc)
		rc = queue_next(t, pi, &next);
	if (rc)
		return store_map_err(rc);
	*head = next - 1;
	return 0;
}

int tr_txn_out_read(tr_txn *t, uint32_t partner, uint64_t after, size_t max, size_t maxbytes,
                    int (*cb)(void *ctx, unsigned depth, const uint8_t *env, size_t len), void *ctx,
                    uint64_t *next, int *more)
{
	size_t pi, n = 0, bytes = 0, examined = 0;
	int rc = partner_slot(t, partner, &pi);
	if (rc)
		return store_map_err(rc);
	const tr_partner *p = &t->rules->partners[pi];
	uint8_t kb[12];
	tr_mpw narrowed;
	*next = after;
	*more = 0;
	if (after == UINT64_MAX)
		return 0; /* nothing comes after the last position (and after + 1 would wrap) */
	tr_mpw_init(&narrowed);
	put_be32(kb, partner);
	put_be64(kb + 4, after + 1);
	MDB_cursor *c;
	MDB_val k = {12, kb}, v;
	if ((rc = mdb_cursor_open(t->txn, t->s->dbi[DB_OUTQ], &c)) != 0)
		return store_map_err(rc);
	for (rc = mdb_cursor_get(c, &k, &v, MDB_SET_RANGE); rc == 0;
	     rc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
		if (k.mv_size != 12 || get_be32(k.mv_data) != partner)
			break;
		if (v.mv_size != 8) {
			rc = TR_ECORRUPT;
			break;
		}
		const uint8_t *env;
		size_t len;
		uint32_t source;
		uint8_t flags;
		decision d;
		if ((rc = store_rec_at(t, v.mv_data, &env, &len, &source, &flags)) != 0) {
			if (rc == MDB_NOTFOUND)
				rc = TR_ECORRUPT; /* a queue entry for no record: not the end */
			break;
		}
		/* a batch holds at least one record, whatever maxbytes says */
		if (n >= max || (n > 0 && bytes + len > maxbytes) || examined >= 4 * max) {
			*more = 1;
			break;
		}
		examined++;
		*next = get_be64((const uint8_t *)k.mv_data + 4);
		tr_record *rec = &t->scratch_rec;
		if (tr_record_decode(env, len, rec) != 0) {
			rc = TR_ECORRUPT;
			break;
		}
		unsigned depth = flags & REC_DEPTH_MASK;
		if ((rc = decide(t, p, rec, v.mv_data, source, depth, DECIDE_FULL, &d)) != 0)
			break;
		if (!d.allowed)
			continue; /* the policy narrowed since it was queued */
		int cut = 0;
		for (size_t i = 0; i < rec->nfields; i++)
			if (rec->fields[i].disclosed && !(d.fields & (1u << i))) {
				rec->fields[i].disclosed =
				    0; /* its digest still goes: it verifies */
				cut = 1;
			}
		if (cut) {
			tr_mpw_reset(&narrowed);
			if ((rc = tr_record_encode(rec, &narrowed)) != 0)
				break;
			env = tr_mpw_data(&narrowed);
			len = tr_mpw_size(&narrowed);
		}
		if ((rc = cb(ctx, depth, env, len)) != 0)
			break;
		n++;
		bytes += len;
	}
	mdb_cursor_close(c);
	tr_mpw_release(&narrowed);
	return store_map_err(rc == MDB_NOTFOUND ? 0 : rc);
}

struct test_run {
	size_t pi;
	uint64_t acked;
	const char *const *kinds; /* visited through the kind index */
	size_t nk;
	int (*cb)(void *ctx, const tr_hit *h, uint32_t give, int held, uint32_t had);
	void *ctx;
};

/* One record of the dry run. skip_kinds: a record reached through a grant whose kind
 * the kind index walk lists already. */
static int test_one(tr_txn *t, const struct test_run *r, const uint8_t posb[8], int skip_kinds)
{
	tr_hit h;
	uint8_t flags;
	decision d;
	uint32_t had = 0, partner = t->rules->partners[r->pi].index;
	uint64_t q = 0;
	h.pos = get_be64(posb);
	int rc = store_rec_at(t, posb, &h.env, &h.len, &h.source, &flags);
	if (rc)
		return rc == MDB_NOTFOUND ? TR_ECORRUPT : rc;
	h.rec = &t->scratch_rec;
	if (tr_record_decode(h.env, h.len, h.rec) != 0)
		return TR_ECORRUPT;
	for (size_t j = 0; skip_kinds && j < r->nk; j++)
		if (name_eq(h.rec->kind, r->kinds[j]))
			return 0;
	if ((rc = decide(t, &t->rules->partners[r->pi], h.rec, posb, h.source,
	                 flags & REC_DEPTH_MASK, DECIDE_FULL, &d)) != 0 ||
	    !d.allowed)
		return rc;
	/* it holds the record if it pulled past the queue entry (the latest one for it) */
	int held = outset_get(t, partner, posb, &q, &had) == 0 && q <= r->acked;
	return r->cb(r->ctx, &h, d.fields, held, held ? had & all_bits(h.rec) : 0);
}

int tr_txn_policy_test(tr_txn *t, uint32_t partner, const tr_rule *extra,
                       int (*cb)(void *ctx, const tr_hit *h, uint32_t give, int held, uint32_t had),
                       void *ctx)
{
	size_t pi, nk = 0;
	const char *kinds[64];
	MDB_cursor *c;
	MDB_val k, v;
	int rc = partner_slot(t, partner, &pi);
	if (rc)
		return store_map_err(rc);
	struct test_run run = {pi, 0, kinds, 0, cb, ctx};
	if ((rc = tr_txn_acked_get(t, partner, &run.acked)) != 0)
		return rc;
	t->rules->extra = extra;
	for (size_t i = 0; i <= t->rules->nrules; i++) {
		const tr_rule *r = i < t->rules->nrules ? &t->rules->rules[i] : extra;
		if (!r || r->partner != partner)
			continue;
		size_t j;
		for (j = 0; j < nk && strcmp(kinds[j], r->kind); j++)
			;
		if (j == nk && nk < 64)
			kinds[nk++] = r->kind;
	}
	run.nk = nk;
	/* the kinds its rules name, through the kind index */
	for (size_t j = 0; j < nk && !rc; j++) {
		MDB_val kk = {strlen(kinds[j]), (void *)kinds[j]}, pv;
		if ((rc = mdb_cursor_open(t->txn, t->s->dbi[DB_KIND], &c)) != 0)
			break;
		for (rc = mdb_cursor_get(c, &kk, &pv, MDB_SET_KEY); rc == 0;
		     rc = mdb_cursor_get(c, &kk, &pv, MDB_NEXT_DUP)) {
			if (pv.mv_size != 8) {
				rc = TR_ECORRUPT;
				break;
			}
			if ((rc = test_one(t, &run, pv.mv_data, 0)) != 0)
				break;
		}
		mdb_cursor_close(c);
		if (rc == MDB_NOTFOUND)
			rc = 0;
	}
	/* and the records granted to it, of other kinds */
	uint8_t pb[4];
	put_be32(pb, partner);
	if (!rc && (rc = mdb_cursor_open(t->txn, t->s->dbi[DB_GRANTS], &c)) == 0) {
		k.mv_size = 4;
		k.mv_data = pb;
		for (rc = mdb_cursor_get(c, &k, &v, MDB_SET_RANGE); rc == 0;
		     rc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
			if (k.mv_size != 12 || memcmp(k.mv_data, pb, 4))
				break;
			if ((rc = test_one(t, &run, (const uint8_t *)k.mv_data + 4, 1)) != 0)
				break;
		}
		mdb_cursor_close(c);
		if (rc == MDB_NOTFOUND)
			rc = 0;
	}
	t->rules->extra = NULL;
	return store_map_err(rc);
}

/* ---- upkeep ---- */

int share_upgrade_policies(tr_txn *t)
{
	MDB_cursor *c;
	MDB_val k, v;
	size_t n = 0, cap = 0;
	tr_rule *list = NULL;
	int rc = mdb_cursor_open(t->txn, t->s->dbi[DB_POLICIES], &c);
	if (rc)
		return rc;
	for (rc = mdb_cursor_get(c, &k, &v, MDB_FIRST); rc == 0;
	     rc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
		if (k.mv_size <= 4 || k.mv_size > 4 + TR_MAX_NAME)
			continue;
		if (n == cap) {
			cap = cap ? cap * 2 : 8;
			tr_rule *nl = realloc(list, cap * sizeof(*nl));
			if (!nl) {
				rc = ENOMEM;
				break;
			}
			list = nl;
		}
		tr_rule *r = &list[n++];
		memset(r, 0, sizeof(*r));
		r->partner = get_be32(k.mv_data);
		memcpy(r->kind, (const char *)k.mv_data + 4, k.mv_size - 4);
		r->all_fields = 1;
		r->flags = TR_RULE_FORWARD; /* schema 2 relayed what the author's terms let go */
		r->created_ms = v.mv_size == 8 ? get_be64(v.mv_data) : 0;
	}
	mdb_cursor_close(c);
	if (rc == MDB_NOTFOUND)
		rc = 0;
	for (size_t i = 0; i < n && !rc; i++)
		rc = rule_put(t, &list[i]);
	free(list);
	if (!rc)
		rc = mdb_drop(t->txn, t->s->dbi[DB_POLICIES], 0);
	return rc;
}

int share_partner_gone(tr_txn *t, uint32_t partner)
{
	MDB_cursor *cur;
	MDB_val k, v;
	int rc = mdb_cursor_open(t->txn, t->s->dbi[DB_RULES], &cur);
	if (rc)
		return rc;
	for (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0;
	     rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
		tr_rule r;
		if (rule_decode(&k, &v, &r) == 0 && r.partner == partner &&
		    (rc = mdb_cursor_del(cur, 0)) != 0)
			break;
	}
	mdb_cursor_close(cur);
	if (rc == MDB_NOTFOUND)
		rc = 0;
	share_rules_free(t);
	return rc ? rc : bump_version(t);
}

#define PROBLEM(...)                                                                               \
	do {                                                                                       \
		char msg_[300];                                                                    \
		snprintf(msg_, sizeof(msg_), __VA_ARGS__);                                         \
		cb(ctx, msg_);                                                                     \
	} while (0)

/* Every queue entry names a stored record, every outset entry its queue entry, every
 * grant and inbox entry a stored record, and every rule reads back. */
int share_check(tr_txn *t, void (*cb)(void *ctx, const char *problem), void *ctx)
{
	MDB_cursor *c;
	MDB_val k, v, k2, v2;
	uint64_t orphans = 0, lost = 0, bad_rules = 0, stray = 0;
	int rc = mdb_cursor_open(t->txn, t->s->dbi[DB_OUTQ], &c);
	if (rc)
		return store_map_err(rc);
	for (rc = mdb_cursor_get(c, &k, &v, MDB_FIRST); rc == 0;
	     rc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
		k2.mv_size = 8;
		k2.mv_data = v.mv_data;
		if (k.mv_size != 12 || v.mv_size != 8 ||
		    mdb_get(t->txn, t->s->dbi[DB_REC], &k2, &v2) != 0)
			orphans++;
	}
	mdb_cursor_close(c);
	if (rc != MDB_NOTFOUND)
		return store_map_err(rc);
	if ((rc = mdb_cursor_open(t->txn, t->s->dbi[DB_OUTSET], &c)) != 0)
		return store_map_err(rc);
	for (rc = mdb_cursor_get(c, &k, &v, MDB_FIRST); rc == 0;
	     rc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
		uint8_t qk[12];
		if (k.mv_size != 12 || (v.mv_size != 8 && v.mv_size != 12)) {
			lost++;
			continue;
		}
		memcpy(qk, k.mv_data, 4);
		memcpy(qk + 4, v.mv_data, 8);
		k2.mv_size = 12;
		k2.mv_data = qk;
		if (mdb_get(t->txn, t->s->dbi[DB_OUTQ], &k2, &v2) != 0 || v2.mv_size != 8 ||
		    memcmp(v2.mv_data, (const uint8_t *)k.mv_data + 4, 8) != 0)
			lost++;
	}
	mdb_cursor_close(c);
	if (rc != MDB_NOTFOUND)
		return store_map_err(rc);
	static const int dbs[] = {DB_GRANTS, DB_INBOX};
	for (size_t i = 0; i < 2; i++) {
		if ((rc = mdb_cursor_open(t->txn, t->s->dbi[dbs[i]], &c)) != 0)
			return store_map_err(rc);
		for (rc = mdb_cursor_get(c, &k, &v, MDB_FIRST); rc == 0;
		     rc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
			size_t off = dbs[i] == DB_GRANTS ? 4 : 0;
			k2.mv_size = 8;
			k2.mv_data = (uint8_t *)k.mv_data + off;
			if (k.mv_size != off + 8 ||
			    mdb_get(t->txn, t->s->dbi[DB_REC], &k2, &v2) != 0)
				stray++;
		}
		mdb_cursor_close(c);
		if (rc != MDB_NOTFOUND)
			return store_map_err(rc);
	}
	if ((rc = mdb_cursor_open(t->txn, t->s->dbi[DB_RULES], &c)) != 0)
		return store_map_err(rc);
	for (rc = mdb_cursor_get(c, &k, &v, MDB_FIRST); rc == 0;
	     rc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
		tr_rule r;
		char why[300];
		if (rule_decode(&k, &v, &r) != 0 || tr_rule_check(&r, why, sizeof(why)) != 0)
			bad_rules++;
	}
	mdb_cursor_close(c);
	if (rc != MDB_NOTFOUND)
		return store_map_err(rc);
	if (orphans)
		PROBLEM("%" PRIu64
		        " entries of the partners' outbound queues name no stored record",
		        orphans);
	if (lost)
		PROBLEM("%" PRIu64 " records are marked queued for a partner but are not in its "
		        "queue",
		        lost);
	if (stray)
		PROBLEM("%" PRIu64 " grant or inbox entries name no stored record", stray);
	if (bad_rules)
		PROBLEM("%" PRIu64 " sharing rules cannot be read", bad_rules);
	return 0;
}

/* kind.c: the table of record kinds (the model the CLI and docs follow) and validation
 * against it. No I/O. */
#include "kind.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "error.h"
#include "banned.h"

#define STR(n, req, max, help)                                                                     \
	{                                                                                          \
		n, TR_FT_STR, req, 0, max, NULL, help                                              \
	}
#define TEXT(n, req, max, help)                                                                    \
	{                                                                                          \
		n, TR_FT_TEXT, req, 0, max, NULL, help                                             \
	}
#define INT(n, req, lo, hi, help)                                                                  \
	{                                                                                          \
		n, TR_FT_INT, req, lo, hi, NULL, help                                              \
	}
#define DATE(n, req, help)                                                                         \
	{                                                                                          \
		n, TR_FT_DATE, req, 0, 10, NULL, help                                              \
	}
#define ENUM(n, req, ch, help)                                                                     \
	{                                                                                          \
		n, TR_FT_ENUM, req, 0, 32, ch, help                                                \
	}
#define END                                                                                        \
	{                                                                                          \
		NULL, 0, 0, 0, 0, NULL, NULL                                                       \
	}

static const char *const answers[] = {"accept", "decline", "nominate", NULL};
static const char *const outcomes[] = {"keep", "return", "undecided", NULL};
static const char *const states[] = {
    /* proto/lifecycle.c says which follow which, per kind of record */
    "submitted",
    "under_review",
    "planned",
    "in_progress",
    "released",
    "declined",
    "merged",
    "draft",
    "information_requested",
    "approved",
    "partly_approved",
    "rejected",
    "closed",
    "open",
    "candidates_proposed",
    "in_trial",
    "reported",
    "cancelled",
    "expired",
    "pending",
    "reopened",
    "note",
    NULL};
static const char *const stages[] = {"generation", "conversion", "diffusion", NULL};
static const char *const severities[] = {"low", "medium", "high", "critical", NULL};
static const char *const recommendations[] = {"support", "neutral", "oppose", NULL};

static const tr_field_spec account_fields[] = {
    STR("name", 1, 200, "the customer firm's name"),
    STR("country", 0, 64, "country"),
    STR("city", 0, 100, "city"),
    STR("sector", 0, 100, "sector, e.g. restaurant, hospital"),
    STR("external_id", 0, 64, "id in the firm's own CRM"),
    END};
static const tr_field_spec contact_fields[] = {
    STR("name", 1, 200, "the person's name"),
    STR("email", 0, 200, "e-mail address"),
    STR("phone", 0, 64, "phone number"),
    STR("position", 0, 100, "job title"),
    STR("account", 0, 200, "the firm the person works for"),
    STR("external_id", 0, 64, "id in the firm's own CRM"),
    END};
static const tr_field_spec idea_fields[] = {
    STR("title", 1, 200, "one-line summary"),
    TEXT("text", 1, 8000, "the idea in the user's words"),
    STR("product", 0, 64, "product or model it concerns"),
    STR("category", 0, 64, "e.g. hygiene, cost, usability"),
    ENUM("stage", 0, stages, "innovation stage: generation, conversion or diffusion"),
    STR("submitter", 0, 200, "who raised it (a contact field)"),
    STR("account", 0, 200, "the user firm (a contact field)"),
    STR("external_id", 0, 64, "id in the firm's own CRM"),
    END};
static const tr_field_spec claim_fields[] = {
    STR("product", 1, 64, "product or model"),
    STR("serial", 0, 64, "serial number of the machine"),
    TEXT("problem", 1, 8000, "what went wrong"),
    DATE("opened", 1, "date the claim was opened"),
    DATE("installed", 0, "date the machine was installed"),
    DATE("failed", 0, "date the failure happened"),
    STR("problem_code", 0, 32, "the distributor's code for the kind of problem"),
    DATE("closed", 0, "date it was closed"),
    TEXT("resolution", 0, 8000, "what was done"),
    ENUM("severity", 0, severities, "low, medium, high or critical"),
    STR("customer", 0, 200, "the customer firm (identity)"),
    STR("responsible", 0, 200, "person responsible at the distributor"),
    STR("external_id", 0, 64, "id in the firm's own CRM"),
    END};
static const tr_field_spec test_request_fields[] = {
    STR("product", 1, 64, "prototype or model to trial"),
    STR("title", 1, 200, "one-line summary"),
    TEXT("text", 1, 8000, "what the trial is and what it asks of a user firm"),
    DATE("start", 0, "earliest start"),
    DATE("end", 0, "latest end"),
    INT("slots", 0, 1, 100000, "how many user firms are wanted"),
    STR("prototype", 0, 100, "the prototype's name or number"),
    TEXT("wanted", 0, 2000, "what kind of user firm is wanted (size, sector, load)"),
    DATE("deadline", 0, "answers wanted by"),
    END};
static const tr_field_spec test_response_fields[] = {
    ENUM("answer", 1, answers,
         "accept or decline (a user firm), or nominate (a distributor putting a firm forward)"),
    TEXT("text", 0, 8000, "conditions, questions"),
    STR("contact", 0, 200, "who to talk to (a contact field)"),
    STR("nominee", 0, 64, "nominate: the firm put forward, by its node key (a pseudonym upstream)"),
    END};
static const char *const would_buy[] = {"yes", "no", "maybe", NULL};
static const tr_field_spec trial_report_fields[] = {
    TEXT("text", 1, 8000, "how the trial went"),
    INT("rating", 0, 1, 5, "overall, 1 (bad) to 5 (very good)"),
    INT("cleaning", 0, 1, 5, "cleaning result, 1 to 5"),
    INT("handling", 0, 1, 5, "ease of use, 1 to 5"),
    TEXT("defects", 0, 4000, "defects found"),
    ENUM("would_buy", 0, would_buy, "yes, no or maybe"),
    ENUM("outcome", 0, outcomes, "keep, return or undecided"),
    END};
static const tr_field_spec status_fields[] = {
    ENUM("state", 1, states,
         "the new state of the record it refers to (which: trestle(1), \"States\"), "
         "reopened, or note"),
    TEXT("message", 0, 8000, "explanation for the firms that raised it"),
    STR("into", 0, 64,
        "merged: the id of the idea it joined (refs are sorted, so they cannot say)"),
    END};
static const tr_field_spec claim_line_fields[] = {
    STR("part", 1, 100, "the part replaced, or the work done"),
    INT("quantity", 0, 1, 100000, "how many (default 1)"),
    INT("labour", 0, 0, 100000, "labour in minutes"),
    INT("amount", 1, 0, 1000000000, "the amount claimed, in cents"),
    TEXT("note", 0, 2000, "anything else"),
    END};
static const char *const priorities[] = {"low", "medium", "high", NULL};
static const tr_field_spec assessment_fields[] = {
    TEXT("text", 1, 8000, "the distributor's judgement"),
    INT("score", 0, 0, 10, "0 to 10"),
    ENUM("recommendation", 0, recommendations, "support, neutral or oppose"),
    ENUM("priority", 0, priorities, "low, medium or high"),
    TEXT("endorsement", 0, 2000, "the user firm's own words, endorsed on its behalf"),
    END};
static const tr_field_spec consent_fields[] = {
    STR("scope", 1, 200, "what is consented to: ideas, claims, trials (comma list)"),
    STR("grantee", 0, 64, "node id of the partner the consent is given to"),
    TEXT("text", 0, 8000, "terms in words"), DATE("until", 0, "consent ends on"), END};
static const tr_field_spec retraction_fields[] = {
    TEXT("reason", 0, 8000, "why the record is withdrawn"),
    STR("fields", 0, 1000, "the fields withdrawn (comma list); absent: the whole body"),
    STR("to", 0, 64, "node id of the one recipient it is for; absent: every holder"), END};
static const char *const results[] = {"deleted", "not_held", "noted", NULL};
static const tr_field_spec receipt_fields[] = {
    ENUM("result", 1, results, "deleted, not_held, or noted (a consent withdrawn)"), END};

static const char *const k_account[] = {"account", NULL};
static const char *const k_test_request[] = {"test_request", NULL};
static const char *const k_trial[] = {"test_request", "test_response", NULL};
static const char *const k_retraction[] = {"retraction", NULL};
static const char *const k_status_targets[] = {
    "idea", "claim", "claim_line", "test_request", "test_response", "trial_report", NULL};
static const char *const k_claim[] = {"claim", NULL};

const tr_kind_spec tr_kinds[] = {
    {"account", "a customer firm", account_fields, 0, 0, NULL, {"name", "city", "country"}},
    {"contact",
     "a person at a customer firm",
     contact_fields,
     0,
     1,
     k_account,
     {"name", "account", "email"}},
    {"idea", "an idea for a product", idea_fields, 0, 0, NULL, {"product", "title", NULL}},
    {"claim",
     "a claim about a machine",
     claim_fields,
     0,
     1,
     k_account,
     {"product", "serial", "problem"}},
    {"test_request",
     "a request for trial volunteers",
     test_request_fields,
     0,
     1,
     NULL,
     {"product", "title", NULL}},
    {"test_response",
     "a user firm's answer to a test request",
     test_response_fields,
     1,
     1,
     k_test_request,
     {"answer", "text", NULL}},
    {"trial_report",
     "how a trial went",
     trial_report_fields,
     1,
     2,
     k_trial,
     {"outcome", "rating", "text"}},
    {"status",
     "a decision or progress note about another record",
     status_fields,
     1,
     2,
     k_status_targets,
     {"state", "message", NULL}},
    {"claim_line",
     "one line of a claim: a part or work, and its amount",
     claim_line_fields,
     1,
     1,
     k_claim,
     {"part", "amount", NULL}},
    {"assessment",
     "a distributor's judgement of a record it relays",
     assessment_fields,
     1,
     1,
     NULL,
     {"recommendation", "score", "text"}},
    {"consent",
     "a firm's consent to a partner passing its records on",
     consent_fields,
     0,
     1,
     NULL,
     {"scope", "until", NULL}},
    {"retraction",
     "withdraws a record (or some of its fields) this node wrote or passed on",
     retraction_fields,
     1,
     1,
     NULL,
     {"fields", "reason", NULL}},
    {"receipt",
     "a recipient's signed answer to a retraction",
     receipt_fields,
     1,
     1,
     k_retraction,
     {"result", NULL, NULL}},
    {NULL, NULL, NULL, 0, 0, NULL, {NULL, NULL, NULL}},
};

const tr_kind_spec *tr_kind_find(const char *name, size_t len)
{
	for (const tr_kind_spec *k = tr_kinds; k->name; k++)
		if (strlen(k->name) == len && memcmp(k->name, name, len) == 0)
			return k;
	return NULL;
}

int tr_kind_field_allowed(const tr_kind_spec *k, const char *name, size_t len)
{
	tr_str s = {name, len};
	if (tr_kind_field(k, name, len))
		return 1;
	return len > 2 && memcmp(name, "x_", 2) == 0 && tr_name_valid(s);
}

const tr_field_spec *tr_kind_field(const tr_kind_spec *k, const char *name, size_t len)
{
	for (const tr_field_spec *f = k->fields; f->name; f++)
		if (strlen(f->name) == len && memcmp(f->name, name, len) == 0)
			return f;
	return NULL;
}

int tr_date_valid(const char *s, size_t n)
{
	static const int mdays[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
	if (n != 10 || s[4] != '-' || s[7] != '-')
		return 0;
	for (size_t i = 0; i < 10; i++)
		if (i != 4 && i != 7 && (s[i] < '0' || s[i] > '9'))
			return 0;
	int y = (s[0] - '0') * 1000 + (s[1] - '0') * 100 + (s[2] - '0') * 10 + (s[3] - '0');
	int m = (s[5] - '0') * 10 + (s[6] - '0');
	int d = (s[8] - '0') * 10 + (s[9] - '0');
	if (y < 1900 || m < 1 || m > 12 || d < 1 || d > mdays[m - 1])
		return 0;
	if (m == 2 && d == 29 && !((y % 4 == 0 && y % 100 != 0) || y % 400 == 0))
		return 0;
	return 1;
}

static int has_control(tr_str s, int text)
{
	for (size_t i = 0; i < s.n; i++) {
		unsigned char c = (unsigned char)s.p[i];
		if ((c < 0x20 && !(text && (c == '\n' || c == '\t' || c == '\r'))) || c == 0x7f)
			return 1;
	}
	return 0;
}

#define FAIL(...)                                                                                  \
	do {                                                                                       \
		snprintf(why, whylen, __VA_ARGS__);                                                \
		return TR_ESCHEMA;                                                                 \
	} while (0)

int tr_field_check(const tr_field_spec *fs, const tr_value *v, char *why, size_t whylen)
{
	const char *name = fs ? fs->name : "custom field";
	int type = fs ? fs->type : TR_FT_STR;
	int64_t max = fs ? fs->max : TR_CUSTOM_FIELD_MAX;
	if (!fs && v->type == TR_VAL_INT)
		return 0; /* custom fields may be numbers or short text */
	if (type == TR_FT_INT) {
		if (v->type != TR_VAL_INT)
			FAIL("%s must be a whole number", name);
		if (v->i < fs->min || v->i > fs->max)
			FAIL("%s must be between %" PRId64 " and %" PRId64 ", not %" PRId64, name,
			     fs->min, fs->max, v->i);
		return 0;
	}
	if (v->type != TR_VAL_STR)
		FAIL("%s must be text, not a number", name);
	tr_str t = v->s;
	if (fs && fs->required && t.n == 0)
		FAIL("%s must not be empty", name);
	if ((int64_t)t.n > max)
		FAIL("%s is %zu bytes long; at most %" PRId64 " are allowed", name, t.n, max);
	if (!tr_utf8_valid(t.p, t.n))
		FAIL("%s is not valid UTF-8", name);
	if (has_control(t, type == TR_FT_TEXT))
		FAIL("%s contains a control character%s", name,
		     type == TR_FT_TEXT ? "" : " (line breaks are not allowed in this field)");
	if (type == TR_FT_DATE && !tr_date_valid(t.p, t.n))
		FAIL("%s must be a date written YYYY-MM-DD, not \"%.*s\"", name,
		     (int)(t.n > 40 ? 40 : t.n), t.p);
	if (type == TR_FT_ENUM) {
		for (const char *const *c = fs->choices; *c; c++)
			if (tr_str_eq(t, *c))
				return 0;
		FAIL("%s must be one of the listed values (see --help), not \"%.*s\"", name,
		     (int)(t.n > 40 ? 40 : t.n), t.p);
	}
	return 0;
}

int tr_kind_validate(const tr_record *rec, char *why, size_t whylen)
{
	const tr_kind_spec *k = tr_kind_find(rec->kind.p, rec->kind.n);
	if (!k)
		FAIL("unknown record kind \"%.*s\"", (int)rec->kind.n, rec->kind.p);
	for (size_t i = 0; i < rec->nfields; i++) {
		const tr_field *f = &rec->fields[i];
		const tr_field_spec *fs = tr_kind_field(k, f->name.p, f->name.n);
		if (!tr_kind_field_allowed(k, f->name.p, f->name.n))
			FAIL("%s records have no field \"%.*s\" (custom fields are x_ then "
			     "lower-case "
			     "letters, digits and _, at most %d bytes)",
			     k->name, (int)(f->name.n > 40 ? 40 : f->name.n), f->name.p,
			     TR_MAX_NAME);
		if (f->disclosed) {
			int rc = tr_field_check(fs, &f->value, why, whylen);
			if (rc)
				return rc;
		}
	}
	for (size_t i = 0; i < rec->nrefs; i++)
		for (size_t j = 0; j < i; j++)
			if (memcmp(rec->refs[i], rec->refs[j], TR_ID_BYTES) == 0)
				FAIL("the same record is referred to twice");
	for (size_t i = 0; i < rec->terms.nprivate; i++) {
		tr_str p = rec->terms.private_fields[i];
		if (!tr_kind_field_allowed(k, p.p, p.n))
			FAIL("the private fields of the onward terms must be fields of %s, not "
			     "\"%.*s\"",
			     k->name, (int)(p.n > 40 ? 40 : p.n), p.p);
		for (size_t j2 = 0; j2 < i; j2++)
			if (rec->terms.private_fields[j2].n == p.n &&
			    memcmp(rec->terms.private_fields[j2].p, p.p, p.n) == 0)
				FAIL("private field %.*s is named twice", (int)p.n, p.p);
	}
	for (const tr_field_spec *fs = k->fields; fs->name; fs++)
		if (fs->required && !tr_record_field(rec, fs->name))
			FAIL("%s records need the field %s (%s)", k->name, fs->name, fs->help);
	if (rec->nrefs < k->min_refs || rec->nrefs > k->max_refs) {
		if (k->min_refs == k->max_refs)
			FAIL("a %s refers to exactly %zu record%s, not %zu", k->name, k->min_refs,
			     k->min_refs == 1 ? "" : "s", rec->nrefs);
		FAIL("a %s refers to %zu to %zu records, not %zu", k->name, k->min_refs,
		     k->max_refs, rec->nrefs);
	}
	return 0;
}

int tr_kind_ref_allowed(const tr_kind_spec *k, tr_str target)
{
	if (!k->ref_kinds)
		return 1;
	for (const char *const *c = k->ref_kinds; *c; c++)
		if (tr_str_eq(target, *c))
			return 1;
	return 0;
}

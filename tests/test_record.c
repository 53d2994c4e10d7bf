#define _GNU_SOURCE /* memmem */
/* test_record: sealing, strict decoding, verification, selective disclosure, kind
 * validation, and the known-answer vectors published in proto/SPEC.md.
 * `test_record --print-vectors` prints the vectors (to regenerate SPEC.md's table). */
#include "tests/tr_test.h"

#include <stdlib.h>

#include <sodium.h>

#include "proto/error.h"
#include "proto/kind.h"
#include "proto/record.h"

/* The vector record of SPEC.md: fixed key, time, sequence number and salts. */
static int vector_record(tr_key *k, tr_record *rec, tr_mpw *out)
{
	tr_record_init(rec);
	rec->kind.p = "claim";
	rec->kind.n = 5;
	rec->seq = 1;
	rec->created_ms = 1767225600000ull; /* 2026-01-01T00:00:00Z */
	rec->terms.hops = 1;
	rec->terms.roles = TR_ROLE_PRODUCER;
	rec->terms.nprivate = 1;
	rec->terms.private_fields[0].p = "customer";
	rec->terms.private_fields[0].n = 8;
	static const char *problem = "Drain pump stops after 300 cycles";
	tr_record_add_str(rec, "product", "DW-200", 6);
	tr_record_add_str(rec, "serial", "SN-1001", 7);
	tr_record_add_str(rec, "problem", problem, strlen(problem));
	tr_record_add_str(rec, "opened", "2026-01-05", 10);
	tr_record_add_str(rec, "customer", "Cafe Nord", 9);
	tr_record_add_int(rec, "x_cycles", 300);
	for (size_t i = 0; i < rec->nfields; i++) {
		memset(rec->fields[i].salt, (int)(0x11 * (i + 1)), TR_SALT_BYTES);
		rec->fields[i].has_salt = 1;
	}
	return tr_record_seal(rec, k, out);
}

static void hex(const uint8_t *p, size_t n, char *out)
{
	sodium_bin2hex(out, 2 * n + 1, p, n);
}

/* Finds "vector NAME:" in SPEC.md and returns the hex after it (continuation lines
 * are joined until a line without hex). Caller frees. */
static char *spec_vector(const char *name)
{
	const char *dir = getenv("TR_SOURCE_DIR");
	char path[4096];
	snprintf(path, sizeof(path), "%s/proto/SPEC.md", dir ? dir : ".");
	FILE *f = fopen(path, "r");
	if (!f)
		return NULL;
	char line[8192], want[128];
	snprintf(want, sizeof(want), "vector %s:", name);
	size_t cap = 1 << 16, len = 0;
	char *acc = NULL;
	while (fgets(line, sizeof(line), f)) {
		char *p = line;
		while (*p == ' ')
			p++;
		if (!acc) {
			if (strncmp(p, want, strlen(want)) != 0)
				continue;
			acc = calloc(cap, 1);
			p += strlen(want);
		} else if (!strchr("0123456789abcdef", *p) || *p == '\0') {
			break;
		}
		for (; *p && len + 1 < cap; p++)
			if (strchr("0123456789abcdef", *p) && *p)
				acc[len++] = *p;
	}
	fclose(f);
	return acc;
}

static void check_vector(const char *name, const char *got)
{
	char *want = spec_vector(name);
	CHECK(want != NULL);
	if (want) {
		CHECK_STR(got, want);
		free(want);
	}
}

int main(int argc, char **argv)
{
	int print = argc > 1 && strcmp(argv[1], "--print-vectors") == 0;
	if (sodium_init() < 0)
		return 1;
	uint8_t seed[TR_SEED_BYTES];
	for (int i = 0; i < TR_SEED_BYTES; i++)
		seed[i] = (uint8_t)i;
	tr_key *k = NULL;
	CHECK_INT(tr_key_from_seed(seed, &k), 0);

	tr_record rec, got;
	tr_mpw env, env2;
	tr_mpw_init(&env);
	tr_mpw_init(&env2);
	CHECK_INT(vector_record(k, &rec, &env), 0);
	char why[256] = "";
	CHECK_INT(tr_kind_validate(&rec, why, sizeof(why)), 0);

	static char h[2 * TR_MAX_RECORD_BYTES + 1];
	char idhex[TR_ID_HEX_SIZE];
	/* decode + verify the sealed bytes */
	CHECK_INT(tr_record_open(tr_mpw_data(&env), tr_mpw_size(&env), &got), 0);
	CHECK(memcmp(got.id, rec.id, TR_ID_BYTES) == 0);
	CHECK_INT(got.nfields, 6);
	CHECK_INT(got.seq, 1);
	CHECK(tr_str_eq(got.kind, "claim"));
	CHECK(tr_str_eq(got.fields[0].name, "customer")); /* canonical order: sorted */
	const tr_field *fc = tr_record_field(&got, "x_cycles");
	CHECK(fc && fc->disclosed && fc->value.type == TR_VAL_INT && fc->value.i == 300);
	tr_id_hex(got.id, idhex);
	hex(tr_mpw_data(&env), tr_mpw_size(&env), h);
	if (print) {
		printf("vector claim-id: %s\nvector claim-envelope: %s\n", idhex, h);
	} else {
		check_vector("claim-id", idhex);
		check_vector("claim-envelope", h);
	}

	/* withhold the customer's identity: still verifies, and says what is hidden */
	CHECK_INT(tr_record_withhold(&got, "customer"), 0);
	CHECK_INT(tr_record_encode(&got, &env2), 0);
	tr_record red;
	CHECK_INT(tr_record_open(tr_mpw_data(&env2), tr_mpw_size(&env2), &red), 0);
	CHECK(memcmp(red.id, rec.id, TR_ID_BYTES) == 0);
	const tr_field *cust = tr_record_field(&red, "customer");
	CHECK(cust != NULL && !cust->disclosed);
	CHECK(tr_record_field(&red, "problem")->disclosed);
	CHECK_INT(tr_kind_validate(&red, why, sizeof(why)), 0);
	hex(tr_mpw_data(&env2), tr_mpw_size(&env2), h);
	if (print)
		printf("vector claim-withheld: %s\n", h);
	else
		check_vector("claim-withheld", h);

	/* tampering: a value byte -> digest; a header byte -> signature */
	size_t n = tr_mpw_size(&env);
	uint8_t *buf = malloc(n + 1);
	memcpy(buf, tr_mpw_data(&env), n);
	uint8_t *pos = memmem(buf, n, "Cafe Nord", 9);
	CHECK(pos != NULL);
	pos[0] = 'K';
	CHECK_INT(tr_record_open(buf, n, &got), TR_EDIGEST);
	memcpy(buf, tr_mpw_data(&env), n);
	pos = memmem(buf, n, "claim", 5);
	pos[0] = 'x'; /* kind "xlaim" */
	CHECK_INT(tr_record_open(buf, n, &got), TR_ESIG);
	memcpy(buf, tr_mpw_data(&env), n);
	buf[n] = 0; /* trailing byte */
	CHECK_INT(tr_record_decode(buf, n + 1, &got), TR_EFORMAT);
	/* every truncation is an error, never a crash or a read past the end */
	int truncs_ok = 1;
	for (size_t cut = 0; cut < n; cut++) {
		uint8_t *t = malloc(cut ? cut : 1);
		memcpy(t, buf, cut);
		if (tr_record_decode(t, cut, &got) == 0)
			truncs_ok = 0;
		free(t);
	}
	CHECK(truncs_ok);
	/* version 2 is refused as unknown, not as garbage */
	uint8_t *hv = memmem(buf, n,
	                     "\x98\x01\xa5"
	                     "claim",
	                     8);
	CHECK(hv != NULL);
	if (hv) {
		hv[1] = 2;
		CHECK_INT(tr_record_decode(buf, n, &got), TR_EVERSION);
	}
	free(buf);

	/* disclosures out of order are not canonical */
	CHECK_INT(tr_record_decode(tr_mpw_data(&env), tr_mpw_size(&env), &got), 0);
	tr_mpw swapped;
	tr_mpw_init(&swapped);
	tr_mpw_array(&swapped, 3);
	tr_mpw_bin(&swapped, got.header, got.header_len);
	tr_mpw_bin(&swapped, got.sig, TR_SIG_BYTES);
	tr_mpw_array(&swapped, 2);
	tr_mpw_raw(&swapped, got.fields[1].disc, got.fields[1].disc_len);
	tr_mpw_raw(&swapped, got.fields[0].disc, got.fields[0].disc_len);
	CHECK_INT(tr_record_decode(tr_mpw_data(&swapped), tr_mpw_size(&swapped), &red), TR_ECANON);
	tr_mpw_release(&swapped);

	/* kind validation */
	tr_record bad;
	tr_record_init(&bad);
	bad.kind.p = "claim";
	bad.kind.n = 5;
	tr_record_add_str(&bad, "product", "DW-200", 6);
	tr_record_add_str(&bad, "problem", "leaks", 5);
	tr_record_add_str(&bad, "opened", "2026-02-30", 10);
	CHECK_INT(tr_kind_validate(&bad, why, sizeof(why)), TR_ESCHEMA);
	CHECK(strstr(why, "opened must be a date") != NULL);
	bad.fields[2].value.s.p = "2024-02-29";
	CHECK_INT(tr_kind_validate(&bad, why, sizeof(why)), 0);
	tr_record_add_str(&bad, "colour", "red", 3);
	CHECK_INT(tr_kind_validate(&bad, why, sizeof(why)), TR_ESCHEMA);
	CHECK(strstr(why, "no field \"colour\"") != NULL);
	bad.nfields--;
	tr_record_add_str(&bad, "serial", "a\nb", 3);
	CHECK_INT(tr_kind_validate(&bad, why, sizeof(why)), TR_ESCHEMA);
	CHECK(strstr(why, "control character") != NULL);
	bad.nfields--;
	bad.nfields--; /* drop opened: required */
	CHECK_INT(tr_kind_validate(&bad, why, sizeof(why)), TR_ESCHEMA);
	CHECK(strstr(why, "need the field opened") != NULL);

	tr_record st;
	tr_record_init(&st);
	st.kind.p = "status";
	st.kind.n = 6;
	tr_record_add_str(&st, "state", "planned", 7);
	CHECK_INT(tr_kind_validate(&st, why, sizeof(why)), TR_ESCHEMA); /* needs a ref */
	CHECK(strstr(why, "refers to") != NULL);
	st.nrefs = 1;
	CHECK_INT(tr_kind_validate(&st, why, sizeof(why)), 0);
	st.fields[0].value.s.p = "maybe";
	st.fields[0].value.s.n = 5;
	CHECK_INT(tr_kind_validate(&st, why, sizeof(why)), TR_ESCHEMA);
	tr_record_add_int(&st, "message", 4);
	st.fields[0].value.s.p = "planned";
	st.fields[0].value.s.n = 7;
	CHECK_INT(tr_kind_validate(&st, why, sizeof(why)), TR_ESCHEMA);
	CHECK(strstr(why, "must be text") != NULL);

	/* a duplicate field name cannot be sealed */
	tr_record dup;
	tr_record_init(&dup);
	dup.kind.p = "idea";
	dup.kind.n = 4;
	tr_record_add_str(&dup, "title", "a", 1);
	tr_record_add_str(&dup, "title", "b", 1);
	CHECK_INT(tr_record_seal(&dup, k, &env2), TR_EINVAL);

	tr_mpw_release(&env);
	tr_mpw_release(&env2);
	tr_key_destroy(&k);
	if (print)
		return 0;
	return tr_test_done();
}

/* kind.h: the record kinds and what a valid record of each holds.
 *
 * One table (kind.c) is the model: validation, the CLI's `record create --help`,
 * import's column matching and the docs all follow from it. Validation here is
 * structural (fields, types, sizes, how many refs); whether referenced records exist and
 * are of an allowed kind needs the store, which asks tr_kind_ref_allowed().
 * Fields whose names start with "x_" are a firm's own custom fields: integers or short
 * single-line strings.
 */
#ifndef TR_KIND_H
#define TR_KIND_H

#include <stddef.h>
#include <stdint.h>

#include "record.h"

enum tr_field_type {
	TR_FT_STR = 1, /* one line of text, no control characters */
	TR_FT_TEXT,    /* free text, newlines and tabs allowed */
	TR_FT_INT,     /* integer in [min, max] */
	TR_FT_DATE,    /* "YYYY-MM-DD", a real calendar date */
	TR_FT_ENUM     /* one of choices */
};

typedef struct tr_field_spec {
	const char *name;
	int type;
	int required;
	int64_t min, max;           /* TR_FT_INT range; for strings max is the byte length */
	const char *const *choices; /* TR_FT_ENUM, NULL-terminated */
	const char *help;
} tr_field_spec;

typedef struct tr_kind_spec {
	const char *name;
	const char *help;
	const tr_field_spec *fields; /* terminated by a NULL name */
	size_t min_refs, max_refs;
	const char *const *ref_kinds;  /* kinds a ref may point at, NULL-terminated; NULL: any */
	const char *summary_fields[3]; /* fields shown in one-line listings, in order */
} tr_kind_spec;

#define TR_CUSTOM_FIELD_MAX 1000 /* bytes in an x_ custom field */

/* The kind table, terminated by a NULL name. */
extern const tr_kind_spec tr_kinds[];

const tr_kind_spec *tr_kind_find(const char *name, size_t len);
const tr_field_spec *tr_kind_field(const tr_kind_spec *k, const char *name, size_t len);
/* 1 if name is a field of k or a valid custom field name (x_...). */
int tr_kind_field_allowed(const tr_kind_spec *k, const char *name, size_t len);

/* Checks one value against its field spec; NULL spec means a custom x_ field.
 * 0 or TR_ESCHEMA with why filled in. */
int tr_field_check(const tr_field_spec *fs, const tr_value *v, char *why, size_t whylen);

/* Checks rec (built or decoded) against its kind: known kind, known fields with the
 * right types and sizes, required fields present (withheld counts as present), the
 * number of refs, the onward terms' private fields. 0 or TR_ESCHEMA with a message for a
 * person in why. */
int tr_kind_validate(const tr_record *rec, char *why, size_t whylen);

/* 1 if a record of kind k may refer to a record of kind target. */
int tr_kind_ref_allowed(const tr_kind_spec *k, tr_str target);

/* 1 if s is a valid "YYYY-MM-DD" date. */
int tr_date_valid(const char *s, size_t n);

#endif

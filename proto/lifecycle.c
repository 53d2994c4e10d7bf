/* lifecycle.c: the state machines of ideas, claims and test requests (lifecycle.h),
 * as tables of the moves allowed. */
#include "lifecycle.h"

#include <stdio.h>
#include <string.h>

#include "error.h"
#include "banned.h"

struct move {
	const char *from, *to;
};

struct lifecycle {
	const char *kind;
	const char *const *states; /* the first is where a record starts */
	const struct move *moves;  /* NULL-terminated */
	const char *reopen_to;     /* where "reopened" leads, NULL if the kind has none */
	const char *const *reopen_from;
};

static const char *const idea_states[] = {"submitted", "under_review", "planned", "in_progress",
                                          "released",  "declined",     "merged",  NULL};
static const struct move idea_moves[] = {{"submitted", "under_review"},
                                         {"submitted", "planned"},
                                         {"submitted", "in_progress"},
                                         {"submitted", "released"},
                                         {"submitted", "declined"},
                                         {"submitted", "merged"},
                                         {"under_review", "planned"},
                                         {"under_review", "in_progress"},
                                         {"under_review", "released"},
                                         {"under_review", "declined"},
                                         {"under_review", "merged"},
                                         {"planned", "in_progress"},
                                         {"planned", "released"},
                                         {"planned", "declined"},
                                         {"planned", "merged"},
                                         {"in_progress", "released"},
                                         {"in_progress", "declined"},
                                         {"in_progress", "merged"},
                                         {NULL, NULL}};
static const char *const idea_reopen[] = {"planned",  "in_progress", "released",
                                          "declined", "merged",      NULL};

static const char *const claim_states[] = {
    "draft",    "submitted",       "under_review", "information_requested",
    "approved", "partly_approved", "rejected",     "closed",
    NULL};
static const struct move claim_moves[] = {{"draft", "submitted"},
                                          {"submitted", "under_review"},
                                          {"under_review", "information_requested"},
                                          {"information_requested", "under_review"},
                                          {"under_review", "approved"},
                                          {"under_review", "partly_approved"},
                                          {"under_review", "rejected"},
                                          {"approved", "closed"},
                                          {"partly_approved", "closed"},
                                          {"rejected", "closed"},
                                          {NULL, NULL}};
static const char *const claim_reopen[] = {"approved", "partly_approved", "rejected", "closed",
                                           NULL};

static const char *const test_states[] = {"open",   "candidates_proposed", "in_trial", "reported",
                                          "closed", "cancelled",           "expired",  NULL};
static const struct move test_moves[] = {{"open", "candidates_proposed"},
                                         {"candidates_proposed", "in_trial"},
                                         {"in_trial", "reported"},
                                         {"reported", "closed"},
                                         {"open", "cancelled"},
                                         {"candidates_proposed", "cancelled"},
                                         {"in_trial", "cancelled"},
                                         {"open", "expired"},
                                         {"candidates_proposed", "expired"},
                                         {NULL, NULL}};

static const char *const line_states[] = {"pending", "approved", "rejected", NULL};
static const struct move line_moves[] = {
    {"pending", "approved"}, {"pending", "rejected"}, {NULL, NULL}};
static const char *const line_reopen[] = {"approved", "rejected", NULL};

static const struct lifecycle lifecycles[] = {
    {"claim_line", line_states, line_moves, "pending", line_reopen},
    {"idea", idea_states, idea_moves, "under_review", idea_reopen},
    {"claim", claim_states, claim_moves, "under_review", claim_reopen},
    {"test_request", test_states, test_moves, NULL, NULL},
};

static const struct lifecycle *find(const char *kind)
{
	for (size_t i = 0; i < sizeof(lifecycles) / sizeof(lifecycles[0]); i++)
		if (!strcmp(lifecycles[i].kind, kind))
			return &lifecycles[i];
	return NULL;
}

static int in(const char *const *list, const char *s)
{
	for (; list && *list; list++)
		if (!strcmp(*list, s))
			return 1;
	return 0;
}

const char *tr_lifecycle_first(const char *kind)
{
	const struct lifecycle *l = find(kind);
	return l ? l->states[0] : NULL;
}

int tr_lifecycle_known(const char *kind, const char *state)
{
	const struct lifecycle *l = find(kind);
	if (!l)
		return 0;
	return !strcmp(state, "note") || in(l->states, state) ||
	       (l->reopen_to && !strcmp(state, "reopened"));
}

/* "a, b or c": the states that may follow current. */
static void allowed(const struct lifecycle *l, const char *current, char *out, size_t n)
{
	const char *names[16];
	size_t k = 0, o = 0;
	for (const struct move *m = l->moves; m->from && k < 14; m++)
		if (!strcmp(m->from, current))
			names[k++] = m->to;
	if (l->reopen_to && in(l->reopen_from, current))
		names[k++] = "reopened";
	names[k++] = "note";
	out[0] = '\0';
	for (size_t i = 0; i < k && o < n; i++)
		o += (size_t)snprintf(out + o, n - o, "%s%s",
		                      i == 0       ? ""
		                      : i + 1 == k ? " or "
		                                   : ", ",
		                      names[i]);
}

int tr_lifecycle_check(const char *kind, const char *current, const char *next, char *why,
                       size_t whylen)
{
	const struct lifecycle *l = find(kind);
	char ok[300];
	if (!l) {
		snprintf(why, whylen, "a %s has no states", kind);
		return TR_ESCHEMA;
	}
	if (!current)
		current = l->states[0];
	if (!tr_lifecycle_known(kind, next)) {
		allowed(l, current, ok, sizeof(ok));
		snprintf(why, whylen, "\"%s\" is not a state of %s %s; from %s it may go to %s",
		         next, strchr("aeiou", kind[0]) ? "an" : "a", kind, current, ok);
		return TR_ESCHEMA;
	}
	if (!strcmp(next, "note"))
		return 0;
	if (!strcmp(next, "reopened") && l->reopen_to && in(l->reopen_from, current))
		return 0;
	for (const struct move *m = l->moves; m->from; m++)
		if (!strcmp(m->from, current) && !strcmp(m->to, next))
			return 0;
	allowed(l, current, ok, sizeof(ok));
	snprintf(why, whylen,
	         "%s %s that is %s cannot become %s (a state never goes back but by "
	         "\"reopened\"); from %s it may go to %s",
	         strchr("aeiou", kind[0]) ? "an" : "a", kind, current, next, current, ok);
	return TR_ESCHEMA;
}

const char *tr_lifecycle_after(const char *kind, const char *current, const char *next)
{
	const struct lifecycle *l = find(kind);
	if (!l)
		return current;
	if (!current)
		current = l->states[0];
	if (!strcmp(next, "note"))
		return current;
	if (!strcmp(next, "reopened"))
		return l->reopen_to ? l->reopen_to : current;
	return next;
}

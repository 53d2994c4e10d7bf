/* lifecycle.h: the states a record goes through, and which state may follow which.
 *
 * A state change is a `status` record referring to the record (idea, claim or test
 * request), with `state` one of the states of that record's kind. The current state of
 * a record is its newest status's, or the kind's first state if it has none; `note`
 * changes no state; `reopened` is the explicit way back (an idea or claim goes back to
 * under review). Everything else only moves forward: a status never goes backwards.
 *
 *   idea:          submitted -> under_review -> planned -> in_progress -> released,
 *                  or declined, or merged (into another idea), from any open state
 *   claim:         draft -> submitted -> under_review <-> information_requested ->
 *                  approved | partly_approved | rejected -> closed
 *   test_request:  open -> candidates_proposed -> in_trial -> reported -> closed,
 *                  or cancelled, or expired, from any open state
 *   claim_line:    pending -> approved | rejected
 * A claim with lines is decided by its lines: approved when all are approved, rejected
 * when all are rejected, partly_approved otherwise (node/store.c checks it).
 *
 * Nothing here does I/O. */
#ifndef TR_LIFECYCLE_H
#define TR_LIFECYCLE_H

#include <stddef.h>

/* The state a record of kind starts in ("submitted", "draft", "open"), or NULL for a
 * kind without a lifecycle. */
const char *tr_lifecycle_first(const char *kind);

/* 1 if state is a state of kind's lifecycle (or "note", or "reopened" where the kind
 * allows it). */
int tr_lifecycle_known(const char *kind, const char *state);

/* May a record of kind in state current (NULL: its first state) go to next? 0 if so,
 * else TR_ESCHEMA with a sentence in why that names what is allowed from current. */
int tr_lifecycle_check(const char *kind, const char *current, const char *next, char *why,
                       size_t whylen);

/* The state after next is applied to current (next itself, or current for "note"; the
 * state "reopened" leads to). */
const char *tr_lifecycle_after(const char *kind, const char *current, const char *next);

#endif

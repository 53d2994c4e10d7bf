/* test_lifecycle.c: which state may follow which (proto/lifecycle.c). */
#include <string.h>

#include "tr_test.h"
#include "../proto/error.h"
#include "../proto/lifecycle.h"
#include "../proto/banned.h"

static int ok(const char *kind, const char *from, const char *to)
{
	char why[400];
	return tr_lifecycle_check(kind, from, to, why, sizeof(why)) == 0;
}

int main(void)
{
	char why[400];
	CHECK_STR(tr_lifecycle_first("idea"), "submitted");
	CHECK_STR(tr_lifecycle_first("claim"), "draft");
	CHECK_STR(tr_lifecycle_first("test_request"), "open");
	CHECK(tr_lifecycle_first("account") == NULL);

	/* ideas go forward; declined and merged from any open state; back only by reopen */
	CHECK(ok("idea", NULL, "under_review"));
	CHECK(ok("idea", "submitted", "planned"));
	CHECK(ok("idea", "planned", "released"));
	CHECK(ok("idea", "in_progress", "merged"));
	CHECK(!ok("idea", "planned", "under_review"));
	CHECK(!ok("idea", "released", "planned"));
	CHECK(!ok("idea", "declined", "planned"));
	CHECK(ok("idea", "declined", "reopened"));
	CHECK(!ok("idea", "submitted", "reopened")); /* nothing to reopen */
	CHECK_STR(tr_lifecycle_after("idea", "declined", "reopened"), "under_review");
	CHECK(ok("idea", "released", "note"));
	CHECK_STR(tr_lifecycle_after("idea", "planned", "note"), "planned");

	/* claims: under review and information requested go back and forth; a decision,
	 * then closed; a closed claim is not approved */
	CHECK(ok("claim", "draft", "submitted"));
	CHECK(!ok("claim", "draft", "approved"));
	CHECK(ok("claim", "under_review", "information_requested"));
	CHECK(ok("claim", "information_requested", "under_review"));
	CHECK(ok("claim", "under_review", "partly_approved"));
	CHECK(ok("claim", "rejected", "closed"));
	CHECK_INT(tr_lifecycle_check("claim", "closed", "approved", why, sizeof(why)), TR_ESCHEMA);
	CHECK(strstr(why, "a claim that is closed cannot become approved") != NULL);
	CHECK(strstr(why, "reopened or note") != NULL); /* says what is allowed */
	CHECK(ok("claim", "closed", "reopened"));

	/* test requests: forward only, no reopen */
	CHECK(ok("test_request", "open", "candidates_proposed"));
	CHECK(ok("test_request", "in_trial", "reported"));
	CHECK(ok("test_request", "open", "expired"));
	CHECK(!ok("test_request", "reported", "in_trial"));
	CHECK(!ok("test_request", "closed", "reopened"));
	CHECK(!ok("test_request", "reported", "cancelled"));

	/* a state of another kind, or none at all */
	CHECK_INT(tr_lifecycle_check("idea", NULL, "approved", why, sizeof(why)), TR_ESCHEMA);
	CHECK(strstr(why, "\"approved\" is not a state of an idea") != NULL);
	CHECK(!tr_lifecycle_known("idea", "draft"));
	CHECK(tr_lifecycle_known("claim", "reopened"));
	CHECK(!tr_lifecycle_known("test_request", "reopened"));
	CHECK_INT(tr_lifecycle_check("account", NULL, "note", why, sizeof(why)), TR_ESCHEMA);
	return tr_test_done();
}

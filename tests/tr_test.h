/* tr_test.h: the smallest test harness that reports where a check failed.
 * A test binary calls CHECK* freely and ends main() with `return tr_test_done();`;
 * ctest reads the exit code, and the closing line says how many checks ran. */
#ifndef TR_TEST_H
#define TR_TEST_H

#include <stdio.h>
#include <string.h>

static int tr_test_failed;
static int tr_test_count;

#define CHECK(cond)                                                                                \
	do {                                                                                       \
		tr_test_count++;                                                                   \
		if (!(cond)) {                                                                     \
			tr_test_failed++;                                                          \
			fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond);   \
		}                                                                                  \
	} while (0)

#define CHECK_INT(a, b)                                                                            \
	do {                                                                                       \
		long long tr_a_ = (long long)(a), tr_b_ = (long long)(b);                          \
		tr_test_count++;                                                                   \
		if (tr_a_ != tr_b_) {                                                              \
			tr_test_failed++;                                                          \
			fprintf(stderr, "%s:%d: %s == %lld, expected %s == %lld\n", __FILE__,      \
				__LINE__, #a, tr_a_, #b, tr_b_);                                   \
		}                                                                                  \
	} while (0)

#define CHECK_STR(a, b)                                                                            \
	do {                                                                                       \
		const char *tr_a_ = (a), *tr_b_ = (b);                                             \
		tr_test_count++;                                                                   \
		if (!tr_a_ || !tr_b_ || strcmp(tr_a_, tr_b_) != 0) {                               \
			tr_test_failed++;                                                          \
			fprintf(stderr, "%s:%d: %s is \"%s\", expected \"%s\"\n", __FILE__,        \
				__LINE__, #a, tr_a_ ? tr_a_ : "(null)", tr_b_ ? tr_b_ : "(null)"); \
		}                                                                                  \
	} while (0)

static inline int tr_test_done(void)
{
	printf("%d checks, %d failed\n", tr_test_count, tr_test_failed);
	return tr_test_failed ? 1 : 0;
}

#endif

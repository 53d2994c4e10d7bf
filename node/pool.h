/* pool.h: a fixed set of threads that run one job over many items in parallel: the
 * daemon verifies a batch's signatures on every core. The calling thread works too. */
#ifndef TR_POOL_H
#define TR_POOL_H

#include <stddef.h>

typedef struct tr_pool tr_pool;

/* threads: workers besides the caller (0: the caller does everything). */
int tr_pool_new(unsigned threads, tr_pool **out);
void tr_pool_free(tr_pool **p);
/* Runs fn(ctx, i) for i in [0, n) across the pool and the caller; returns when all are
 * done. fn must be safe to run concurrently for different i. */
void tr_pool_run(tr_pool *p, size_t n, void (*fn)(void *ctx, size_t i), void *ctx);

#endif

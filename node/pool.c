/* pool.c: see pool.h. Items are handed out one at a time from an atomic counter, so a
 * slow item does not hold up a whole share. */
#include "pool.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>

#include "banned.h"

struct tr_pool {
	pthread_mutex_t mu;
	pthread_cond_t work, done;
	unsigned nthreads;
	pthread_t *threads;
	unsigned long generation; /* bumped for each job */
	int stop;
	void (*fn)(void *ctx, size_t i);
	void *ctx;
	size_t n;
	atomic_size_t next;
	unsigned busy; /* workers still in the current job */
};

static void drain(tr_pool *p)
{
	size_t i;
	while ((i = atomic_fetch_add(&p->next, 1)) < p->n)
		p->fn(p->ctx, i);
}

static void *worker(void *arg)
{
	tr_pool *p = arg;
	unsigned long seen = 0;
	pthread_mutex_lock(&p->mu);
	for (;;) {
		while (!p->stop && p->generation == seen)
			pthread_cond_wait(&p->work, &p->mu);
		if (p->stop)
			break;
		seen = p->generation;
		pthread_mutex_unlock(&p->mu);
		drain(p);
		pthread_mutex_lock(&p->mu);
		if (--p->busy == 0)
			pthread_cond_signal(&p->done);
	}
	pthread_mutex_unlock(&p->mu);
	return NULL;
}

int tr_pool_new(unsigned threads, tr_pool **out)
{
	tr_pool *p = calloc(1, sizeof(*p));
	if (!p)
		return ENOMEM;
	pthread_mutex_init(&p->mu, NULL);
	pthread_cond_init(&p->work, NULL);
	pthread_cond_init(&p->done, NULL);
	p->threads = calloc(threads ? threads : 1, sizeof(pthread_t));
	if (!p->threads) {
		free(p);
		return ENOMEM;
	}
	for (; p->nthreads < threads; p->nthreads++) {
		int rc = pthread_create(&p->threads[p->nthreads], NULL, worker, p);
		if (rc) {
			*out = p;
			tr_pool_free(out);
			return rc;
		}
	}
	*out = p;
	return 0;
}

void tr_pool_run(tr_pool *p, size_t n, void (*fn)(void *ctx, size_t i), void *ctx)
{
	pthread_mutex_lock(&p->mu);
	p->fn = fn;
	p->ctx = ctx;
	p->n = n;
	atomic_store(&p->next, 0);
	p->busy = p->nthreads;
	p->generation++;
	pthread_cond_broadcast(&p->work);
	pthread_mutex_unlock(&p->mu);
	drain(p);
	pthread_mutex_lock(&p->mu);
	while (p->busy)
		pthread_cond_wait(&p->done, &p->mu);
	pthread_mutex_unlock(&p->mu);
}

void tr_pool_free(tr_pool **pp)
{
	tr_pool *p = *pp;
	if (!p)
		return;
	pthread_mutex_lock(&p->mu);
	p->stop = 1;
	pthread_cond_broadcast(&p->work);
	pthread_mutex_unlock(&p->mu);
	for (unsigned i = 0; i < p->nthreads; i++)
		pthread_join(p->threads[i], NULL);
	free(p->threads);
	pthread_mutex_destroy(&p->mu);
	pthread_cond_destroy(&p->work);
	pthread_cond_destroy(&p->done);
	free(p);
	*pp = NULL;
}

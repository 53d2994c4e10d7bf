/* bench.h: what trestle-bench's modes share (trestle_bench.c defines these). */
#ifndef TR_BENCH_H
#define TR_BENCH_H

#include <stdint.h>
#include <sys/resource.h>

/* CLOCK_MONOTONIC in seconds. */
double now(void);
/* Prints "trestle-bench: what: reason" and exits 1 (atexit handlers run). */
void die(const char *what, int rc);
/* Ed25519 sign and verify on one core, n of each: the sign rate, *verify_rate. */
double bench_sign(uint64_t n, double *verify_rate);
/* Runs argv (argv[0] a path) to completion; stdout to /dev/null if quiet. Exit status. */
int run(char *const argv[], struct rusage *ru, int quiet);

/* `trestle-bench sync ...` (sync_bench.c): argv[0] is "sync". */
int sync_main(int argc, char **argv);
/* `trestle-bench group ...` (group_bench.c). */
int group_main(int argc, char **argv);

#endif

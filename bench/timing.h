/* Clock and statistics shared by the benchmark programs. */
#ifndef LTRAIN_BENCH_TIMING_H
#define LTRAIN_BENCH_TIMING_H

#include <time.h>

/* CLOCK_MONOTONIC (wall time), or CLOCK_PROCESS_CPUTIME_ID under --cpu: CPU
 * time compares single-threaded runs on a machine shared with other work,
 * where wall time mostly measures waiting for a core. */
extern clockid_t bench_clock;

/* Microseconds on bench_clock. */
double bench_now_us(void);
/* Median of v[0..n) (sorts v). */
double bench_median(double *v, int n);

#endif

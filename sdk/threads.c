/* Thread count shared by OpenMP kernels and OpenBLAS. */
#include "internal.h"

#include <cblas.h>
#include <omp.h>
#include <unistd.h>

void lt_set_num_threads(int n)
{
    if (n <= 0) n = (int)sysconf(_SC_NPROCESSORS_ONLN);
    if (n <= 0) n = 1;
    omp_set_num_threads(n);
    openblas_set_num_threads(n);
}

int lt_get_num_threads(void) { return omp_get_max_threads(); }

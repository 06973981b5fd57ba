#define _POSIX_C_SOURCE 199309L
/* Median lease+release round trip of a known name through libportreg.
 * Usage: roundtrip REGISTRY_DIR [RUNS] -> prints "c <median_us>". */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include "portreg.h"

static int cmp(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int main(int argc, char **argv) {
    portreg_registry *reg = NULL;
    portreg_lease_options opts = portreg_lease_options_default();
    int runs = argc > 2 ? atoi(argv[2]) : 2000;
    double *t = malloc(sizeof(double) * (size_t)runs);
    uint16_t port = 0;
    int i;
    if (argc < 2 || !t || portreg_registry_open(argv[1], &reg) != PORTREG_STATUS_OK) {
        fprintf(stderr, "usage: roundtrip REGISTRY_DIR [RUNS]\n");
        return 2;
    }
    opts.range_low = 12000;
    opts.range_high = 12999;
    if (portreg_lease(reg, "bench-c", &opts, &port) != PORTREG_STATUS_OK ||
        portreg_release(reg, "bench-c", false) != PORTREG_STATUS_OK) {
        fprintf(stderr, "lease failed\n");
        return 1;
    }
    for (i = 0; i < runs; i++) {
        struct timespec a, b;
        clock_gettime(CLOCK_MONOTONIC, &a);
        if (portreg_lease(reg, "bench-c", &opts, &port) != PORTREG_STATUS_OK ||
            portreg_release(reg, "bench-c", false) != PORTREG_STATUS_OK) {
            fprintf(stderr, "lease failed at run %d\n", i);
            return 1;
        }
        clock_gettime(CLOCK_MONOTONIC, &b);
        t[i] = (double)(b.tv_sec - a.tv_sec) * 1e6 + (double)(b.tv_nsec - a.tv_nsec) / 1e3;
    }
    qsort(t, (size_t)runs, sizeof(double), cmp);
    printf("c %.1f\n", t[runs / 2]);
    free(t);
    portreg_registry_free(reg);
    return 0;
}

#define _POSIX_C_SOURCE 200112L
/* Lease + release of a known name through libportreg, three ways, in
 * alternating blocks so that all three see the same machine:
 *   registry  portreg_lease/portreg_release on a registry kept open;
 *   module    the one-call functions portreg_lease_port/portreg_release_port
 *             (the default registry, $PORTREG_HOME, set to REGISTRY_DIR/module);
 *   probe     the racy guess portreg is compared with: a TCP socket bound to
 *             port 0 on 127.0.0.1, its port read back, closed.
 * Usage: roundtrip REGISTRY_DIR [RUNS]
 *   -> prints "registry <median_us> module <median_us> probe <median_us>".
 *        roundtrip REGISTRY_DIR trace
 *   -> after three module round trips, one more between the lines "MARK"
 *      and "END" on stderr: under strace, the system calls of one. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include "portreg.h"

static int cmp(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double now_us(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec * 1e6 + (double)t.tv_nsec / 1e3;
}

static int probe(uint16_t *port) {
    struct sockaddr_in a;
    socklen_t len = sizeof a;
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0) return -1;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (bind(fd, (struct sockaddr *)&a, sizeof a) != 0 ||
        getsockname(fd, (struct sockaddr *)&a, &len) != 0) {
        close(fd);
        return -1;
    }
    *port = ntohs(a.sin_port);
    return close(fd);
}

/* One timed call of way `w`; 0 on success. */
static int once(int w, portreg_registry *reg, const portreg_lease_options *opts, double *us) {
    uint16_t port = 0;
    double a = now_us();
    int ok;
    if (w == 0)
        ok = portreg_lease(reg, "bench-c", opts, &port) == PORTREG_STATUS_OK &&
             portreg_release(reg, "bench-c", false) == PORTREG_STATUS_OK;
    else if (w == 1)
        ok = portreg_lease_port("bench-c-module", &port) == PORTREG_STATUS_OK &&
             portreg_release_port("bench-c-module") == PORTREG_STATUS_OK;
    else
        ok = probe(&port) == 0;
    *us = now_us() - a;
    return ok ? 0 : -1;
}

int main(int argc, char **argv) {
    static const char *names[3] = {"registry", "module", "probe"};
    portreg_registry *reg = NULL;
    portreg_lease_options opts = portreg_lease_options_default();
    int trace = argc > 2 && strcmp(argv[2], "trace") == 0;
    int runs = trace ? 100 : argc > 2 ? atoi(argv[2]) : 2000;
    int block = 100, w, i, done;
    double *t[3], us;
    char home[4096];
    if (argc < 2 || runs < block || portreg_registry_open(argv[1], &reg) != PORTREG_STATUS_OK) {
        fprintf(stderr, "usage: roundtrip REGISTRY_DIR [RUNS >= 100]\n");
        return 2;
    }
    snprintf(home, sizeof home, "%s/module", argv[1]);
    setenv("PORTREG_HOME", home, 1);
    setenv("PORTREG_RANGE", "12000-12999", 1);
    opts.range_low = 12000;
    opts.range_high = 12999;
    if (trace) {
        for (i = 0; i < 3; i++)
            if (once(1, reg, &opts, &us) != 0) return 1;
        fputs("MARK\n", stderr);
        i = once(1, reg, &opts, &us);
        fputs("END\n", stderr);
        portreg_registry_free(reg);
        return i == 0 ? 0 : 1;
    }
    for (w = 0; w < 3; w++) {
        t[w] = malloc(sizeof(double) * (size_t)runs);
        /* the first lease of a name writes it durably: not what is timed */
        if (!t[w] || once(w, reg, &opts, &us) != 0) {
            char msg[512];
            portreg_last_error(msg, sizeof msg);
            fprintf(stderr, "%s failed: %s\n", names[w], msg);
            return 1;
        }
    }
    for (done = 0; done < runs; done += block)
        for (w = 0; w < 3; w++)
            for (i = done; i < done + block && i < runs; i++)
                if (once(w, reg, &opts, &t[w][i]) != 0) {
                    fprintf(stderr, "%s failed at run %d\n", names[w], i);
                    return 1;
                }
    for (w = 0; w < 3; w++) {
        qsort(t[w], (size_t)runs, sizeof(double), cmp);
        printf("%s%s %.1f", w ? " " : "", names[w], t[w][runs / 2]);
        free(t[w]);
    }
    printf("\n");
    portreg_registry_free(reg);
    return 0;
}

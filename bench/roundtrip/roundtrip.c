#define _GNU_SOURCE
/* Lease + release of a known name through libportreg, three ways, and
 * what they are compared with, in
 * alternating blocks so that all of them see the same machine:
 *   registry  portreg_lease/portreg_release on a registry kept open;
 *   module    the one-call functions portreg_lease_port/portreg_release_port
 *             (the default registry, $PORTREG_HOME, set to REGISTRY_DIR/module);
 *   probe     the racy guess portreg is compared with: a TCP socket bound to
 *             port 0 on 127.0.0.1, its port read back, closed;
 *   calls     the 33 system calls a module round trip makes (`trace` below
 *             lists them), replayed on files of the same sizes with no
 *             logic between them: what the kernel's part costs alone.
 * Usage: roundtrip REGISTRY_DIR [RUNS]
 *   -> prints "registry <median_us> module <median_us> probe <median_us>
 *      calls <median_us>".
 *        roundtrip REGISTRY_DIR kinds
 *   -> what each kind of those calls costs alone ("socket <us> probe <us>
 *      exchange <us> statx-path <us> statx-fd <us> pwrite <us> flock <us>
 *      prlimit <us>": a socket created and closed; the probe, bound too;
 *      renameat2's exchange; a statx of a path and of an open file; a
 *      pwrite of 200 bytes; a flock and its unlock; a look at the
 *      file-size limit), the mean of 20,000 in a row.
 *        roundtrip REGISTRY_DIR trace
 *   -> after three module round trips, one more between the lines "MARK"
 *      and "END" on stderr: under strace, the system calls of one. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
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

/* The files the replayed calls use: a registry directory of their own and
 * a claims directory, as a module round trip sees them. */
struct replay {
    char dir[4096], config[4200], lock[4200], registry[4200], leases[4200], spare[4200];
    int lock_fd, claims_fd, claim_fd, registry_fd, spare_fd[2];
};

static int open_file(const char *path, const char *text) {
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd >= 0 && text && pwrite(fd, text, strlen(text), 0) < 0) {
        close(fd);
        return -1;
    }
    return fd;
}

static int replay_open(struct replay *r, const char *base) {
    char claims[4200];
    snprintf(r->dir, sizeof r->dir, "%s/calls", base);
    snprintf(claims, sizeof claims, "%s/calls-claims", base);
    snprintf(r->config, sizeof r->config, "%s/config.toml", r->dir);
    snprintf(r->lock, sizeof r->lock, "%s/registry.lock", r->dir);
    snprintf(r->registry, sizeof r->registry, "%s/registry.json", r->dir);
    snprintf(r->leases, sizeof r->leases, "%s/leases.json", r->dir);
    snprintf(r->spare, sizeof r->spare, "%s/.leases.json.spare", r->dir);
    if ((mkdir(r->dir, 0700) != 0 && errno != EEXIST) || (mkdir(claims, 0755) != 0 && errno != EEXIST))
        return -1;
    r->lock_fd = open_file(r->lock, NULL);
    r->claims_fd = open(claims, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    strncat(claims, "/12999", sizeof claims - strlen(claims) - 1);
    r->claim_fd = open_file(claims, NULL);
    r->spare_fd[0] = open_file(r->spare, NULL);
    r->spare_fd[1] = open_file(r->leases, "{}");
    r->registry_fd = open_file(r->registry, "{}");
    return r->lock_fd < 0 || r->claims_fd < 0 || r->claim_fd < 0 || r->registry_fd < 0 ||
                   r->spare_fd[0] < 0 || r->spare_fd[1] < 0
               ? -1
               : 0;
}

/* The probe: a dual-stack socket bound to the port, closed. */
static void replay_probe(void) {
    struct sockaddr_in6 a;
    int one = 1, fd = socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, IPPROTO_TCP);
    memset(&a, 0, sizeof a);
    a.sin6_family = AF_INET6;
    a.sin6_port = htons(12999);
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    bind(fd, (struct sockaddr *)&a, sizeof a);
    close(fd);
}

/* leases.json's new text written over it, padded to its length (a
 * registry that wrote the file last edits it in place, once the file-size
 * limit allows), the file looked at. */
static void replay_leases(struct replay *r, const char *text, size_t len) {
    struct statx sx;
    struct rlimit lim;
    int fd = r->spare_fd[1];
    getrlimit(RLIMIT_FSIZE, &lim);
    pwrite(fd, text, len, 0);
    statx(fd, "", AT_EMPTY_PATH, STATX_ALL, &sx);
}

/* Looks at the registry as a call does before deciding: the directory and
 * config.toml (did the settings change), the lock file (is it still the
 * one kept open), then, locked, registry.json and leases.json through the
 * files kept open (the lock file proves their directory). */
static void replay_look(struct replay *r) {
    struct statx sx;
    statx(AT_FDCWD, r->dir, 0, STATX_ALL, &sx);
    statx(AT_FDCWD, r->config, 0, STATX_ALL, &sx);
    statx(AT_FDCWD, r->lock, AT_SYMLINK_NOFOLLOW, STATX_ALL, &sx);
    flock(r->lock_fd, LOCK_EX | LOCK_NB);
    statx(r->registry_fd, "", AT_EMPTY_PATH, STATX_ALL, &sx);
    statx(r->spare_fd[1], "", AT_EMPTY_PATH, STATX_ALL, &sx);
}

/* The 33 calls of one module round trip, in their order. */
static void replay(struct replay *r) {
    static char claim[200], leased[561], released[561];
    struct stat st;
    replay_look(r); /* lease */
    fstat(r->claims_fd, &st);
    replay_probe();
    pwrite(r->claim_fd, claim, sizeof claim, 0);
    fstat(r->claims_fd, &st);
    replay_leases(r, leased, sizeof leased);
    flock(r->lock_fd, LOCK_UN);
    replay_look(r); /* release */
    replay_probe();
    replay_leases(r, released, sizeof released);
    flock(r->lock_fd, LOCK_UN);
    fstat(r->claims_fd, &st);
    pwrite(r->claim_fd, claim, sizeof claim, 0);
}

/* `roundtrip DIR kinds`: what each kind of call in the replay costs alone,
 * the mean of 20,000 in a row, printed as "socket <us> probe <us> ...". */
static int kinds(struct replay *r) {
    enum { N = 20000 };
    static char buf[561];
    struct statx sx;
    double a;
    int i, k;
    struct rlimit lim;
    for (k = 0; k < 8; k++) {
        a = now_us();
        for (i = 0; i < N; i++) switch (k) {
            case 0: close(socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, IPPROTO_TCP)); break;
            case 1: replay_probe(); break;
            case 2: renameat2(AT_FDCWD, r->spare, AT_FDCWD, r->leases, RENAME_EXCHANGE); break;
            case 3: statx(AT_FDCWD, r->registry, 0, STATX_ALL, &sx); break;
            case 4: statx(r->claim_fd, "", AT_EMPTY_PATH, STATX_ALL, &sx); break;
            case 5: pwrite(r->claim_fd, buf, 200, 0); break;
            case 6: flock(r->lock_fd, LOCK_EX | LOCK_NB); flock(r->lock_fd, LOCK_UN); break;
            default: getrlimit(RLIMIT_FSIZE, &lim);
        }
        printf("%s%s %.2f", k ? " " : "",
               (const char *[]){"socket", "probe", "exchange", "statx-path", "statx-fd", "pwrite",
                                "flock", "prlimit"}[k],
               (now_us() - a) / N);
    }
    printf("\n");
    return 0;
}

/* One timed call of way `w`; 0 on success. */
static int once(int w, portreg_registry *reg, const portreg_lease_options *opts, struct replay *r,
                double *us) {
    uint16_t port = 0;
    double a = now_us();
    int ok;
    if (w == 0)
        ok = portreg_lease(reg, "bench-c", opts, &port) == PORTREG_STATUS_OK &&
             portreg_release(reg, "bench-c", false) == PORTREG_STATUS_OK;
    else if (w == 1)
        ok = portreg_lease_port("bench-c-module", &port) == PORTREG_STATUS_OK &&
             portreg_release_port("bench-c-module") == PORTREG_STATUS_OK;
    else if (w == 2)
        ok = probe(&port) == 0;
    else {
        replay(r);
        ok = 1;
    }
    *us = now_us() - a;
    return ok ? 0 : -1;
}

int main(int argc, char **argv) {
    static const char *names[4] = {"registry", "module", "probe", "calls"};
    struct replay r;
    portreg_registry *reg = NULL;
    portreg_lease_options opts = portreg_lease_options_default();
    int trace = argc > 2 && strcmp(argv[2], "trace") == 0;
    int each = argc > 2 && strcmp(argv[2], "kinds") == 0;
    int runs = trace || each ? 100 : argc > 2 ? atoi(argv[2]) : 2000;
    int block = 100, w, i, done;
    double *t[4], us;
    char home[4096];
    if (argc < 2 || runs < block || portreg_registry_open(argv[1], &reg) != PORTREG_STATUS_OK) {
        fprintf(stderr, "usage: roundtrip REGISTRY_DIR [RUNS >= 100 | kinds | trace]\n");
        return 2;
    }
    snprintf(home, sizeof home, "%s/module", argv[1]);
    setenv("PORTREG_HOME", home, 1);
    setenv("PORTREG_RANGE", "12000-12999", 1);
    opts.range_low = 12000;
    opts.range_high = 12999;
    if (replay_open(&r, argv[1]) != 0) {
        perror("the replayed calls' files");
        return 1;
    }
    if (each) return kinds(&r);
    if (trace) {
        for (i = 0; i < 3; i++)
            if (once(1, reg, &opts, &r, &us) != 0) return 1;
        fputs("MARK\n", stderr);
        i = once(1, reg, &opts, &r, &us);
        fputs("END\n", stderr);
        portreg_registry_free(reg);
        return i == 0 ? 0 : 1;
    }
    for (w = 0; w < 4; w++) {
        t[w] = malloc(sizeof(double) * (size_t)runs);
        /* the first lease of a name writes it durably: not what is timed */
        if (!t[w] || once(w, reg, &opts, &r, &us) != 0) {
            char msg[512];
            portreg_last_error(msg, sizeof msg);
            fprintf(stderr, "%s failed: %s\n", names[w], msg);
            return 1;
        }
    }
    for (done = 0; done < runs; done += block)
        for (w = 0; w < 4; w++)
            for (i = done; i < done + block && i < runs; i++)
                if (once(w, reg, &opts, &r, &t[w][i]) != 0) {
                    fprintf(stderr, "%s failed at run %d\n", names[w], i);
                    return 1;
                }
    for (w = 0; w < 4; w++) {
        qsort(t[w], (size_t)runs, sizeof(double), cmp);
        printf("%s%s %.1f", w ? " " : "", names[w], t[w][runs / 2]);
        free(t[w]);
    }
    printf("\n");
    portreg_registry_free(reg);
    return 0;
}

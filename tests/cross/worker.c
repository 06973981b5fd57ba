/* Soak worker in C: lease a name from the shared pool through libportreg,
 * bind and listen on the port (a failure means another live process holds
 * it: a violation), hold it briefly, release, repeat until killed or the
 * deadline. Usage: worker REGISTRY DEADLINE_UNIX POOL_SIZE */
#define _POSIX_C_SOURCE 200809L
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include "portreg.h"

/* An unexpected failure: one ERROR line the soak counts as a failure. */
static void report(const char *op, const char *name, portreg_status st) {
    char msg[512];
    portreg_last_error(msg, sizeof msg);
    printf("ERROR c %s %s: %s %s\n", op, name, portreg_status_str((uint32_t)st), msg);
}

int main(int argc, char **argv) {
    portreg_registry *reg = NULL;
    portreg_lease_options opts = portreg_lease_options_default();
    long deadline = argc > 2 ? atol(argv[2]) : 0;
    int pool = argc > 3 ? atoi(argv[3]) : 12;
    unsigned leases = 0, held = 0, violations = 0, other = 0;
    char name[32];
    if (argc < 4 || portreg_registry_open(argv[1], &reg) != PORTREG_STATUS_OK) return 2;
    setvbuf(stdout, NULL, _IOLBF, 0); /* a VIOLATION line must survive a SIGKILL */
    srand((unsigned)getpid());
    opts.range_low = 27000;
    opts.range_high = 27099;
    while (time(NULL) < deadline) {
        uint16_t port = 0;
        portreg_status st;
        snprintf(name, sizeof name, "svc-%d", rand() % pool);
        st = portreg_lease(reg, name, &opts, &port);
        if (st == PORTREG_STATUS_LEASE_HELD) { held++; continue; }
        if (st != PORTREG_STATUS_OK) {
            report("lease", name, st);
            other++;
            continue;
        }
        leases++;
        {
            int s = socket(AF_INET, SOCK_STREAM, 0), one = 1;
            struct sockaddr_in a;
            struct timespec nap = {0, (long)(rand() % 20 + 2) * 1000000L};
            memset(&a, 0, sizeof a);
            a.sin_family = AF_INET;
            a.sin_port = htons(port);
            a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
            setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
            if (bind(s, (struct sockaddr *)&a, sizeof a) != 0 || listen(s, 8) != 0) {
                printf("VIOLATION c %s port %u: %s\n", name, (unsigned)port, strerror(errno));
                violations++;
            }
            nanosleep(&nap, NULL);
            close(s);
        }
        st = portreg_release(reg, name, false);
        if (st != PORTREG_STATUS_OK) {
            report("release", name, st);
            other++;
        }
    }
    printf("DONE c leases=%u held=%u violations=%u other=%u\n", leases, held, violations, other);
    portreg_registry_free(reg);
    return 0;
}

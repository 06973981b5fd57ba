/*
 * Built by scripts/test-c.sh against an installed libportreg with nothing but
 * `pkg-config --cflags --libs portreg`: proves the install (library, header,
 * portreg.pc) is usable on its own.
 *
 * Usage: pkgconfig_smoke REGISTRY_DIR
 */
#include <stdio.h>
#include <string.h>

#include <portreg.h>

int main(int argc, char **argv) {
    portreg_registry *reg = NULL;
    portreg_entry *entry = NULL;
    uint16_t port = 0;
    char msg[512];
    int ok;

    if (argc != 2) {
        fprintf(stderr, "usage: %s REGISTRY_DIR\n", argv[0]);
        return 2;
    }
    if (strcmp(portreg_version(), PORTREG_VERSION) != 0) {
        fprintf(stderr, "header %s but library %s\n", PORTREG_VERSION, portreg_version());
        return 1;
    }
    if (portreg_registry_open(argv[1], &reg) != PORTREG_STATUS_OK ||
        portreg_lease(reg, "pkg-config-smoke", NULL, &port) != PORTREG_STATUS_OK ||
        portreg_get(reg, "pkg-config-smoke", &entry) != PORTREG_STATUS_OK) {
        portreg_last_error(msg, sizeof msg);
        fprintf(stderr, "pkgconfig_smoke: %s\n", msg);
        portreg_registry_free(reg);
        return 1;
    }
    ok = portreg_entry_port(entry) == port && strcmp(portreg_entry_state(entry), "active") == 0;
    portreg_entry_free(entry);
    ok = ok && portreg_release(reg, "pkg-config-smoke", false) == PORTREG_STATUS_OK;
    portreg_registry_free(reg);
    printf("pkgconfig_smoke: libportreg %s leased port %u and released it\n", portreg_version(),
           (unsigned)port);
    return ok ? 0 : 1;
}

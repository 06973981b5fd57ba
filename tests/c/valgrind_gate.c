/*
 * Leaks a registry handle and a list on purpose. scripts/test-c.sh runs it
 * under the same valgrind options as the real tests and requires valgrind to
 * fail, so a memory check that has stopped working cannot pass silently.
 *
 * Usage: valgrind_gate REGISTRY_DIR
 */
#include <stdio.h>

#include "portreg.h"

int main(int argc, char **argv) {
    portreg_registry *reg = NULL;
    portreg_entry_list *list = NULL;
    uint16_t port = 0;
    if (argc != 2 || portreg_registry_open(argv[1], &reg) != PORTREG_STATUS_OK ||
        portreg_lease(reg, "leaky", NULL, &port) != PORTREG_STATUS_OK ||
        portreg_list(reg, &list) != PORTREG_STATUS_OK) {
        fprintf(stderr, "valgrind_gate: setup failed\n");
        return 2;
    }
    printf("valgrind_gate: %u entries listed, handle and list not freed\n",
           (unsigned)portreg_list_len(list));
    return 0;
}

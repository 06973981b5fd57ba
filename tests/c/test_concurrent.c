/*
 * One registry, two languages, at once: CLI_PROCS `portreg lease` processes
 * (Rust) and THREADS threads of this C process sharing one registry handle
 * all lease names from one small range at the same moment. Every port must
 * be unique, and the CLI's `list --json` must agree with the C API on every
 * name's port.
 *
 * Usage: test_concurrent PORTREG_CLI
 */
#define _POSIX_C_SOURCE 200809L

#include <pthread.h>

#include "check.h"
#include "json.h"

#define CLI_PROCS 12
#define THREADS 4
#define PER_THREAD 8
#define TOTAL (CLI_PROCS + THREADS * PER_THREAD)
#define LOW 23500u
#define HIGH 23599u

static portreg_registry *reg;
static pthread_mutex_t go_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t go_cond = PTHREAD_COND_INITIALIZER;
static int go = 0;

typedef struct result {
    char name[32];
    uint16_t port;
    int status; /* a portreg_status, or the CLI's exit status */
} result;

static result results[TOTAL];

static void *lease_names(void *arg) {
    int t = (int)(size_t)arg;
    int i;
    portreg_lease_options opts = portreg_lease_options_default();
    opts.range_low = LOW;
    opts.range_high = HIGH;
    pthread_mutex_lock(&go_lock);
    while (!go) {
        pthread_cond_wait(&go_cond, &go_lock);
    }
    pthread_mutex_unlock(&go_lock);
    for (i = 0; i < PER_THREAD; i++) {
        result *r = &results[CLI_PROCS + t * PER_THREAD + i];
        snprintf(r->name, sizeof r->name, "c-%d-%d", t, i);
        r->status = (int)portreg_lease(reg, r->name, &opts, &r->port);
    }
    return NULL;
}

int main(int argc, char **argv) {
    char base[1024], dir[2048], range[32];
    pid_t pids[CLI_PROCS];
    int outs[CLI_PROCS];
    int go_pipe[2];
    pthread_t threads[THREADS];
    portreg_entry_list *list = NULL;
    json_value cli_list;
    char *json_text;
    const char *why;
    int i, j, distinct = 0;
    size_t k;

    if (argc != 2) {
        fprintf(stderr, "usage: %s PORTREG_CLI\n", argv[0]);
        return 2;
    }
    make_temp_dir(base, sizeof base, "concurrent");
    snprintf(dir, sizeof dir, "%s/reg", base);
    snprintf(range, sizeof range, "%u-%u", LOW, HIGH);
    CHECK_OK(portreg_registry_open(dir, &reg));
    if (reg == NULL) {
        return check_finish("test_concurrent");
    }

    /* Start the CLI processes first; each waits on the go pipe, then execs. */
    if (pipe(go_pipe) != 0) {
        die("pipe");
    }
    for (i = 0; i < CLI_PROCS; i++) {
        int out[2];
        char name[32];
        snprintf(results[i].name, sizeof results[i].name, "cli-%d", i);
        memcpy(name, results[i].name, sizeof name);
        if (pipe(out) != 0) {
            die("pipe");
        }
        pids[i] = fork();
        if (pids[i] < 0) {
            die("fork");
        }
        if (pids[i] == 0) {
            char byte;
            close(go_pipe[1]);
            dup2(out[1], 1);
            close(out[0]);
            close(out[1]);
            while (read(go_pipe[0], &byte, 1) < 0 && errno == EINTR) {
            }
            execl(argv[1], argv[1], "--registry", dir, "lease", name, "--range", range, (char *)NULL);
            _exit(127);
        }
        close(out[1]);
        outs[i] = out[0];
    }
    close(go_pipe[0]);
    for (i = 0; i < THREADS; i++) {
        CHECK(pthread_create(&threads[i], NULL, lease_names, (void *)(size_t)i) == 0);
    }

    /* Go: closing the pipe releases every CLI process, the broadcast every thread. */
    close(go_pipe[1]);
    pthread_mutex_lock(&go_lock);
    go = 1;
    pthread_cond_broadcast(&go_cond);
    pthread_mutex_unlock(&go_lock);

    for (i = 0; i < THREADS; i++) {
        CHECK(pthread_join(threads[i], NULL) == 0);
    }
    for (i = 0; i < CLI_PROCS; i++) {
        char out[64];
        ssize_t n, got = 0;
        int status = 0;
        while ((n = read(outs[i], out + got, sizeof out - 1 - (size_t)got)) > 0 ||
               (n < 0 && errno == EINTR)) {
            got += n > 0 ? n : 0;
        }
        out[got] = '\0';
        close(outs[i]);
        while (waitpid(pids[i], &status, 0) < 0 && errno == EINTR) {
        }
        results[i].status = WIFEXITED(status) ? WEXITSTATUS(status) : 128;
        results[i].port = (uint16_t)strtol(out, NULL, 10);
    }

    /* Every lease succeeded, in range, and no port was handed out twice. */
    for (i = 0; i < TOTAL; i++) {
        int is_new = 1;
        if (results[i].status != 0) {
            fprintf(stderr, "%s: lease failed with %d\n", results[i].name, results[i].status);
        }
        CHECK(results[i].status == 0);
        CHECK(results[i].port >= LOW && results[i].port <= HIGH);
        for (j = 0; j < i; j++) {
            if (results[i].port == results[j].port) {
                is_new = 0;
                fprintf(stderr, "duplicate port %u: %s and %s\n", results[i].port, results[i].name,
                        results[j].name);
            }
            CHECK(results[i].port != results[j].port);
        }
        distinct += is_new;
    }

    /* The registry, read from C, holds exactly these leases. */
    CHECK_OK(portreg_list(reg, &list));
    CHECK(portreg_list_len(list) == TOTAL);
    for (i = 0; i < TOTAL; i++) {
        int found = 0;
        for (k = 0; k < portreg_list_len(list); k++) {
            const portreg_entry *e = portreg_list_get(list, k);
            if (str_eq(portreg_entry_name(e), results[i].name)) {
                found = 1;
                CHECK(portreg_entry_port(e) == results[i].port);
                CHECK(str_eq(portreg_entry_state(e), "active"));
                CHECK(portreg_entry_holder_pid(e) == (uint32_t)getpid());
            }
        }
        CHECK(found);
    }
    portreg_list_free(list);

    /* And read by the CLI, the same. */
    json_text = (char *)malloc(1 << 20);
    if (json_text == NULL) {
        die("malloc");
    }
    {
        char *cli_argv[7];
        cli_argv[0] = argv[1];
        cli_argv[1] = (char *)"--registry";
        cli_argv[2] = dir;
        cli_argv[3] = (char *)"list";
        cli_argv[4] = (char *)"--all";
        cli_argv[5] = (char *)"--json";
        cli_argv[6] = NULL;
        CHECK(run_argv(cli_argv, json_text, 1 << 20) == 0);
    }
    why = json_parse(json_text, strlen(json_text), &cli_list);
    free(json_text);
    CHECK(why == NULL);
    if (why == NULL) {
        CHECK(cli_list.kind == JSON_ARRAY && cli_list.len == TOTAL);
        for (k = 0; k < cli_list.len; k++) {
            const json_value *name = json_get(&cli_list.items[k], "name");
            const json_value *port = json_get(&cli_list.items[k], "port");
            int found = 0;
            CHECK(name != NULL && name->kind == JSON_STRING && port != NULL && port->kind == JSON_NUMBER);
            for (i = 0; name != NULL && port != NULL && i < TOTAL; i++) {
                if (str_eq(results[i].name, name->string)) {
                    found = 1;
                    CHECK((double)results[i].port == port->number);
                }
            }
            CHECK(found);
        }
        json_free(&cli_list);
    } else {
        fprintf(stderr, "portreg list --json gave invalid JSON: %s\n", why);
    }

    printf("test_concurrent: %d leases (%d from CLI processes, %d from %d C threads), %d distinct ports\n",
           TOTAL, CLI_PROCS, THREADS * PER_THREAD, THREADS, distinct);
    portreg_registry_free(reg);
    remove_tree(base);
    return check_finish("test_concurrent");
}

/*
 * Every function of libportreg from C: success paths against a real registry
 * directory, real processes and real sockets, and every error path (NULL
 * pointers, invalid UTF-8, over-long names, each status a C caller can meet).
 *
 * Usage: test_api PORTREG_CLI EXPECTED_VERSION
 * Ports come from 23000-23499; registries live in a temporary directory.
 */
#define _POSIX_C_SOURCE 200809L

#include <pthread.h>

#include "check.h"

#define LOW 23000u
#define HIGH 23499u

static char base[1024];
static const char *cli_path;

/* A fresh registry directory under `base` (not created yet: open creates it). */
static void registry_dir(char *out, size_t len, const char *tag) {
    snprintf(out, len, "%s/%s", base, tag);
}

static portreg_registry *open_registry(const char *tag) {
    char dir[2048];
    portreg_registry *reg = NULL;
    registry_dir(dir, sizeof dir, tag);
    CHECK_OK(portreg_registry_open(dir, &reg));
    if (reg == NULL) {
        fprintf(stderr, "cannot open a registry in %s: %s\n", dir, last_error());
        exit(2);
    }
    return reg;
}

static int in_range(unsigned port, unsigned low, unsigned high) {
    return port >= low && port <= high;
}

/* Runs the portreg CLI on registry `dir`; its stdout goes to `out`. */
static int run_cli(const char *dir, char *out, size_t out_len, const char *a1, const char *a2,
                   const char *a3, const char *a4, const char *a5, const char *a6, const char *a7,
                   const char *a8) {
    char *argv[12];
    argv[0] = (char *)cli_path;
    argv[1] = (char *)"--registry";
    argv[2] = (char *)dir;
    argv[3] = (char *)a1;
    argv[4] = (char *)a2;
    argv[5] = (char *)a3;
    argv[6] = (char *)a4;
    argv[7] = (char *)a5;
    argv[8] = (char *)a6;
    argv[9] = (char *)a7;
    argv[10] = (char *)a8;
    argv[11] = NULL;
    return run_argv(argv, out, out_len);
}

static void test_version(const char *expected) {
    char parts[64];
    CHECK(str_eq(PORTREG_VERSION, expected));
    CHECK(str_eq(portreg_version(), PORTREG_VERSION));
    snprintf(parts, sizeof parts, "%d.%d.%d", PORTREG_VERSION_MAJOR, PORTREG_VERSION_MINOR,
             PORTREG_VERSION_PATCH);
    CHECK(str_eq(parts, PORTREG_VERSION));
    CHECK(PORTREG_MAX_NAME_LEN == 64);
}

static void test_status_names(void) {
    /* The header's numbers, the library's names and docs/design.md's spellings agree. */
    static const struct {
        portreg_status status;
        unsigned number;
        const char *name;
    } table[] = {
        {PORTREG_STATUS_OK, 0, "OK"},
        {PORTREG_STATUS_INVALID_NAME, 1, "INVALID_NAME"},
        {PORTREG_STATUS_INVALID_PORT, 2, "INVALID_PORT"},
        {PORTREG_STATUS_INVALID_RANGE, 3, "INVALID_RANGE"},
        {PORTREG_STATUS_NOT_FOUND, 4, "NOT_FOUND"},
        {PORTREG_STATUS_LEASE_HELD, 5, "LEASE_HELD"},
        {PORTREG_STATUS_PORT_TAKEN, 6, "PORT_TAKEN"},
        {PORTREG_STATUS_PORT_BUSY, 7, "PORT_BUSY"},
        {PORTREG_STATUS_NO_FREE_PORT, 8, "NO_FREE_PORT"},
        {PORTREG_STATUS_NOT_HOLDER, 9, "NOT_HOLDER"},
        {PORTREG_STATUS_REGISTRY_CORRUPT, 10, "REGISTRY_CORRUPT"},
        {PORTREG_STATUS_REGISTRY_VERSION, 11, "REGISTRY_VERSION"},
        {PORTREG_STATUS_PERMISSION, 12, "PERMISSION"},
        {PORTREG_STATUS_IO, 13, "IO"},
        {PORTREG_STATUS_PROCESS, 14, "PROCESS"},
        {PORTREG_STATUS_INTERNAL, 15, "INTERNAL"},
        {PORTREG_STATUS_INVALID_CONFIG, 16, "INVALID_CONFIG"},
        {PORTREG_STATUS_INVALID_TEXT, 17, "INVALID_TEXT"},
        {PORTREG_STATUS_REGISTRY_FULL, 18, "REGISTRY_FULL"},
        {PORTREG_STATUS_LOCK_TIMEOUT, 19, "LOCK_TIMEOUT"},
        {PORTREG_STATUS_INVALID_ARGUMENT, 20, "INVALID_ARGUMENT"},
    };
    size_t i;
    for (i = 0; i < sizeof table / sizeof table[0]; i++) {
        CHECK((unsigned)table[i].status == table[i].number);
        CHECK(str_eq(portreg_status_str(table[i].status), table[i].name));
    }
    CHECK(sizeof(portreg_status) == 4);
    CHECK(str_eq(portreg_status_str(21), "UNKNOWN"));
    CHECK(str_eq(portreg_status_str(0xFFFFFFFFu), "UNKNOWN"));
}

static void *other_thread_error(void *arg) {
    char buf[256];
    uint16_t port = 0;
    (void)arg;
    /* A fresh thread has no last error, whatever the main thread did. */
    buf[0] = 'x';
    CHECK(portreg_last_error(buf, sizeof buf) == 0);
    CHECK(buf[0] == '\0');
    CHECK_STATUS(portreg_lease_port("other thread", &port), PORTREG_STATUS_INVALID_NAME);
    CHECK(contains(last_error(), "other thread"));
    return NULL;
}

static void test_last_error(void) {
    char buf[512], small[8];
    size_t n;
    pthread_t t;
    uint16_t port = 4321;
    CHECK_STATUS(portreg_lease_port("bad name", &port), PORTREG_STATUS_INVALID_NAME);
    CHECK(port == 4321);
    n = portreg_last_error(NULL, 0);
    CHECK(n > 20);
    CHECK(portreg_last_error(buf, sizeof buf) == n);
    CHECK(strlen(buf) == n);
    CHECK(contains(buf, "\"bad name\""));
    CHECK(contains(buf, "letters, digits"));
    /* snprintf semantics: truncated to len - 1 bytes plus NUL, full length returned. */
    memset(small, '#', sizeof small);
    CHECK(portreg_last_error(small, 5) == n);
    CHECK(small[4] == '\0' && strncmp(small, buf, 4) == 0 && small[5] == '#');
    memset(small, '#', sizeof small);
    CHECK(portreg_last_error(small, 1) == n);
    CHECK(small[0] == '\0' && small[1] == '#');
    memset(small, '#', sizeof small);
    CHECK(portreg_last_error(small, 0) == n);
    CHECK(small[0] == '#');
    /* No LEASE_HELD, so no holder. */
    CHECK(!portreg_last_error_holder(NULL, NULL));
    /* Per thread. */
    CHECK(pthread_create(&t, NULL, other_thread_error, NULL) == 0);
    CHECK(pthread_join(t, NULL) == 0);
    CHECK(contains(last_error(), "\"bad name\""));
    /* A successful call clears it. */
    CHECK_OK(portreg_range_parse("23000-23010", &port, &port));
    CHECK(portreg_last_error(NULL, 0) == 0);
    CHECK(portreg_last_error(buf, sizeof buf) == 0 && buf[0] == '\0');
}

static void test_open(void) {
    char dir[2048], path[2048], file[2048], buf[4096];
    portreg_registry *reg = NULL;
    portreg_registry *sentinel = (portreg_registry *)&reg;
    size_t n;

    /* NULL path: the default registry, $PORTREG_HOME. */
    CHECK_OK(portreg_registry_open(NULL, &reg));
    n = portreg_registry_path(reg, buf, sizeof buf);
    CHECK(n == strlen(getenv("PORTREG_HOME")) && str_eq(buf, getenv("PORTREG_HOME")));
    CHECK(portreg_registry_path(reg, NULL, 0) == n);
    CHECK(portreg_registry_path(reg, buf, 3) == n && strlen(buf) == 2);
    CHECK(portreg_registry_path(NULL, buf, sizeof buf) == 0);
    portreg_registry_free(reg);

    /* An explicit directory is created with mode 0700. */
    registry_dir(dir, sizeof dir, "opened");
    reg = NULL;
    CHECK_OK(portreg_registry_open(dir, &reg));
    CHECK(reg != NULL);
    {
        struct stat st;
        CHECK(stat(dir, &st) == 0 && (st.st_mode & 0777) == 0700);
    }
    portreg_registry_free(reg);
    portreg_registry_free(NULL);

    /* Errors leave the out-parameter alone. */
    CHECK_STATUS(portreg_registry_open(dir, NULL), PORTREG_STATUS_INVALID_ARGUMENT);
    CHECK(contains(last_error(), "registry_out"));

    snprintf(file, sizeof file, "%s/a-file", base);
    write_file(base, "a-file", "not a directory\n");
    reg = sentinel;
    CHECK_STATUS(portreg_registry_open(file, &reg), PORTREG_STATUS_IO);
    CHECK(reg == sentinel);
    CHECK(contains(last_error(), "not a directory"));

    snprintf(path, sizeof path, "%s/missing-parent/reg", base);
    CHECK_STATUS(portreg_registry_open(path, &reg), PORTREG_STATUS_IO);
    CHECK(contains(last_error(), "does not exist"));
    CHECK(reg == sentinel);

    registry_dir(path, sizeof path, "shared-with-everyone");
    CHECK(mkdir(path, 0700) == 0 && chmod(path, 0777) == 0);
    CHECK_STATUS(portreg_registry_open(path, &reg), PORTREG_STATUS_PERMISSION);
    CHECK(contains(last_error(), "chmod 700"));
    CHECK(reg == sentinel);

    /* A malformed PORTREG_RANGE is reported, not ignored. */
    setenv("PORTREG_RANGE", "9000-8000", 1);
    CHECK_STATUS(portreg_registry_open(dir, &reg), PORTREG_STATUS_INVALID_RANGE);
    CHECK(contains(last_error(), "PORTREG_RANGE"));
    CHECK(reg == sentinel);
    setenv("PORTREG_RANGE", "23000-23499", 1);
}

static void test_bad_arguments(portreg_registry *reg) {
    /* 100 bytes without a NUL in a heap block of exactly that size: refused
       without reading past it (valgrind would report the overread). */
    char *unterminated = (char *)malloc(100);
    char long_name[200];
    uint16_t port = 4321, low = 1, high = 2;
    portreg_entry *entry = (portreg_entry *)&port;
    portreg_entry *entry_sentinel = entry;
    portreg_entry_list *list = (portreg_entry_list *)&port;
    portreg_entry_list *list_sentinel = list;
    portreg_who_info *who = (portreg_who_info *)&port;
    portreg_who_info *who_sentinel = who;
    portreg_lease_options opts = portreg_lease_options_default();
    const char bad_utf8[] = {'w', 'e', 'b', (char)0xff, 0};
    const char bad_text[] = {'c', 'a', 'f', (char)0xc3, 0};

    memset(unterminated, 'a', 100);
    memset(long_name, 'a', sizeof long_name);
    long_name[65] = '\0';

    /* NULL registry handles. */
    CHECK_STATUS(portreg_lease(NULL, "web", NULL, &port), PORTREG_STATUS_INVALID_ARGUMENT);
    CHECK(contains(last_error(), "registry is NULL"));
    CHECK_STATUS(portreg_release(NULL, "web", false), PORTREG_STATUS_INVALID_ARGUMENT);
    CHECK_STATUS(portreg_get(NULL, "web", &entry), PORTREG_STATUS_INVALID_ARGUMENT);
    CHECK_STATUS(portreg_list(NULL, &list), PORTREG_STATUS_INVALID_ARGUMENT);
    CHECK_STATUS(portreg_reserve(NULL, "web", 23001, NULL), PORTREG_STATUS_INVALID_ARGUMENT);
    CHECK_STATUS(portreg_forget(NULL, "web", false), PORTREG_STATUS_INVALID_ARGUMENT);
    CHECK_STATUS(portreg_find_free(NULL, 0, 0, &port), PORTREG_STATUS_INVALID_ARGUMENT);
    CHECK_STATUS(portreg_clean(NULL, NULL), PORTREG_STATUS_INVALID_ARGUMENT);
    CHECK_STATUS(portreg_who(NULL, 23001, &who), PORTREG_STATUS_INVALID_ARGUMENT);
    CHECK_STATUS(portreg_who_name(NULL, "web", &who), PORTREG_STATUS_INVALID_ARGUMENT);

    /* NULL names. */
    CHECK_STATUS(portreg_lease(reg, NULL, NULL, &port), PORTREG_STATUS_INVALID_ARGUMENT);
    CHECK(contains(last_error(), "name is NULL"));
    CHECK_STATUS(portreg_release(reg, NULL, false), PORTREG_STATUS_INVALID_ARGUMENT);
    CHECK_STATUS(portreg_get(reg, NULL, &entry), PORTREG_STATUS_INVALID_ARGUMENT);
    CHECK_STATUS(portreg_reserve(reg, NULL, 23001, NULL), PORTREG_STATUS_INVALID_ARGUMENT);
    CHECK_STATUS(portreg_forget(reg, NULL, false), PORTREG_STATUS_INVALID_ARGUMENT);
    CHECK_STATUS(portreg_who_name(reg, NULL, &who), PORTREG_STATUS_INVALID_ARGUMENT);
    CHECK_STATUS(portreg_lease_port(NULL, &port), PORTREG_STATUS_INVALID_ARGUMENT);
    CHECK_STATUS(portreg_release_port(NULL), PORTREG_STATUS_INVALID_ARGUMENT);

    /* NULL out-parameters: refused before anything is done. */
    CHECK_STATUS(portreg_lease(reg, "no-out", NULL, NULL), PORTREG_STATUS_INVALID_ARGUMENT);
    CHECK(contains(last_error(), "port_out is NULL"));
    CHECK_STATUS(portreg_get(reg, "no-out", &entry), PORTREG_STATUS_NOT_FOUND);
    CHECK_STATUS(portreg_get(reg, "no-out", NULL), PORTREG_STATUS_INVALID_ARGUMENT);
    CHECK_STATUS(portreg_list(reg, NULL), PORTREG_STATUS_INVALID_ARGUMENT);
    CHECK_STATUS(portreg_find_free(reg, 0, 0, NULL), PORTREG_STATUS_INVALID_ARGUMENT);
    CHECK_STATUS(portreg_who(reg, 23001, NULL), PORTREG_STATUS_INVALID_ARGUMENT);
    CHECK_STATUS(portreg_who_name(reg, "no-out", NULL), PORTREG_STATUS_INVALID_ARGUMENT);
    CHECK_STATUS(portreg_lease_port("no-out", NULL), PORTREG_STATUS_INVALID_ARGUMENT);
    CHECK_STATUS(portreg_range_parse(NULL, &low, &high), PORTREG_STATUS_INVALID_ARGUMENT);
    CHECK_STATUS(portreg_range_parse("23000-23010", NULL, &high), PORTREG_STATUS_INVALID_ARGUMENT);
    CHECK_STATUS(portreg_range_parse("23000-23010", &low, NULL), PORTREG_STATUS_INVALID_ARGUMENT);

    /* Invalid UTF-8 (a bad argument) and over-long names (a bad name). */
    CHECK_STATUS(portreg_lease(reg, bad_utf8, NULL, &port), PORTREG_STATUS_INVALID_ARGUMENT);
    CHECK(contains(last_error(), "not valid UTF-8"));
    CHECK_STATUS(portreg_get(reg, bad_utf8, &entry), PORTREG_STATUS_INVALID_ARGUMENT);
    CHECK_STATUS(portreg_lease(reg, unterminated, NULL, &port), PORTREG_STATUS_INVALID_NAME);
    CHECK(contains(last_error(), "longer than 64"));
    CHECK_STATUS(portreg_reserve(reg, unterminated, 23001, NULL), PORTREG_STATUS_INVALID_NAME);
    CHECK_STATUS(portreg_lease_port(unterminated, &port), PORTREG_STATUS_INVALID_NAME);
    CHECK_STATUS(portreg_lease(reg, long_name, NULL, &port), PORTREG_STATUS_INVALID_NAME);
    long_name[64] = '\0'; /* exactly 64: a valid name */
    CHECK_OK(portreg_lease(reg, long_name, NULL, &port));
    CHECK(in_range(port, LOW, HIGH));
    CHECK_OK(portreg_forget(reg, long_name, false));

    /* Bad text in a description, bad range text. */
    opts.description = bad_text;
    port = 4321;
    CHECK_STATUS(portreg_lease(reg, "described", &opts, &port), PORTREG_STATUS_INVALID_ARGUMENT);
    CHECK(contains(last_error(), "description is not valid UTF-8"));
    CHECK_STATUS(portreg_reserve(reg, "described", 23001, bad_text), PORTREG_STATUS_INVALID_ARGUMENT);
    CHECK_STATUS(portreg_range_parse(bad_text, &low, &high), PORTREG_STATUS_INVALID_RANGE);

    /* No out-parameter was written by any failed call. */
    CHECK(port == 4321 && low == 1 && high == 2);
    CHECK(entry == entry_sentinel && list == list_sentinel && who == who_sentinel);
    CHECK_STATUS(portreg_get(reg, "described", &entry), PORTREG_STATUS_NOT_FOUND);
    free(unterminated);
}

static void test_lease(portreg_registry *reg) {
    uint16_t port = 0, again = 0, other = 0;
    portreg_entry *entry = NULL;
    const portreg_holder *holder;
    portreg_lease_options opts = portreg_lease_options_default();
    int fd;

    CHECK(!opts.has_port && opts.port == 0 && !opts.exact && opts.range_low == 0 &&
          opts.range_high == 0 && opts.pid == 0 && opts.description == NULL &&
          opts.meta == NULL && opts.meta_len == 0);

    /* Defaults: the registry's range (PORTREG_RANGE), held by this process. */
    CHECK_OK(portreg_lease(reg, "web", NULL, &port));
    CHECK(in_range(port, LOW, HIGH));
    fd = listen_on(port);
    CHECK(fd >= 0); /* the OS agrees the port was free */
    close(fd);

    /* Idempotent for the holder, case-insensitive, first spelling kept. */
    CHECK_OK(portreg_lease(reg, "web", NULL, &again));
    CHECK(again == port);
    CHECK_OK(portreg_lease(reg, "WEB", NULL, &again));
    CHECK(again == port);
    CHECK_OK(portreg_get(reg, "Web", &entry));
    CHECK(str_eq(portreg_entry_name(entry), "web"));
    CHECK(portreg_entry_port(entry) == port);
    CHECK(str_eq(portreg_entry_state(entry), "active"));
    CHECK(!portreg_entry_reserved(entry));
    CHECK(portreg_entry_description(entry) == NULL);
    CHECK(portreg_entry_holder_pid(entry) == (uint32_t)getpid());
    holder = portreg_entry_holder(entry);
    CHECK(holder != NULL);
    CHECK(portreg_holder_pid(holder) == (uint32_t)getpid());
    CHECK(portreg_holder_start_time(holder) > 0);
    CHECK(portreg_holder_start_ticks(holder) > 0 && portreg_holder_pid_ns(holder) > 0);
    CHECK(portreg_holder_boot_id(holder) != NULL && strlen(portreg_holder_boot_id(holder)) == 36);
    CHECK(portreg_holder_exe(holder) != NULL && portreg_holder_exe(holder)[0] != '\0');
    CHECK(portreg_holder_user(holder) != NULL && portreg_holder_user(holder)[0] != '\0');
    CHECK(portreg_holder_cwd(holder) != NULL && portreg_holder_cwd(holder)[0] == '/');
    CHECK(portreg_holder_since(holder) != NULL && contains(portreg_holder_since(holder), "T"));
    CHECK(portreg_holder_cmdline_len(holder) >= 1);
    CHECK(portreg_holder_cmdline_get(holder, portreg_holder_cmdline_len(holder)) == NULL);
    CHECK(contains(portreg_entry_created(entry), "Z"));
    CHECK(contains(portreg_entry_changed(entry), "Z"));
    portreg_entry_free(entry);
    entry = NULL;

    /* A second name gets another port. */
    CHECK_OK(portreg_lease(reg, "api", NULL, &other));
    CHECK(other != port && in_range(other, LOW, HIGH));

    /* Release: idle, port remembered, taken again on the next lease. */
    CHECK_OK(portreg_release(reg, "web", false));
    CHECK_OK(portreg_get(reg, "web", &entry));
    CHECK(str_eq(portreg_entry_state(entry), "idle"));
    CHECK(portreg_entry_holder(entry) == NULL && portreg_entry_holder_pid(entry) == 0);
    CHECK(portreg_entry_port(entry) == port);
    portreg_entry_free(entry);
    CHECK_OK(portreg_release(reg, "web", false)); /* nobody holds it: not an error */
    CHECK_OK(portreg_lease(reg, "web", NULL, &again));
    CHECK(again == port);

    /* A preferred port, exact, a range, a description. */
    opts.has_port = true;
    opts.port = 23450;
    CHECK_OK(portreg_lease(reg, "preferred", &opts, &port));
    CHECK(port == 23450);
    opts.port = 23451;
    opts.exact = true;
    CHECK_OK(portreg_lease(reg, "exact", &opts, &port));
    CHECK(port == 23451);
    opts = portreg_lease_options_default();
    opts.range_low = 23400;
    opts.range_high = 23409;
    CHECK_OK(portreg_lease(reg, "ranged", &opts, &port));
    CHECK(in_range(port, 23400, 23409));
    opts = portreg_lease_options_default();
    opts.description = "a C test service";
    CHECK_OK(portreg_lease(reg, "described", &opts, &port));
    CHECK_OK(portreg_get(reg, "described", &entry));
    CHECK(str_eq(portreg_entry_description(entry), "a C test service"));
    portreg_entry_free(entry);

    /* Meta facts: recorded, kept when meta is NULL, replaced by a new array. */
    {
        const char *meta[] = {"project=/src/c-app", "health=http://127.0.0.1:1/x?a=b"};
        const char *other[] = {"db=/var/lib/app.db"};
        const char *bad[] = {"project=/ok", "no-equals-sign"};
        const char *empty_key[] = {"=value"};
        const char *null_item[] = {"k=v", NULL};
        opts = portreg_lease_options_default();
        opts.meta = meta;
        opts.meta_len = 2;
        CHECK_OK(portreg_lease(reg, "with-meta", &opts, &port));
        CHECK_OK(portreg_get(reg, "with-meta", &entry));
        CHECK(portreg_entry_meta_len(entry) == 2);
        CHECK(str_eq(portreg_entry_meta_get(entry, "project"), "/src/c-app"));
        CHECK(str_eq(portreg_entry_meta_get(entry, "health"), "http://127.0.0.1:1/x?a=b"));
        portreg_entry_free(entry);
        opts = portreg_lease_options_default(); /* meta NULL: kept */
        CHECK_OK(portreg_lease(reg, "with-meta", &opts, &again));
        CHECK(again == port);
        CHECK_OK(portreg_get(reg, "with-meta", &entry));
        CHECK(portreg_entry_meta_len(entry) == 2);
        portreg_entry_free(entry);
        opts.meta = other; /* the same holder asking again records new meta */
        opts.meta_len = 1;
        CHECK_OK(portreg_lease(reg, "with-meta", &opts, &again));
        CHECK_OK(portreg_get(reg, "with-meta", &entry));
        CHECK(portreg_entry_meta_len(entry) == 1);
        CHECK(str_eq(portreg_entry_meta_get(entry, "db"), "/var/lib/app.db"));
        CHECK(portreg_entry_meta_get(entry, "project") == NULL);
        portreg_entry_free(entry);
        opts.meta = bad;
        opts.meta_len = 2;
        CHECK_STATUS(portreg_lease(reg, "bad-meta", &opts, &port), PORTREG_STATUS_INVALID_ARGUMENT);
        CHECK(contains(last_error(), "options->meta[1]") && contains(last_error(), "KEY=VALUE"));
        opts.meta = empty_key;
        opts.meta_len = 1;
        CHECK_STATUS(portreg_lease(reg, "bad-meta", &opts, &port), PORTREG_STATUS_INVALID_ARGUMENT);
        opts.meta = null_item;
        opts.meta_len = 2;
        CHECK_STATUS(portreg_lease(reg, "bad-meta", &opts, &port), PORTREG_STATUS_INVALID_ARGUMENT);
        CHECK(contains(last_error(), "options->meta[1] is NULL"));
        CHECK_STATUS(portreg_get(reg, "bad-meta", &entry), PORTREG_STATUS_NOT_FOUND);
        CHECK_OK(portreg_forget(reg, "with-meta", false));
    }

    /* Bad options. */
    opts = portreg_lease_options_default();
    opts.exact = true;
    CHECK_STATUS(portreg_lease(reg, "bad-opts", &opts, &port), PORTREG_STATUS_INVALID_PORT);
    CHECK(contains(last_error(), "exact"));
    opts.exact = false;
    opts.has_port = true;
    opts.port = 0;
    CHECK_STATUS(portreg_lease(reg, "bad-opts", &opts, &port), PORTREG_STATUS_INVALID_PORT);
    opts.port = 65536;
    CHECK_STATUS(portreg_lease(reg, "bad-opts", &opts, &port), PORTREG_STATUS_INVALID_PORT);
    CHECK(contains(last_error(), "65536"));
    opts = portreg_lease_options_default();
    opts.range_low = 23409;
    opts.range_high = 23400;
    CHECK_STATUS(portreg_lease(reg, "bad-opts", &opts, &port), PORTREG_STATUS_INVALID_RANGE);
    opts.range_low = 0;
    CHECK_STATUS(portreg_lease(reg, "bad-opts", &opts, &port), PORTREG_STATUS_INVALID_RANGE);
    opts.range_low = 23000;
    opts.range_high = 70000;
    CHECK_STATUS(portreg_lease(reg, "bad-opts", &opts, &port), PORTREG_STATUS_INVALID_RANGE);
    CHECK(contains(last_error(), "23000-70000"));
    opts.range_low = 80;
    opts.range_high = 90;
    CHECK_STATUS(portreg_lease(reg, "bad-opts", &opts, &port), PORTREG_STATUS_INVALID_RANGE);
    CHECK_STATUS(portreg_get(reg, "bad-opts", &entry), PORTREG_STATUS_NOT_FOUND);
}

/* listening, rename, and release_all for the leases this process took. */
static void test_listening_rename_release_all(portreg_registry *reg) {
    uint16_t port = 0, other = 0;
    portreg_entry *entry = NULL;
    int fd;

    CHECK_OK(portreg_lease(reg, "listens", NULL, &port));
    CHECK_OK(portreg_get(reg, "listens", &entry));
    CHECK(portreg_entry_listening(entry) == 0);
    portreg_entry_free(entry);
    fd = listen_on(port);
    CHECK(fd >= 0);
    CHECK_OK(portreg_get(reg, "listens", &entry));
    CHECK(portreg_entry_listening(entry) == 1);
    portreg_entry_free(entry);
    close(fd);
    CHECK(portreg_entry_listening(NULL) == -1);

    /* rename keeps the port and this process as holder */
    CHECK_OK(portreg_rename(reg, "listens", "renamed", false));
    CHECK_STATUS(portreg_get(reg, "listens", &entry), PORTREG_STATUS_NOT_FOUND);
    CHECK_OK(portreg_get(reg, "renamed", &entry));
    CHECK(portreg_entry_port(entry) == port);
    CHECK(portreg_entry_holder_pid(entry) == (uint32_t)getpid());
    portreg_entry_free(entry);
    CHECK_STATUS(portreg_rename(reg, "listens", "x", false), PORTREG_STATUS_NOT_FOUND);
    CHECK_STATUS(portreg_rename(reg, "renamed", NULL, false), PORTREG_STATUS_INVALID_ARGUMENT);

    /* release_all releases what this process still holds, under its new
     * name too; nothing is left for a second call. */
    CHECK_OK(portreg_lease(reg, "also-mine", NULL, &other));
    CHECK(portreg_release_all() >= 2);
    CHECK_OK(portreg_get(reg, "renamed", &entry));
    CHECK(str_eq(portreg_entry_state(entry), "idle"));
    CHECK(portreg_entry_listening(entry) == -1);
    portreg_entry_free(entry);
    CHECK_OK(portreg_get(reg, "also-mine", &entry));
    CHECK(str_eq(portreg_entry_state(entry), "idle"));
    portreg_entry_free(entry);
    CHECK(portreg_release_all() == 0);
}

static void test_other_holders(portreg_registry *reg) {
    uint16_t port = 0, held_port = 0, sentinel = 4321;
    uint32_t pid = 0;
    portreg_entry *entry = NULL;
    portreg_lease_options opts = portreg_lease_options_default();
    pid_t child = spawn_sleeper();
    pid_t gone;
    char want[128];
    size_t cleaned = 99;

    /* A lease held by another live process. */
    opts.pid = (uint32_t)child;
    CHECK_OK(portreg_lease(reg, "child-held", &opts, &held_port));
    CHECK_OK(portreg_get(reg, "child-held", &entry));
    CHECK(portreg_entry_holder_pid(entry) == (uint32_t)child);
    CHECK(str_eq(portreg_holder_exe(portreg_entry_holder(entry)), "sleep"));
    CHECK(portreg_holder_cmdline_len(portreg_entry_holder(entry)) == 2);
    CHECK(str_eq(portreg_holder_cmdline_get(portreg_entry_holder(entry), 1), "120"));
    portreg_entry_free(entry);

    /* LEASE_HELD for this process, with the holder to name. */
    port = sentinel;
    CHECK_STATUS(portreg_lease(reg, "child-held", NULL, &port), PORTREG_STATUS_LEASE_HELD);
    CHECK(port == sentinel);
    snprintf(want, sizeof want, "already leased by pid %d on port %u", (int)child, held_port);
    CHECK(contains(last_error(), want));
    snprintf(want, sizeof want, "http://127.0.0.1:%u", held_port);
    CHECK(contains(last_error(), want));
    CHECK(portreg_last_error_holder(&pid, &port));
    CHECK(pid == (uint32_t)child && port == held_port);
    CHECK(portreg_last_error_holder(NULL, NULL));
    CHECK(portreg_last_error(NULL, 0) > 0); /* asking did not clear it */

    /* Only the holder releases, unless forced; forget likewise. */
    CHECK_STATUS(portreg_release(reg, "child-held", false), PORTREG_STATUS_NOT_HOLDER);
    snprintf(want, sizeof want, "held by pid %d", (int)child);
    CHECK(contains(last_error(), want));
    CHECK_STATUS(portreg_forget(reg, "child-held", false), PORTREG_STATUS_LEASE_HELD);
    CHECK_OK(portreg_release(reg, "child-held", true));
    CHECK_OK(portreg_get(reg, "child-held", &entry));
    CHECK(str_eq(portreg_entry_state(entry), "idle"));
    portreg_entry_free(entry);
    CHECK_OK(portreg_lease(reg, "child-held", &opts, &port));
    CHECK(port == held_port);
    CHECK_OK(portreg_forget(reg, "child-held", true));
    CHECK_STATUS(portreg_get(reg, "child-held", &entry), PORTREG_STATUS_NOT_FOUND);

    /* clean drops a lease whose holder died. */
    CHECK_OK(portreg_lease(reg, "ephemeral", &opts, &port));
    kill_and_reap(child);
    CHECK_OK(portreg_clean(reg, &cleaned));
    CHECK(cleaned == 1);
    CHECK_OK(portreg_get(reg, "ephemeral", &entry));
    CHECK(str_eq(portreg_entry_state(entry), "idle") && portreg_entry_port(entry) == port);
    portreg_entry_free(entry);
    CHECK_OK(portreg_clean(reg, &cleaned));
    CHECK(cleaned == 0);
    CHECK_OK(portreg_clean(reg, NULL));

    /* A holder pid that is not running: PROCESS. */
    gone = child;
    opts.pid = (uint32_t)gone;
    port = sentinel;
    CHECK_STATUS(portreg_lease(reg, "dead-holder", &opts, &port), PORTREG_STATUS_PROCESS);
    CHECK(port == sentinel);
    CHECK(contains(last_error(), "no running process"));
}

static void test_ports_in_use(portreg_registry *reg) {
    uint16_t port = 0, sentinel = 4321;
    portreg_lease_options opts = portreg_lease_options_default();
    char want[64];
    int fd;

    /* Another name holds or reserves it: PORT_TAKEN. */
    CHECK_OK(portreg_reserve(reg, "pinned", 23460, "pinned by a person"));
    opts.has_port = true;
    opts.port = 23460;
    opts.exact = true;
    port = sentinel;
    CHECK_STATUS(portreg_lease(reg, "other", &opts, &port), PORTREG_STATUS_PORT_TAKEN);
    CHECK(port == sentinel);
    CHECK(contains(last_error(), "\"pinned\""));
    /* Without exact it moves to another port. */
    opts.exact = false;
    CHECK_OK(portreg_lease(reg, "other", &opts, &port));
    CHECK(port != 23460 && in_range(port, LOW, HIGH));

    /* A process outside the registry listens on it: PORT_BUSY, naming it. */
    fd = listen_on(23461);
    CHECK(fd >= 0);
    opts.port = 23461;
    opts.exact = true;
    port = sentinel;
    CHECK_STATUS(portreg_lease(reg, "busy", &opts, &port), PORTREG_STATUS_PORT_BUSY);
    CHECK(port == sentinel);
    snprintf(want, sizeof want, "pid %d", (int)getpid());
    CHECK(contains(last_error(), want));
    opts.exact = false;
    CHECK_OK(portreg_lease(reg, "busy", &opts, &port));
    CHECK(port != 23461);

    /* The only port of a range is in use: NO_FREE_PORT, for lease and find_free. */
    opts = portreg_lease_options_default();
    opts.range_low = 23461;
    opts.range_high = 23461;
    port = sentinel;
    CHECK_STATUS(portreg_lease(reg, "full", &opts, &port), PORTREG_STATUS_NO_FREE_PORT);
    CHECK(contains(last_error(), "23461-23461"));
    CHECK_STATUS(portreg_find_free(reg, 23461, 23461, &port), PORTREG_STATUS_NO_FREE_PORT);
    CHECK(port == sentinel);
    close(fd);
    CHECK_OK(portreg_find_free(reg, 23461, 23461, &port));
    CHECK(port == 23461);
}

static void test_reserve_forget_find(portreg_registry *reg) {
    uint16_t port = 0, sentinel = 4321;
    portreg_entry *entry = NULL;
    int fd;

    CHECK_OK(portreg_reserve(reg, "db", 23480, "postgres"));
    CHECK_OK(portreg_reserve(reg, "db", 23480, "postgres")); /* same pin twice: fine */
    CHECK_OK(portreg_get(reg, "db", &entry));
    CHECK(str_eq(portreg_entry_state(entry), "reserved"));
    CHECK(portreg_entry_reserved(entry) && portreg_entry_port(entry) == 23480);
    CHECK(str_eq(portreg_entry_description(entry), "postgres"));
    CHECK(portreg_entry_holder(entry) == NULL);
    portreg_entry_free(entry);
    CHECK_OK(portreg_reserve(reg, "db", 23480, NULL)); /* NULL keeps the description */
    CHECK_OK(portreg_get(reg, "db", &entry));
    CHECK(str_eq(portreg_entry_description(entry), "postgres"));
    portreg_entry_free(entry);

    CHECK_STATUS(portreg_reserve(reg, "db2", 23480, NULL), PORTREG_STATUS_PORT_TAKEN);
    CHECK_STATUS(portreg_reserve(reg, "db2", 0, NULL), PORTREG_STATUS_INVALID_PORT);
    CHECK_STATUS(portreg_reserve(reg, "db2", 65536, NULL), PORTREG_STATUS_INVALID_PORT);

    /* Leasing a reserved name gives its port; it stays reserved while active. */
    CHECK_OK(portreg_lease(reg, "db", NULL, &port));
    CHECK(port == 23480);
    CHECK_OK(portreg_get(reg, "db", &entry));
    CHECK(str_eq(portreg_entry_state(entry), "active") && portreg_entry_reserved(entry));
    portreg_entry_free(entry);
    /* Held by this process on 23480: it cannot be pinned elsewhere meanwhile. */
    CHECK_STATUS(portreg_reserve(reg, "db", 23481, NULL), PORTREG_STATUS_LEASE_HELD);

    /* Forget: gone, its port free for others. */
    CHECK_OK(portreg_forget(reg, "db", false));
    CHECK_STATUS(portreg_get(reg, "db", &entry), PORTREG_STATUS_NOT_FOUND);
    CHECK(contains(last_error(), "portreg list --all"));
    CHECK_STATUS(portreg_forget(reg, "db", false), PORTREG_STATUS_NOT_FOUND);
    CHECK_STATUS(portreg_release(reg, "never-seen", false), PORTREG_STATUS_NOT_FOUND);
    CHECK_OK(portreg_reserve(reg, "db2", 23480, NULL));

    /* find_free: free now, in range, leases nothing. */
    CHECK_OK(portreg_find_free(reg, 0, 0, &port));
    CHECK(in_range(port, LOW, HIGH));
    fd = listen_on(port);
    CHECK(fd >= 0);
    close(fd);
    CHECK_OK(portreg_find_free(reg, 23490, 23499, &port));
    CHECK(in_range(port, 23490, 23499));
    port = sentinel;
    CHECK_STATUS(portreg_find_free(reg, 23499, 23490, &port), PORTREG_STATUS_INVALID_RANGE);
    CHECK_STATUS(portreg_find_free(reg, 23490, 0, &port), PORTREG_STATUS_INVALID_RANGE);
    CHECK(port == sentinel);
}

static void test_range_parse(void) {
    uint16_t low = 0, high = 0;
    CHECK_OK(portreg_range_parse("8070-8999", &low, &high));
    CHECK(low == 8070 && high == 8999);
    CHECK_OK(portreg_range_parse(" 23000 - 23001 ", &low, &high));
    CHECK(low == 23000 && high == 23001);
    low = high = 7;
    CHECK_STATUS(portreg_range_parse("abc", &low, &high), PORTREG_STATUS_INVALID_RANGE);
    CHECK(contains(last_error(), "LOW-HIGH"));
    CHECK_STATUS(portreg_range_parse("9000-8000", &low, &high), PORTREG_STATUS_INVALID_RANGE);
    CHECK_STATUS(portreg_range_parse("80-90", &low, &high), PORTREG_STATUS_INVALID_RANGE);
    CHECK_STATUS(portreg_range_parse("9000-70000", &low, &high), PORTREG_STATUS_INVALID_RANGE);
    CHECK_STATUS(portreg_range_parse("", &low, &high), PORTREG_STATUS_INVALID_RANGE);
    CHECK(low == 7 && high == 7);
}

static const portreg_entry *find_entry(const portreg_entry_list *list, const char *name) {
    size_t i;
    for (i = 0; i < portreg_list_len(list); i++) {
        if (str_eq(portreg_entry_name(portreg_list_get(list, i)), name)) {
            return portreg_list_get(list, i);
        }
    }
    return NULL;
}

static void test_list(void) {
    portreg_registry *reg = open_registry("listed");
    portreg_entry_list *list = NULL;
    const portreg_entry *e;
    char dir[2048], out[256];
    uint16_t web = 0, api = 0;
    size_t i;
    long cli_port;

    CHECK_OK(portreg_list(reg, &list));
    CHECK(list != NULL && portreg_list_len(list) == 0 && portreg_list_get(list, 0) == NULL);
    portreg_list_free(list);

    CHECK_OK(portreg_lease(reg, "web", NULL, &web));
    CHECK_OK(portreg_lease(reg, "api", NULL, &api));
    CHECK_OK(portreg_release(reg, "api", false));
    CHECK_OK(portreg_reserve(reg, "db", 23499, "pinned"));
    /* The CLI writes to the same registry; its holder is its parent: this process. */
    registry_dir(dir, sizeof dir, "listed");
    CHECK(run_cli(dir, out, sizeof out, "lease", "from-cli", "--meta", "project=/src/x", "--meta",
                  "health=http://127.0.0.1/ok", "-d", "leased by the CLI") == 0);
    cli_port = strtol(out, NULL, 10);
    CHECK(in_range((unsigned)cli_port, LOW, HIGH));

    CHECK_OK(portreg_list(reg, &list));
    CHECK(portreg_list_len(list) == 4);
    CHECK(portreg_list_get(list, 4) == NULL);
    for (i = 1; i < portreg_list_len(list); i++) {
        CHECK(portreg_entry_port(portreg_list_get(list, i - 1)) <
              portreg_entry_port(portreg_list_get(list, i)));
    }
    e = find_entry(list, "web");
    CHECK(e != NULL && portreg_entry_port(e) == web && str_eq(portreg_entry_state(e), "active"));
    e = find_entry(list, "api");
    CHECK(e != NULL && portreg_entry_port(e) == api && str_eq(portreg_entry_state(e), "idle"));
    e = find_entry(list, "db");
    CHECK(e != NULL && portreg_entry_port(e) == 23499 && str_eq(portreg_entry_state(e), "reserved"));
    e = find_entry(list, "from-cli");
    CHECK(e != NULL && portreg_entry_port(e) == cli_port);
    CHECK(str_eq(portreg_entry_state(e), "active"));
    CHECK(portreg_entry_holder_pid(e) == (uint32_t)getpid());
    CHECK(str_eq(portreg_entry_description(e), "leased by the CLI"));
    CHECK(portreg_entry_meta_len(e) == 2);
    CHECK(str_eq(portreg_entry_meta_key(e, 0), "health"));
    CHECK(str_eq(portreg_entry_meta_value(e, 0), "http://127.0.0.1/ok"));
    CHECK(str_eq(portreg_entry_meta_key(e, 1), "project"));
    CHECK(str_eq(portreg_entry_meta_get(e, "project"), "/src/x"));
    CHECK(portreg_entry_meta_get(e, "nope") == NULL);
    CHECK(portreg_entry_meta_get(e, NULL) == NULL);
    CHECK(portreg_entry_meta_key(e, 2) == NULL && portreg_entry_meta_value(e, 2) == NULL);

    /* The CLI sees what C wrote. */
    CHECK(run_cli(dir, out, sizeof out, "get", "web", NULL, NULL, NULL, NULL, NULL, NULL) == 0);
    CHECK(strtol(out, NULL, 10) == web);
    CHECK(run_cli(dir, out, sizeof out, "get", "gone", NULL, NULL, NULL, NULL, NULL, NULL) == 1);

    portreg_list_free(list);
    portreg_list_free(NULL);
    CHECK(portreg_list_len(NULL) == 0 && portreg_list_get(NULL, 0) == NULL);
    portreg_registry_free(reg);
}

static void test_null_accessors(void) {
    CHECK(portreg_entry_name(NULL) == NULL && portreg_entry_port(NULL) == 0);
    CHECK(portreg_entry_state(NULL) == NULL && !portreg_entry_reserved(NULL));
    CHECK(portreg_entry_holder_pid(NULL) == 0 && portreg_entry_holder(NULL) == NULL);
    CHECK(portreg_entry_description(NULL) == NULL && portreg_entry_created(NULL) == NULL);
    CHECK(portreg_entry_changed(NULL) == NULL && portreg_entry_meta_len(NULL) == 0);
    CHECK(portreg_entry_meta_key(NULL, 0) == NULL && portreg_entry_meta_value(NULL, 0) == NULL);
    CHECK(portreg_entry_meta_get(NULL, "k") == NULL);
    CHECK(portreg_holder_pid(NULL) == 0 && portreg_holder_start_time(NULL) == 0);
    CHECK(portreg_holder_start_ticks(NULL) == 0 && portreg_holder_pid_ns(NULL) == 0);
    CHECK(portreg_holder_boot_id(NULL) == NULL);
    CHECK(portreg_holder_exe(NULL) == NULL && portreg_holder_user(NULL) == NULL);
    CHECK(portreg_holder_cwd(NULL) == NULL && portreg_holder_since(NULL) == NULL);
    CHECK(portreg_holder_cmdline_len(NULL) == 0 && portreg_holder_cmdline_get(NULL, 0) == NULL);
    CHECK(portreg_who_info_port(NULL) == 0 && portreg_who_info_listeners_len(NULL) == 0);
    CHECK(portreg_who_info_listener(NULL, 0) == NULL && portreg_who_info_entry(NULL) == NULL);
    CHECK(portreg_listener_pid(NULL) == 0 && portreg_listener_exe(NULL) == NULL);
    CHECK(portreg_listener_user(NULL) == NULL && portreg_listener_cmdline_len(NULL) == 0);
    CHECK(portreg_listener_cmdline_get(NULL, 0) == NULL && portreg_listener_addrs_len(NULL) == 0);
    CHECK(portreg_listener_addr_get(NULL, 0) == NULL);
    portreg_entry_free(NULL);
    portreg_who_info_free(NULL);
}

static void test_who(portreg_registry *reg) {
    portreg_who_info *who = NULL;
    const portreg_listener *l;
    const portreg_entry *e;
    uint16_t port = 0, idle_port = 0;
    size_t i;
    int fd, saw_loopback = 0;

    CHECK_OK(portreg_lease(reg, "who-svc", NULL, &port));
    fd = listen_on(port);
    CHECK(fd >= 0);
    CHECK_OK(portreg_who(reg, port, &who));
    CHECK(portreg_who_info_port(who) == port);
    CHECK(portreg_who_info_listeners_len(who) == 1);
    l = portreg_who_info_listener(who, 0);
    CHECK(portreg_listener_pid(l) == (uint32_t)getpid());
    CHECK(portreg_listener_exe(l) != NULL && portreg_listener_exe(l)[0] != '\0');
    CHECK(portreg_listener_user(l) != NULL);
    CHECK(portreg_listener_cmdline_len(l) >= 1);
    CHECK(portreg_listener_cmdline_get(l, 0) != NULL);
    CHECK(portreg_listener_cmdline_get(l, portreg_listener_cmdline_len(l)) == NULL);
    for (i = 0; i < portreg_listener_addrs_len(l); i++) {
        saw_loopback |= str_eq(portreg_listener_addr_get(l, i), "127.0.0.1");
    }
    CHECK(saw_loopback);
    CHECK(portreg_listener_addr_get(l, portreg_listener_addrs_len(l)) == NULL);
    CHECK(portreg_who_info_listener(who, 1) == NULL);
    e = portreg_who_info_entry(who);
    CHECK(str_eq(portreg_entry_name(e), "who-svc") && str_eq(portreg_entry_state(e), "active"));
    portreg_who_info_free(who);

    who = NULL;
    CHECK_OK(portreg_who_name(reg, "WHO-SVC", &who));
    CHECK(portreg_who_info_port(who) == port && portreg_who_info_listeners_len(who) == 1);
    CHECK(str_eq(portreg_entry_name(portreg_who_info_entry(who)), "who-svc"));
    portreg_who_info_free(who);
    close(fd);

    /* Nobody listens, but an idle entry remembers the port. */
    CHECK_OK(portreg_lease(reg, "who-idle", NULL, &idle_port));
    CHECK_OK(portreg_release(reg, "who-idle", false));
    who = NULL;
    CHECK_OK(portreg_who(reg, idle_port, &who));
    CHECK(portreg_who_info_listeners_len(who) == 0);
    CHECK(str_eq(portreg_entry_state(portreg_who_info_entry(who)), "idle"));
    portreg_who_info_free(who);

    /* Nobody at all. */
    who = NULL;
    CHECK_OK(portreg_who(reg, 23498, &who));
    CHECK(portreg_who_info_listeners_len(who) == 0 && portreg_who_info_entry(who) == NULL);
    portreg_who_info_free(who);

    who = (portreg_who_info *)&port;
    CHECK_STATUS(portreg_who(reg, 0, &who), PORTREG_STATUS_INVALID_PORT);
    CHECK_STATUS(portreg_who(reg, 65536, &who), PORTREG_STATUS_INVALID_PORT);
    CHECK_STATUS(portreg_who_name(reg, "never-seen", &who), PORTREG_STATUS_NOT_FOUND);
    CHECK(who == (portreg_who_info *)&port);
}

static void test_default_registry(void) {
    uint16_t port = 0, again = 0;
    portreg_registry *reg = NULL;
    portreg_entry *entry = NULL;

    /* $PORTREG_HOME points into this test's directory. */
    CHECK_OK(portreg_lease_port("frontend", &port));
    CHECK(in_range(port, LOW, HIGH));
    CHECK_OK(portreg_lease_port("frontend", &again));
    CHECK(again == port);
    CHECK_OK(portreg_registry_open(NULL, &reg));
    CHECK_OK(portreg_get(reg, "frontend", &entry));
    CHECK(str_eq(portreg_entry_state(entry), "active"));
    CHECK(portreg_entry_holder_pid(entry) == (uint32_t)getpid());
    portreg_entry_free(entry);
    CHECK_OK(portreg_release_port("frontend"));
    CHECK_OK(portreg_get(reg, "frontend", &entry));
    CHECK(str_eq(portreg_entry_state(entry), "idle") && portreg_entry_port(entry) == port);
    portreg_entry_free(entry);
    CHECK_STATUS(portreg_release_port("never-seen"), PORTREG_STATUS_NOT_FOUND);
    CHECK_STATUS(portreg_lease_port("bad name", &port), PORTREG_STATUS_INVALID_NAME);
    portreg_registry_free(reg);
}

static void test_newer_registry(void) {
    char dir[2048];
    portreg_registry *reg = NULL;
    portreg_entry_list *list = NULL;
    uint16_t port = 4321;

    /* A registry written by a newer portreg: read, never written. */
    registry_dir(dir, sizeof dir, "newer");
    CHECK(mkdir(dir, 0700) == 0);
    write_file(dir, "registry.json",
               "{\"version\": 99, \"entries\": [{\"name\": \"future\", \"port\": 23010, "
               "\"created\": \"2030-01-01T00:00:00Z\", \"changed\": \"2030-01-01T00:00:00Z\"}]}\n");
    CHECK_OK(portreg_registry_open(dir, &reg));
    CHECK_OK(portreg_list(reg, &list));
    CHECK(portreg_list_len(list) == 1);
    CHECK(str_eq(portreg_entry_name(portreg_list_get(list, 0)), "future"));
    portreg_list_free(list);
    CHECK_STATUS(portreg_lease(reg, "new-name", NULL, &port), PORTREG_STATUS_REGISTRY_VERSION);
    CHECK(port == 4321);
    CHECK(contains(last_error(), "Upgrade portreg"));
    CHECK_STATUS(portreg_reserve(reg, "new-name", 23011, NULL), PORTREG_STATUS_REGISTRY_VERSION);
    portreg_registry_free(reg);
}

int main(int argc, char **argv) {
    char home[2048];
    portreg_registry *reg;
    if (argc != 3) {
        fprintf(stderr, "usage: %s PORTREG_CLI EXPECTED_VERSION\n", argv[0]);
        return 2;
    }
    cli_path = argv[1];
    make_temp_dir(base, sizeof base, "api");
    snprintf(home, sizeof home, "%s/home", base);
    setenv("PORTREG_HOME", home, 1);
    setenv("PORTREG_RANGE", "23000-23499", 1);

    test_version(argv[2]);
    test_status_names();
    test_last_error();
    test_open();
    test_range_parse();
    test_null_accessors();

    reg = open_registry("main");
    test_bad_arguments(reg);
    test_lease(reg);
    test_listening_rename_release_all(reg);
    test_other_holders(reg);
    test_ports_in_use(reg);
    test_reserve_forget_find(reg);
    test_who(reg);
    portreg_registry_free(reg);

    test_list();
    test_default_registry();
    test_newer_registry();

    remove_tree(base);
    return check_finish("test_api");
}

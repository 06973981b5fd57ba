/*
 * The shared table of bad inputs (tests/error-cases.json, read here at run
 * time: the JSON file is the source of truth) run through the C API, each
 * case against a fresh, empty registry. A case whose op or field this runner
 * does not know fails the test, so the table cannot outgrow it unnoticed.
 *
 * Usage: test_errors path/to/error-cases.json
 */
#define _POSIX_C_SOURCE 200809L

#include "check.h"
#include "json.h"

static char base[1024];

typedef struct error_case {
    const char *op;
    const char *name;
    const char *new_name;
    const char *range;
    int has_port;
    uint32_t port;
    int exact;
    const char *description;
    /* 0 when the row names its surfaces and "c" is not one of them */
    int for_c;
    /* meta as KEY=VALUE strings, the form portreg_lease_options takes */
    char *meta[8];
    size_t meta_len;
} error_case;

static void free_case(error_case *c) {
    size_t i;
    for (i = 0; i < c->meta_len; i++) {
        free(c->meta[i]);
    }
    c->meta_len = 0;
}

/* Reads the "meta" object into KEY=VALUE strings; 0 when it is not one. */
static int read_meta(const json_value *v, error_case *out) {
    size_t i;
    if (v->kind != JSON_OBJECT || v->len > sizeof out->meta / sizeof out->meta[0]) {
        return 0;
    }
    for (i = 0; i < v->len; i++) {
        size_t klen, vlen;
        if (v->items[i].kind != JSON_STRING) {
            return 0;
        }
        klen = strlen(v->keys[i]);
        vlen = strlen(v->items[i].string);
        out->meta[i] = (char *)malloc(klen + vlen + 2);
        if (out->meta[i] == NULL) {
            return 0;
        }
        memcpy(out->meta[i], v->keys[i], klen);
        out->meta[i][klen] = '=';
        memcpy(out->meta[i] + klen + 1, v->items[i].string, vlen + 1);
        out->meta_len = i + 1;
    }
    return 1;
}

/* Reads one case; returns 0 (and says why) when it has something unknown. */
static int read_case(const json_value *c, error_case *out) {
    size_t i;
    memset(out, 0, sizeof *out);
    out->for_c = 1;
    if (c->kind != JSON_OBJECT) {
        fprintf(stderr, "a case is not an object\n");
        return 0;
    }
    for (i = 0; i < c->len; i++) {
        const char *key = c->keys[i];
        const json_value *v = &c->items[i];
        if (strcmp(key, "op") == 0 && v->kind == JSON_STRING) {
            out->op = v->string;
        } else if (strcmp(key, "name") == 0 && v->kind == JSON_STRING) {
            out->name = v->string;
        } else if (strcmp(key, "new") == 0 && v->kind == JSON_STRING) {
            out->new_name = v->string;
        } else if (strcmp(key, "range") == 0 && v->kind == JSON_STRING) {
            out->range = v->string;
        } else if (strcmp(key, "port") == 0 && v->kind == JSON_NUMBER && v->number >= 0 &&
                   v->number <= 4294967295.0 && v->number == (double)(uint32_t)v->number) {
            out->has_port = 1;
            out->port = (uint32_t)v->number;
        } else if (strcmp(key, "exact") == 0 && v->kind == JSON_BOOL) {
            out->exact = v->boolean;
        } else if (strcmp(key, "description") == 0 && v->kind == JSON_STRING) {
            out->description = v->string;
        } else if (strcmp(key, "meta") == 0 && read_meta(v, out)) {
            /* read into out->meta */
        } else if (strcmp(key, "code") == 0 && v->kind == JSON_STRING) {
            /* the expectation, read by the caller */
        } else if (strcmp(key, "surfaces") == 0 && v->kind == JSON_ARRAY) {
            /* A row naming its surfaces applies to those only. */
            size_t j;
            out->for_c = 0;
            for (j = 0; j < v->len; j++) {
                if (v->items[j].kind != JSON_STRING) {
                    fprintf(stderr, "a case's \"surfaces\" has a non-string\n");
                    return 0;
                }
                if (strcmp(v->items[j].string, "c") == 0) {
                    out->for_c = 1;
                }
            }
        } else if (strcmp(key, "file") == 0 && v->kind == JSON_STRING) {
            /* a portreg.toml: only for op "project", which C has not */
        } else {
            fprintf(stderr, "a case has a field this runner does not know: \"%s\"\n", key);
            return 0;
        }
    }
    if (out->op == NULL) {
        fprintf(stderr, "a case has no \"op\"\n");
        return 0;
    }
    return 1;
}

/* Runs one case through the C API; returns its status, or UINT32_MAX for an unknown op. */
static uint32_t run_case(portreg_registry *reg, const error_case *c) {
    uint16_t port = 4321, low = 0, high = 0;
    portreg_entry *entry = NULL;
    uint32_t status;

    /* Ranges come as LOW-HIGH text; the library parses them. */
    if (c->range != NULL) {
        status = portreg_range_parse(c->range, &low, &high);
        if (status != PORTREG_STATUS_OK) {
            CHECK(low == 0 && high == 0);
            return status;
        }
    }
    if (strcmp(c->op, "lease") == 0) {
        portreg_lease_options opts = portreg_lease_options_default();
        opts.has_port = c->has_port != 0;
        opts.port = c->port;
        opts.exact = c->exact != 0;
        opts.range_low = low;
        opts.range_high = high;
        opts.description = c->description;
        if (c->meta_len > 0) {
            opts.meta = (const char *const *)c->meta;
            opts.meta_len = c->meta_len;
        }
        status = portreg_lease(reg, c->name, &opts, &port);
    } else if (strcmp(c->op, "get") == 0) {
        status = portreg_get(reg, c->name, &entry);
        CHECK(status == PORTREG_STATUS_OK || entry == NULL);
        portreg_entry_free(entry);
        return status;
    } else if (strcmp(c->op, "reserve") == 0) {
        status = portreg_reserve(reg, c->name, c->port, c->description);
    } else if (strcmp(c->op, "release") == 0) {
        status = portreg_release(reg, c->name, false);
    } else if (strcmp(c->op, "forget") == 0) {
        status = portreg_forget(reg, c->name, false);
    } else if (strcmp(c->op, "rename") == 0) {
        status = portreg_rename(reg, c->name, c->new_name, false);
    } else if (strcmp(c->op, "find_free") == 0) {
        status = portreg_find_free(reg, low, high, &port);
    } else {
        return UINT32_MAX;
    }
    /* A failed call writes no out-parameter. */
    CHECK(status == PORTREG_STATUS_OK || port == 4321);
    return status;
}

/* The "releases" table: releasing what is no longer held. C releases by
 * name: false there means PORTREG_STATUS_OK, anything else is a code. */
static void run_releases(const json_value *root) {
    const json_value *rel = json_get(root, "releases");
    const json_value *cases = rel != NULL ? json_get(rel, "cases") : NULL;
    size_t i;
    CHECK(cases != NULL && cases->kind == JSON_ARRAY && cases->len > 0);
    if (cases == NULL || cases->kind != JSON_ARRAY) {
        return;
    }
    for (i = 0; i < cases->len; i++) {
        const json_value *name = json_get(&cases->items[i], "name");
        const json_value *then = json_get(&cases->items[i], "then");
        const json_value *want = json_get(&cases->items[i], "name_release");
        char dir[2048];
        portreg_registry *reg = NULL;
        uint16_t port = 0;
        uint32_t status;
        CHECK(name != NULL && name->kind == JSON_STRING && then != NULL &&
              then->kind == JSON_STRING && want != NULL);
        if (name == NULL || then == NULL || want == NULL) {
            continue;
        }
        snprintf(dir, sizeof dir, "%s/release-%u", base, (unsigned)i);
        CHECK_OK(portreg_registry_open(dir, &reg));
        CHECK_OK(portreg_lease(reg, name->string, NULL, &port));
        if (str_eq(then->string, "release")) {
            CHECK_OK(portreg_release(reg, name->string, false));
        } else {
            CHECK_OK(portreg_forget(reg, name->string, false));
        }
        status = portreg_release(reg, name->string, false);
        if (want->kind == JSON_BOOL) {
            CHECK(!want->boolean && status == PORTREG_STATUS_OK);
        } else {
            CHECK(want->kind == JSON_STRING && str_eq(portreg_status_str(status), want->string));
        }
        portreg_registry_free(reg);
    }
    printf("test_errors: %u release cases\n", (unsigned)cases->len);
}

int main(int argc, char **argv) {
    json_value root;
    const json_value *cases;
    const char *why;
    char *text;
    size_t len = 0, i, ran = 0, skipped = 0;

    if (argc != 2) {
        fprintf(stderr, "usage: %s path/to/error-cases.json\n", argv[0]);
        return 2;
    }
    text = json_read_file(argv[1], &len);
    if (text == NULL) {
        fprintf(stderr, "cannot read %s: %s\n", argv[1], strerror(errno));
        return 2;
    }
    why = json_parse(text, len, &root);
    free(text);
    if (why != NULL) {
        fprintf(stderr, "%s is not valid JSON: %s\n", argv[1], why);
        return 2;
    }
    cases = json_get(&root, "cases");
    if (cases == NULL || cases->kind != JSON_ARRAY || cases->len == 0) {
        fprintf(stderr, "%s has no \"cases\" array\n", argv[1]);
        json_free(&root);
        return 2;
    }
    setenv("PORTREG_RANGE", "23900-23999", 1);
    make_temp_dir(base, sizeof base, "errors");

    for (i = 0; i < cases->len; i++) {
        const json_value *code = json_get(&cases->items[i], "code");
        error_case c;
        char dir[2048], label[256];
        portreg_registry *reg = NULL;
        uint32_t status;

        if (!read_case(&cases->items[i], &c) || code == NULL || code->kind != JSON_STRING) {
            check_report(__FILE__, __LINE__, "a case this runner cannot read (see above)");
            free_case(&c);
            continue;
        }
        if (!c.for_c) {
            skipped++;
            free_case(&c);
            continue;
        }
        snprintf(label, sizeof label, "case %u: %s name=%s range=%s port=%s%lu exact=%d", (unsigned)i,
                 c.op, c.name != NULL ? c.name : "(none)", c.range != NULL ? c.range : "(none)",
                 c.has_port ? "" : "(none) ", (unsigned long)c.port, c.exact);
        snprintf(dir, sizeof dir, "%s/case-%u", base, (unsigned)i);
        CHECK_OK(portreg_registry_open(dir, &reg));
        status = run_case(reg, &c);
        check_count++;
        if (status == UINT32_MAX) {
            char what[512];
            snprintf(what, sizeof what, "%s: op \"%s\" is unknown to this runner", label, c.op);
            check_report(__FILE__, __LINE__, what);
        } else if (!str_eq(portreg_status_str(status), code->string)) {
            char what[4096];
            snprintf(what, sizeof what, "%s: got %s, the table says %s (%s)", label,
                     portreg_status_str(status), code->string, last_error());
            check_report(__FILE__, __LINE__, what);
        } else {
            /* Every failure comes with a message. */
            CHECK(portreg_last_error(NULL, 0) > 0);
            ran++;
        }
        portreg_registry_free(reg);
        free_case(&c);
    }
    printf("test_errors: %u of %u cases of %s gave their code (%u for other surfaces only)\n",
           (unsigned)ran, (unsigned)(cases->len - skipped), argv[1], (unsigned)skipped);
    run_releases(&root);
    json_free(&root);
    remove_tree(base);
    return check_finish("test_errors");
}

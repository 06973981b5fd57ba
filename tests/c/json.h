/*
 * A small JSON reader for the C tests: enough for tests/error-cases.json and
 * `portreg list --json` (objects, arrays, strings with \u escapes, numbers,
 * true/false/null). Header-only; valid C99 and C++.
 */
#ifndef PORTREG_TEST_JSON_H
#define PORTREG_TEST_JSON_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef enum json_kind { JSON_NULL, JSON_BOOL, JSON_NUMBER, JSON_STRING, JSON_ARRAY, JSON_OBJECT } json_kind;

typedef struct json_value {
    json_kind kind;
    int boolean;
    double number;
    char *string;              /* JSON_STRING: UTF-8, NUL-terminated */
    size_t len;                /* items of an array or members of an object */
    struct json_value *items;  /* array items, or object values */
    char **keys;               /* object keys */
} json_value;

typedef struct json_parser {
    const char *p;
    const char *end;
    const char *error;
} json_parser;

static inline void json_free(json_value *v) {
    size_t i;
    if (v == NULL) {
        return;
    }
    free(v->string);
    for (i = 0; i < v->len; i++) {
        json_free(&v->items[i]);
        if (v->keys != NULL) {
            free(v->keys[i]);
        }
    }
    free(v->items);
    free(v->keys);
    memset(v, 0, sizeof *v);
}

static inline void json_skip_ws(json_parser *ps) {
    while (ps->p < ps->end && (*ps->p == ' ' || *ps->p == '\n' || *ps->p == '\r' || *ps->p == '\t')) {
        ps->p++;
    }
}

static inline int json_fail(json_parser *ps, const char *why) {
    if (ps->error == NULL) {
        ps->error = why;
    }
    return 0;
}

static inline int json_hex4(json_parser *ps, unsigned *out) {
    unsigned v = 0;
    int i;
    if (ps->end - ps->p < 4) {
        return json_fail(ps, "short \\u escape");
    }
    for (i = 0; i < 4; i++) {
        char c = *ps->p++;
        v <<= 4;
        if (c >= '0' && c <= '9') {
            v |= (unsigned)(c - '0');
        } else if (c >= 'a' && c <= 'f') {
            v |= (unsigned)(c - 'a' + 10);
        } else if (c >= 'A' && c <= 'F') {
            v |= (unsigned)(c - 'A' + 10);
        } else {
            return json_fail(ps, "bad hex digit in \\u escape");
        }
    }
    *out = v;
    return 1;
}

/* Appends code point `cp` as UTF-8. `buf` has room: a JSON escape is never shorter. */
static inline size_t json_put_utf8(char *buf, unsigned long cp) {
    if (cp < 0x80) {
        buf[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        buf[0] = (char)(0xC0 | (cp >> 6));
        buf[1] = (char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        buf[0] = (char)(0xE0 | (cp >> 12));
        buf[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        buf[2] = (char)(0x80 | (cp & 0x3F));
        return 3;
    }
    buf[0] = (char)(0xF0 | (cp >> 18));
    buf[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
    buf[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
    buf[3] = (char)(0x80 | (cp & 0x3F));
    return 4;
}

static inline int json_string(json_parser *ps, char **out) {
    const char *start;
    const char *real_end;
    char *buf;
    size_t n = 0;
    if (ps->p >= ps->end || *ps->p != '"') {
        return json_fail(ps, "expected a string");
    }
    start = ++ps->p;
    while (ps->p < ps->end && *ps->p != '"') {
        ps->p += (*ps->p == '\\' && ps->p + 1 < ps->end) ? 2 : 1;
    }
    if (ps->p >= ps->end) {
        return json_fail(ps, "unterminated string");
    }
    buf = (char *)malloc((size_t)(ps->p - start) + 1);
    if (buf == NULL) {
        return json_fail(ps, "out of memory");
    }
    /* Decode up to the closing quote only, whatever the escapes say. */
    real_end = ps->end;
    ps->end = ps->p;
    ps->p = start;
    while (ps->p < ps->end) {
        char c = *ps->p++;
        if (c != '\\') {
            buf[n++] = c;
            continue;
        }
        c = *ps->p++;
        switch (c) {
        case '"': buf[n++] = '"'; break;
        case '\\': buf[n++] = '\\'; break;
        case '/': buf[n++] = '/'; break;
        case 'b': buf[n++] = '\b'; break;
        case 'f': buf[n++] = '\f'; break;
        case 'n': buf[n++] = '\n'; break;
        case 'r': buf[n++] = '\r'; break;
        case 't': buf[n++] = '\t'; break;
        case 'u': {
            unsigned hi, lo;
            unsigned long cp;
            if (!json_hex4(ps, &hi)) {
                free(buf);
                ps->end = real_end;
                return 0;
            }
            cp = hi;
            if (hi >= 0xD800 && hi <= 0xDBFF) {
                if (ps->end - ps->p < 6 || ps->p[0] != '\\' || ps->p[1] != 'u') {
                    free(buf);
                    ps->end = real_end;
                    return json_fail(ps, "lone surrogate");
                }
                ps->p += 2;
                if (!json_hex4(ps, &lo) || lo < 0xDC00 || lo > 0xDFFF) {
                    free(buf);
                    ps->end = real_end;
                    return json_fail(ps, "bad surrogate pair");
                }
                cp = 0x10000 + (((unsigned long)hi - 0xD800) << 10) + (lo - 0xDC00);
            }
            n += json_put_utf8(buf + n, cp);
            break;
        }
        default:
            free(buf);
            ps->end = real_end;
            return json_fail(ps, "bad escape");
        }
    }
    ps->end = real_end;
    ps->p++;
    buf[n] = '\0';
    *out = buf;
    return 1;
}

static inline int json_parse_value(json_parser *ps, json_value *out, int depth);

static inline int json_push(json_value *v, json_value *item, char *key) {
    json_value *items = (json_value *)realloc(v->items, (v->len + 1) * sizeof *items);
    if (items == NULL) {
        return 0;
    }
    v->items = items;
    if (v->kind == JSON_OBJECT) {
        char **keys = (char **)realloc(v->keys, (v->len + 1) * sizeof *keys);
        if (keys == NULL) {
            return 0;
        }
        v->keys = keys;
        v->keys[v->len] = key;
    }
    v->items[v->len++] = *item;
    return 1;
}

static inline int json_parse_container(json_parser *ps, json_value *out, int depth, int object) {
    char close = object ? '}' : ']';
    out->kind = object ? JSON_OBJECT : JSON_ARRAY;
    ps->p++;
    json_skip_ws(ps);
    if (ps->p < ps->end && *ps->p == close) {
        ps->p++;
        return 1;
    }
    for (;;) {
        json_value item;
        char *key = NULL;
        memset(&item, 0, sizeof item);
        json_skip_ws(ps);
        if (object) {
            if (!json_string(ps, &key)) {
                return 0;
            }
            json_skip_ws(ps);
            if (ps->p >= ps->end || *ps->p != ':') {
                free(key);
                return json_fail(ps, "expected ':'");
            }
            ps->p++;
        }
        if (!json_parse_value(ps, &item, depth + 1)) {
            free(key);
            json_free(&item);
            return 0;
        }
        if (!json_push(out, &item, key)) {
            free(key);
            json_free(&item);
            return json_fail(ps, "out of memory");
        }
        json_skip_ws(ps);
        if (ps->p < ps->end && *ps->p == ',') {
            ps->p++;
            continue;
        }
        if (ps->p < ps->end && *ps->p == close) {
            ps->p++;
            return 1;
        }
        return json_fail(ps, object ? "expected ',' or '}'" : "expected ',' or ']'");
    }
}

static inline int json_parse_value(json_parser *ps, json_value *out, int depth) {
    memset(out, 0, sizeof *out);
    if (depth > 64) {
        return json_fail(ps, "nested too deeply");
    }
    json_skip_ws(ps);
    if (ps->p >= ps->end) {
        return json_fail(ps, "unexpected end of input");
    }
    switch (*ps->p) {
    case '{':
        return json_parse_container(ps, out, depth, 1);
    case '[':
        return json_parse_container(ps, out, depth, 0);
    case '"':
        out->kind = JSON_STRING;
        return json_string(ps, &out->string);
    case 't':
    case 'f':
    case 'n': {
        static const char *const words[] = {"true", "false", "null"};
        size_t i;
        for (i = 0; i < 3; i++) {
            size_t n = strlen(words[i]);
            if ((size_t)(ps->end - ps->p) >= n && strncmp(ps->p, words[i], n) == 0) {
                ps->p += n;
                out->kind = i == 2 ? JSON_NULL : JSON_BOOL;
                out->boolean = i == 0;
                return 1;
            }
        }
        return json_fail(ps, "unknown literal");
    }
    default: {
        char *endp = NULL;
        char tmp[64];
        size_t n = 0;
        while (ps->p + n < ps->end && n < sizeof tmp - 1 && strchr("+-0123456789.eE", ps->p[n]) != NULL) {
            n++;
        }
        memcpy(tmp, ps->p, n);
        tmp[n] = '\0';
        out->kind = JSON_NUMBER;
        out->number = strtod(tmp, &endp);
        if (n == 0 || endp != tmp + n) {
            return json_fail(ps, "bad number");
        }
        ps->p += n;
        return 1;
    }
    }
}

/* Parses `len` bytes of `text` into `out`; returns NULL on success or why not. */
static inline const char *json_parse(const char *text, size_t len, json_value *out) {
    json_parser ps;
    ps.p = text;
    ps.end = text + len;
    ps.error = NULL;
    if (!json_parse_value(&ps, out, 0)) {
        json_free(out);
        return ps.error != NULL ? ps.error : "parse error";
    }
    json_skip_ws(&ps);
    if (ps.p != ps.end) {
        json_free(out);
        return "trailing characters after the JSON value";
    }
    return NULL;
}

/* The member `key` of an object, or NULL. */
static inline const json_value *json_get(const json_value *obj, const char *key) {
    size_t i;
    if (obj == NULL || obj->kind != JSON_OBJECT) {
        return NULL;
    }
    for (i = 0; i < obj->len; i++) {
        if (strcmp(obj->keys[i], key) == 0) {
            return &obj->items[i];
        }
    }
    return NULL;
}

/* Reads a whole file into a malloc'd buffer; NULL if it cannot. */
static inline char *json_read_file(const char *path, size_t *len_out) {
    FILE *f = fopen(path, "rb");
    char *buf = NULL;
    size_t cap = 0, len = 0;
    if (f == NULL) {
        return NULL;
    }
    for (;;) {
        size_t got;
        if (len == cap) {
            char *bigger = (char *)realloc(buf, cap == 0 ? 4096 : cap * 2);
            if (bigger == NULL) {
                free(buf);
                fclose(f);
                return NULL;
            }
            buf = bigger;
            cap = cap == 0 ? 4096 : cap * 2;
        }
        got = fread(buf + len, 1, cap - len, f);
        len += got;
        if (got == 0) {
            break;
        }
    }
    fclose(f);
    *len_out = len;
    return buf;
}

#endif /* PORTREG_TEST_JSON_H */

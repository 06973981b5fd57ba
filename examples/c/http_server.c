/*
 * A tiny HTTP server in plain C that takes its port from portreg by name.
 *
 *   http_server [NAME]        (NAME defaults to "c-daemon")
 *
 * It leases a port for NAME in the default registry ($PORTREG_HOME, else
 * ~/.portreg), so every run gets the same port back, serves a page listing
 * the registry on http://127.0.0.1:PORT/, and releases the lease on SIGINT or
 * SIGTERM. If another live process already holds NAME it says where that one
 * runs and exits with status 1.
 *
 * Build (from the repository root, after `cargo build -p portreg-ffi`):
 *   cc -std=c99 -Iinclude examples/c/http_server.c \
 *      target/x86_64-unknown-linux-gnu/debug/libportreg.a -lpthread -ldl -lm -o http_server
 * or, after scripts/install-c.sh PREFIX:
 *   cc examples/c/http_server.c $(pkg-config --cflags --libs portreg) -o http_server
 */
#define _POSIX_C_SOURCE 200809L

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "portreg.h"

static volatile sig_atomic_t stopping = 0;

static void on_signal(int sig) {
    (void)sig;
    stopping = 1;
}

/* The page being built; text that does not fit is cut off rather than fail. */
typedef struct page {
    char text[65536];
    size_t len;
} page;

static void put(page *p, const char *fmt, ...) {
    va_list ap;
    int n;
    if (p->len >= sizeof p->text - 1) {
        return;
    }
    va_start(ap, fmt);
    n = vsnprintf(p->text + p->len, sizeof p->text - p->len, fmt, ap);
    va_end(ap);
    if (n > 0) {
        p->len += (size_t)n;
        if (p->len > sizeof p->text - 1) {
            p->len = sizeof p->text - 1;
        }
    }
}

/* Registry text (descriptions come from anyone's programs) escaped for HTML. */
static void put_html(page *p, const char *s) {
    for (; s != NULL && *s != '\0'; s++) {
        switch (*s) {
        case '<': put(p, "&lt;"); break;
        case '>': put(p, "&gt;"); break;
        case '&': put(p, "&amp;"); break;
        case '"': put(p, "&quot;"); break;
        default: put(p, "%c", *s);
        }
    }
}

static void render(page *p, portreg_registry *reg, const char *name, unsigned port) {
    portreg_entry_list *list = NULL;
    size_t i;
    p->len = 0;
    put(p, "<!doctype html>\n<html><head><meta charset=\"utf-8\"><title>");
    put_html(p, name);
    put(p, "</title></head>\n<body style=\"font-family: sans-serif\">\n<h1>");
    put_html(p, name);
    put(p, "</h1>\n<p>A C program (pid %d) serving on port %u, leased from portreg by name.</p>\n",
        (int)getpid(), port);
    if (portreg_list(reg, &list) != PORTREG_STATUS_OK) {
        char msg[512];
        portreg_last_error(msg, sizeof msg);
        put(p, "<p>Cannot read the registry: ");
        put_html(p, msg);
        put(p, "</p>\n</body></html>\n");
        return;
    }
    put(p, "<h2>Every service in the registry</h2>\n<table border=\"1\" cellpadding=\"4\">\n"
           "<tr><th>name</th><th>port</th><th>state</th><th>pid</th><th>description</th></tr>\n");
    for (i = 0; i < portreg_list_len(list); i++) {
        const portreg_entry *e = portreg_list_get(list, i);
        uint32_t pid = portreg_entry_holder_pid(e);
        put(p, "<tr><td>");
        put_html(p, portreg_entry_name(e));
        put(p, "</td><td><a href=\"http://127.0.0.1:%u/\">%u</a></td><td>%s</td><td>",
            (unsigned)portreg_entry_port(e), (unsigned)portreg_entry_port(e), portreg_entry_state(e));
        if (pid != 0) {
            put(p, "%lu", (unsigned long)pid);
        }
        put(p, "</td><td>");
        put_html(p, portreg_entry_description(e));
        put(p, "</td></tr>\n");
    }
    put(p, "</table>\n</body></html>\n");
    portreg_list_free(list);
}

static void send_all(int fd, const char *data, size_t len) {
    while (len > 0) {
        ssize_t n = send(fd, data, len, 0);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            return;
        }
        data += n;
        len -= (size_t)n;
    }
}

static void serve(int client, portreg_registry *reg, const char *name, unsigned port) {
    static page body;
    char request[4096], head[256];
    struct timeval timeout;
    size_t got = 0;
    ssize_t n;
    int found = 1;
    const char *type = "text/html; charset=utf-8";

    timeout.tv_sec = 2;
    timeout.tv_usec = 0;
    setsockopt(client, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
    /* A client may send its request in several pieces: read up to the blank
       line that ends the headers, so that the answer never comes (and the
       socket is closed) while the client is still writing. */
    request[0] = '\0';
    while (got < sizeof request - 1 && strstr(request, "\r\n\r\n") == NULL) {
        n = recv(client, request + got, sizeof request - 1 - got, 0);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            break;
        }
        got += (size_t)n;
        request[got] = '\0';
    }
    if (got == 0) {
        return;
    }
    if (strncmp(request, "GET / ", 6) == 0 || strncmp(request, "HEAD / ", 7) == 0) {
        render(&body, reg, name, port);
    } else if (strncmp(request, "GET /health ", 12) == 0) {
        body.len = (size_t)snprintf(body.text, sizeof body.text, "ok\n");
        type = "text/plain; charset=utf-8";
    } else {
        body.len = (size_t)snprintf(body.text, sizeof body.text, "not found\n");
        type = "text/plain; charset=utf-8";
        found = 0;
    }
    snprintf(head, sizeof head,
             "HTTP/1.0 %s\r\nContent-Type: %s\r\nContent-Length: %lu\r\nConnection: close\r\n\r\n",
             found ? "200 OK" : "404 Not Found", type, (unsigned long)body.len);
    send_all(client, head, strlen(head));
    if (strncmp(request, "HEAD ", 5) != 0) {
        send_all(client, body.text, body.len);
    }
}

int main(int argc, char **argv) {
    const char *name = argc > 1 ? argv[1] : "c-daemon";
    portreg_registry *reg = NULL;
    portreg_lease_options opts = portreg_lease_options_default();
    portreg_status status;
    struct sigaction sa;
    sigset_t blocked, waiting;
    struct sockaddr_in addr;
    char msg[1024];
    uint16_t port = 0;
    int listener, one = 1, code = 0;

    setvbuf(stdout, NULL, _IOLBF, 0);
    if (argc > 2) {
        fprintf(stderr, "usage: %s [NAME]\n", argv[0]);
        return 2;
    }
    status = portreg_registry_open(NULL, &reg);
    if (status != PORTREG_STATUS_OK) {
        portreg_last_error(msg, sizeof msg);
        fprintf(stderr, "%s: cannot open the registry: %s [%s]\n", name, msg, portreg_status_str(status));
        return 2;
    }
    opts.description = "tiny HTTP server in C (examples/c)";
    status = portreg_lease(reg, name, &opts, &port);
    if (status == PORTREG_STATUS_LEASE_HELD) {
        uint32_t pid = 0;
        uint16_t held = 0;
        portreg_last_error_holder(&pid, &held);
        printf("%s: already running at http://127.0.0.1:%u (pid %lu)\n", name, (unsigned)held,
               (unsigned long)pid);
        portreg_registry_free(reg);
        return 1;
    }
    if (status != PORTREG_STATUS_OK) {
        portreg_last_error(msg, sizeof msg);
        fprintf(stderr, "%s: cannot lease a port: %s [%s]\n", name, msg, portreg_status_str(status));
        portreg_registry_free(reg);
        return 2;
    }

    listener = socket(AF_INET, SOCK_STREAM, 0);
    memset(&addr, 0, sizeof addr);
    addr.sin_family = AF_INET;
    addr.sin_port = htons(port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (listener < 0 || setsockopt(listener, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0 ||
        bind(listener, (struct sockaddr *)&addr, sizeof addr) != 0 || listen(listener, 64) != 0) {
        fprintf(stderr, "%s: cannot listen on 127.0.0.1:%u: %s; see who has it with `portreg who %u`\n",
                name, (unsigned)port, strerror(errno), (unsigned)port);
        portreg_release(reg, name, false);
        portreg_registry_free(reg);
        return 2;
    }

    /* SIGINT and SIGTERM stay blocked except inside pselect(), so a signal
       can never slip in between the check of `stopping` and the wait. */
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
    sigemptyset(&blocked);
    sigaddset(&blocked, SIGINT);
    sigaddset(&blocked, SIGTERM);
    sigprocmask(SIG_BLOCK, &blocked, &waiting);

    printf("%s: serving http://127.0.0.1:%u/ (pid %d); Ctrl-C to stop\n", name, (unsigned)port,
           (int)getpid());
    while (!stopping) {
        fd_set ready;
        int client;
        FD_ZERO(&ready);
        FD_SET(listener, &ready);
        if (pselect(listener + 1, &ready, NULL, NULL, NULL, &waiting) < 0) {
            if (errno == EINTR) {
                continue;
            }
            fprintf(stderr, "%s: waiting for connections failed: %s\n", name, strerror(errno));
            code = 2;
            break;
        }
        client = accept(listener, NULL, NULL);
        if (client < 0) {
            continue;
        }
        serve(client, reg, name, port);
        close(client);
    }
    close(listener);

    status = portreg_release(reg, name, false);
    if (status == PORTREG_STATUS_OK) {
        printf("%s: released port %u\n", name, (unsigned)port);
    } else {
        portreg_last_error(msg, sizeof msg);
        fprintf(stderr, "%s: cannot release: %s [%s]\n", name, msg, portreg_status_str(status));
        code = 2;
    }
    portreg_registry_free(reg);
    return code;
}

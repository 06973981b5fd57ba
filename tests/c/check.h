/*
 * Shared helpers of the C tests: checks that count and report failures,
 * temporary registries, child processes (sleepers, the portreg CLI) and
 * listening sockets. Header-only; valid C99 (with POSIX) and C++.
 */
#ifndef PORTREG_TEST_CHECK_H
#define PORTREG_TEST_CHECK_H

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include "portreg.h"

static int check_failures = 0;
static int check_count = 0;

/* This thread's last portreg error message (a static buffer: read it at once). */
static inline const char *last_error(void) {
    static char buf[2048];
    portreg_last_error(buf, sizeof buf);
    return buf;
}

static inline void check_report(const char *file, int line, const char *what) {
    check_failures++;
    fprintf(stderr, "%s:%d: FAILED: %s\n", file, line, what);
}

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        check_count++;                                                                             \
        if (!(cond)) {                                                                             \
            check_report(__FILE__, __LINE__, #cond);                                               \
        }                                                                                          \
    } while (0)

/* Runs a portreg call and checks its status; on a mismatch prints both names and the message. */
#define CHECK_STATUS(call, want)                                                                   \
    do {                                                                                           \
        portreg_status got_ = (call);                                                              \
        check_count++;                                                                             \
        if (got_ != (portreg_status)(want)) {                                                      \
            char what_[4096];                                                                      \
            snprintf(what_, sizeof what_, "%s gave %s, expected %s (last error: %s)", #call,      \
                     portreg_status_str(got_), portreg_status_str(want), last_error());            \
            check_report(__FILE__, __LINE__, what_);                                               \
        }                                                                                          \
    } while (0)

#define CHECK_OK(call) CHECK_STATUS(call, PORTREG_STATUS_OK)

/* True when `s` is non-NULL and contains `part`. */
static inline int contains(const char *s, const char *part) {
    return s != NULL && strstr(s, part) != NULL;
}

static inline int str_eq(const char *a, const char *b) {
    return a != NULL && b != NULL && strcmp(a, b) == 0;
}

/* Ends the test: prints a summary and returns the exit status for main. */
static inline int check_finish(const char *name) {
    if (check_failures != 0) {
        fprintf(stderr, "%s: %d of %d checks FAILED\n", name, check_failures, check_count);
        return 1;
    }
    printf("%s: all %d checks passed\n", name, check_count);
    return 0;
}

static inline void die(const char *what) {
    fprintf(stderr, "test setup failed: %s: %s\n", what, strerror(errno));
    exit(2);
}

/* Makes a fresh directory under $TMPDIR (or /tmp) and writes its path to `out`. */
static inline void make_temp_dir(char *out, size_t len, const char *tag) {
    const char *tmp = getenv("TMPDIR");
    snprintf(out, len, "%s/portreg-c-%s-XXXXXX", tmp != NULL && tmp[0] != '\0' ? tmp : "/tmp", tag);
    if (mkdtemp(out) == NULL) {
        die("mkdtemp");
    }
}

/* Runs argv[0] (found on PATH) with the given arguments and waits; returns its exit status. */
static inline int run_argv(char *const argv[], char *out, size_t out_len) {
    int fds[2];
    pid_t pid;
    int status = 0;
    size_t got = 0;
    if (out != NULL && pipe(fds) != 0) {
        die("pipe");
    }
    pid = fork();
    if (pid < 0) {
        die("fork");
    }
    if (pid == 0) {
        if (out != NULL) {
            dup2(fds[1], 1);
            close(fds[0]);
            close(fds[1]);
        }
        execvp(argv[0], argv);
        fprintf(stderr, "cannot run %s: %s\n", argv[0], strerror(errno));
        _exit(127);
    }
    if (out != NULL) {
        close(fds[1]);
        for (;;) {
            ssize_t n = read(fds[0], out + got, out_len - 1 - got);
            if (n < 0 && errno == EINTR) {
                continue;
            }
            if (n <= 0) {
                break;
            }
            got += (size_t)n;
            if (got == out_len - 1) {
                break;
            }
        }
        out[got] = '\0';
        close(fds[0]);
    }
    while (waitpid(pid, &status, 0) < 0) {
        if (errno != EINTR) {
            die("waitpid");
        }
    }
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

/* Removes a test directory tree. */
static inline void remove_tree(const char *dir) {
    char *argv[4];
    argv[0] = (char *)"rm";
    argv[1] = (char *)"-rf";
    argv[2] = (char *)dir;
    argv[3] = NULL;
    run_argv(argv, NULL, 0);
}

/* Starts `sleep 120`: a live process of this user that is not this one.
   Returns once it runs `sleep` (a close-on-exec pipe reports the exec). */
static inline pid_t spawn_sleeper(void) {
    int fds[2];
    char byte;
    pid_t pid;
    if (pipe(fds) != 0 || fcntl(fds[1], F_SETFD, FD_CLOEXEC) != 0) {
        die("pipe");
    }
    pid = fork();
    if (pid < 0) {
        die("fork");
    }
    if (pid == 0) {
        close(fds[0]);
        execlp("sleep", "sleep", "120", (char *)NULL);
        _exit(127);
    }
    close(fds[1]);
    while (read(fds[0], &byte, 1) < 0 && errno == EINTR) {
    }
    close(fds[0]);
    return pid;
}

static inline void kill_and_reap(pid_t pid) {
    int status;
    kill(pid, SIGKILL);
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
}

/* Listens on 127.0.0.1:port; returns the socket (close it to stop), or -1. */
static inline int listen_on(unsigned port) {
    struct sockaddr_in addr;
    int one = 1;
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0) {
        die("socket");
    }
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    memset(&addr, 0, sizeof addr);
    addr.sin_family = AF_INET;
    addr.sin_port = htons((unsigned short)port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (bind(fd, (struct sockaddr *)&addr, sizeof addr) != 0 || listen(fd, 8) != 0) {
        close(fd);
        return -1;
    }
    return fd;
}

/* Writes `text` to `dir`/`file` (mode 0600). */
static inline void write_file(const char *dir, const char *file, const char *text) {
    char path[4096];
    int fd;
    size_t len = strlen(text);
    snprintf(path, sizeof path, "%s/%s", dir, file);
    fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (fd < 0 || write(fd, text, len) != (ssize_t)len) {
        die(path);
    }
    close(fd);
}

#endif /* PORTREG_TEST_CHECK_H */

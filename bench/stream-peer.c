/* The plain C peers of bench/stream: as light as a stream program can be (one 256 KiB
 * buffer, read and write, nothing else), so that the rate measured is the other side's, and
 * so that a C program doing the same job as udskit can be measured beside it.
 *   stream-peer send PATH   connects to PATH and writes stdin into it, then shuts down the
 *                           write side and waits for the server's EOF (the C client)
 *   stream-peer sink PATH   binds PATH, prints "ready" on stderr, accepts one client and
 *                           reads it to EOF, keeping nothing (the C sink)
 *   stream-peer recv PATH   the same, writing what it reads to stdout (the C listener)
 *   stream-peer drain       reads stdin to EOF, keeping nothing (a pipe's reader) */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#define BUF (256 * 1024)
static char buf[BUF];

static int write_all(int fd, const char *p, ssize_t n) {
    while (n > 0) {
        ssize_t k = write(fd, p, n);
        if (k < 0) { perror("write"); return -1; }
        p += k;
        n -= k;
    }
    return 0;
}

/* Reads `from` to EOF, writing to `to` unless it is -1. */
static int pump(int from, int to) {
    for (;;) {
        ssize_t n = read(from, buf, BUF);
        if (n < 0) { perror("read"); return 1; }
        if (n == 0) return 0;
        if (to >= 0 && write_all(to, buf, n)) return 1;
    }
}

int main(int argc, char **argv) {
    if (argc < 2 || (strcmp(argv[1], "drain") && argc < 3)) {
        fprintf(stderr, "usage: stream-peer send|sink|recv PATH | drain\n");
        return 2;
    }
    if (!strcmp(argv[1], "drain")) return pump(0, -1);
    struct sockaddr_un a = {.sun_family = AF_UNIX};
    strncpy(a.sun_path, argv[2], sizeof a.sun_path - 1);
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);
    if (!strcmp(argv[1], "send")) {
        if (connect(fd, (struct sockaddr *)&a, sizeof a)) { perror("connect"); return 1; }
        if (pump(0, fd)) return 1;
        shutdown(fd, SHUT_WR);
        return pump(fd, -1);
    }
    unlink(a.sun_path);
    if (bind(fd, (struct sockaddr *)&a, sizeof a) || listen(fd, 1)) { perror("bind"); return 1; }
    fprintf(stderr, "ready\n");
    int c = accept(fd, NULL, NULL);
    if (c < 0) { perror("accept"); return 1; }
    int rc = pump(c, strcmp(argv[1], "recv") ? -1 : 1);
    unlink(a.sun_path);
    return rc;
}

/* The plain C stream peers of bench/relay's scale case: a client and a sink lighter than
 * any relay between them (one epoll thread each, 256 KiB per system call), so that what
 * the relay allows is what is measured.
 *   stream-peer sink ADDR               listens at ADDR (tcp:PORT, or a unix socket path),
 *                                       prints "ready", then reads and drops the bytes of
 *                                       every connection until killed
 *   stream-peer send ADDR CONNS SECS    CONNS connections to ADDR, each written to as fast
 *                                       as it takes for SECS seconds, then prints the
 *                                       bytes/second written, over all of them
 *   stream-peer conns ADDR SECS PAR     PAR processes, each in a loop for SECS seconds:
 *                                       connect, write a byte, shut down its write side,
 *                                       read until EOF; prints connections/second */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define BUF (256 * 1024)
static char buf[BUF];

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec / 1e9;
}

static void die(const char *what) {
    perror(what);
    exit(1);
}

/* A socket for ADDR and its sockaddr. */
static int addr_of(const char *addr, struct sockaddr_storage *ss, socklen_t *len) {
    memset(ss, 0, sizeof *ss);
    if (strncmp(addr, "tcp:", 4) == 0) {
        struct sockaddr_in *in = (struct sockaddr_in *)ss;
        in->sin_family = AF_INET;
        in->sin_port = htons(atoi(addr + 4));
        in->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        *len = sizeof *in;
        return AF_INET;
    }
    struct sockaddr_un *un = (struct sockaddr_un *)ss;
    un->sun_family = AF_UNIX;
    strncpy(un->sun_path, addr, sizeof un->sun_path - 1);
    *len = sizeof *un;
    return AF_UNIX;
}

static int sink(const char *addr) {
    struct sockaddr_storage ss;
    socklen_t len;
    int fam = addr_of(addr, &ss, &len);
    int l = socket(fam, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    int one = 1;
    if (fam == AF_INET) setsockopt(l, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    else unlink(addr);
    if (bind(l, (struct sockaddr *)&ss, len) < 0) die("bind");
    if (listen(l, 4096) < 0) die("listen");
    int ep = epoll_create1(EPOLL_CLOEXEC);
    struct epoll_event ev = {.events = EPOLLIN, .data.fd = l};
    epoll_ctl(ep, EPOLL_CTL_ADD, l, &ev);
    printf("ready\n");
    fflush(stdout);
    struct epoll_event evs[256];
    for (;;) {
        int n = epoll_wait(ep, evs, 256, -1);
        for (int i = 0; i < n; i++) {
            int fd = evs[i].data.fd;
            if (fd == l) {
                int c;
                while ((c = accept4(l, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC)) >= 0) {
                    struct epoll_event cev = {.events = EPOLLIN, .data.fd = c};
                    epoll_ctl(ep, EPOLL_CTL_ADD, c, &cev);
                }
                continue;
            }
            ssize_t r = read(fd, buf, BUF);
            if (r == 0 || (r < 0 && errno != EAGAIN)) close(fd);
        }
    }
    return 0;
}

static int sender(const char *addr, int conns, double secs) {
    struct sockaddr_storage ss;
    socklen_t len;
    int fam = addr_of(addr, &ss, &len);
    int ep = epoll_create1(EPOLL_CLOEXEC);
    for (int i = 0; i < conns; i++) {
        int c = socket(fam, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (connect(c, (struct sockaddr *)&ss, len) < 0) die("connect");
        int one = 1;
        if (fam == AF_INET) setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        fcntl(c, F_SETFL, O_NONBLOCK);
        struct epoll_event ev = {.events = EPOLLOUT, .data.fd = c};
        epoll_ctl(ep, EPOLL_CTL_ADD, c, &ev);
    }
    double start = now(), end = start + secs;
    long long total = 0;
    struct epoll_event evs[256];
    while (now() < end) {
        int n = epoll_wait(ep, evs, 256, 100);
        for (int i = 0; i < n; i++) {
            ssize_t w = write(evs[i].data.fd, buf, BUF);
            if (w > 0) total += w;
            else if (w < 0 && errno != EAGAIN) die("write");
        }
    }
    printf("%.0f\n", total / (now() - start));
    return 0;
}

static int conns(const char *addr, double secs, int par) {
    struct sockaddr_storage ss;
    socklen_t len;
    int fam = addr_of(addr, &ss, &len);
    int p[2];
    if (pipe(p) < 0) die("pipe");
    double start = now();
    for (int k = 0; k < par; k++) {
        if (fork() == 0) {
            long n = 0;
            double end = start + secs;
            while (now() < end) {
                int c = socket(fam, SOCK_STREAM | SOCK_CLOEXEC, 0);
                if (connect(c, (struct sockaddr *)&ss, len) < 0) die("connect");
                if (write(c, "x", 1) != 1) die("write");
                shutdown(c, SHUT_WR);
                while (read(c, buf, sizeof buf) > 0) {}
                close(c);
                n++;
            }
            if (write(p[1], &n, sizeof n) != sizeof n) die("pipe write");
            _exit(0);
        }
    }
    close(p[1]);
    long total = 0, n;
    while (read(p[0], &n, sizeof n) == sizeof n) total += n;
    while (wait(NULL) > 0) {}
    printf("%.0f\n", total / (now() - start));
    return 0;
}

int main(int argc, char **argv) {
    if (argc >= 5 && strcmp(argv[1], "conns") == 0) return conns(argv[2], atof(argv[3]), atoi(argv[4]));
    if (argc >= 3 && strcmp(argv[1], "sink") == 0) return sink(argv[2]);
    if (argc >= 5 && strcmp(argv[1], "send") == 0) return sender(argv[2], atoi(argv[3]), atof(argv[4]));
    fprintf(stderr, "usage: stream-peer sink ADDR | send ADDR CONNS SECS | conns ADDR SECS PAR\n");
    return 2;
}

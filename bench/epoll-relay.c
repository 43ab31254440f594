/* The floor of bench/relay's latency case: the least an event-loop relay can do per hop.
 *   epoll-relay LISTEN TARGET    LISTEN and TARGET are tcp:PORT (on 127.0.0.1) or a unix
 *                                socket path
 * One thread, one level-triggered epoll set, and for each readable socket one recv of what
 * is queued and a blocking send of it to the other side: one epoll_wait, one recv and one
 * send per hop, no buffer of its own, no timer, no log. Every client gets a connection to
 * TARGET; either side's EOF or error closes both. Not a relay to use (a slow peer stalls
 * every connection), only the reference the ping-pong round trips are compared with. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#define MAXFD 65536
static int peer[MAXFD];
static char buf[256 * 1024];

/* A socket for ADDR, bound and listening (listen != 0) or connected. */
static int open_addr(const char *addr, int listening) {
    int one = 1, s;
    if (!strncmp(addr, "tcp:", 4)) {
        struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(atoi(addr + 4))};
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (listening) {
            setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
            /* Inherited by every accepted socket. */
            setsockopt(s, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
            if (bind(s, (void *)&a, sizeof a) || listen(s, 4096)) return -1;
        } else {
            if (connect(s, (void *)&a, sizeof a)) goto fail;
            setsockopt(s, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        }
    } else {
        struct sockaddr_un a = {.sun_family = AF_UNIX};
        strncpy(a.sun_path, addr, sizeof a.sun_path - 1);
        s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (listening) {
            if (bind(s, (void *)&a, sizeof a) || listen(s, 4096)) return -1;
        } else if (connect(s, (void *)&a, sizeof a)) {
            goto fail;
        }
    }
    return s;
fail:
    close(s);
    return -1;
}

static void watch(int ep, int fd) {
    struct epoll_event ev = {.events = EPOLLIN, .data.fd = fd};
    epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
}

int main(int argc, char **argv) {
    if (argc != 3) {
        fprintf(stderr, "usage: epoll-relay LISTEN TARGET\n");
        return 2;
    }
    int l = open_addr(argv[1], 1);
    if (l < 0) {
        perror(argv[1]);
        return 1;
    }
    int ep = epoll_create1(EPOLL_CLOEXEC);
    watch(ep, l);
    for (;;) {
        struct epoll_event evs[64];
        int n = epoll_wait(ep, evs, 64, -1);
        if (n < 0 && errno != EINTR) {
            perror("epoll_wait");
            return 1;
        }
        for (int i = 0; i < n; i++) {
            int fd = evs[i].data.fd;
            if (fd == l) {
                int c = accept4(l, 0, 0, SOCK_CLOEXEC);
                if (c < 0) continue;
                int t = open_addr(argv[2], 0);
                if (t < 0 || c >= MAXFD || t >= MAXFD) {
                    close(c);
                    if (t >= 0) close(t);
                    continue;
                }
                peer[c] = t;
                peer[t] = c;
                watch(ep, c);
                watch(ep, t);
                continue;
            }
            if (peer[fd] < 0) continue; /* closed by its other side in this batch */
            ssize_t r = recv(fd, buf, sizeof buf, MSG_DONTWAIT);
            if (r < 0 && (errno == EAGAIN || errno == EINTR)) continue;
            ssize_t off = 0;
            while (r > 0 && off < r) {
                ssize_t w = send(peer[fd], buf + off, r - off, MSG_NOSIGNAL);
                if (w <= 0) break;
                off += w;
            }
            if (r <= 0 || off < r) {
                int t = peer[fd];
                peer[fd] = peer[t] = -1;
                close(t);
                close(fd);
            }
        }
    }
}

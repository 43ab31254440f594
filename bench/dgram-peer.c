/* The fast, plain C peer of bench/dgram: datagram senders and receivers that are quicker
 * than the programs measured (or, as `cat`, the plain C program to measure them against).
 *   dgram-peer send PATH COUNT SIZE     sendmmsg batches of 1024 on a blocking unix socket,
 *                                       then prints the datagrams/second it achieved
 *   dgram-peer recv PATH COUNT          binds PATH, recvmmsg until COUNT datagrams came,
 *                                       prints "ready" once bound and the rate at the end
 *   dgram-peer cat PATH                 binds PATH and does what `recvfrom PATH` does in
 *                                       plain C: recvmmsg (blocking, MSG_WAITFORONE) and one
 *                                       writev of the batch to stdout, until killed
 *   dgram-peer udpsend PORT COUNT SIZE  sendmmsg batches of 64 to 127.0.0.1:PORT as fast as
 *                                       they go (UDP drops what a slow receiver misses),
 *                                       then prints the datagrams/second sent
 *   dgram-peer drain PATH IDLE_MS       binds PATH, counts datagrams until none came for
 *                                       IDLE_MS after the first; prints "COUNT RATE", the
 *                                       rate over first to last arrival */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#define BATCH 1024

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec / 1e9;
}

static char bufs[BATCH][65536];
static struct mmsghdr m[BATCH];
static struct iovec iov[BATCH];

static void recv_slots(void) {
    for (int i = 0; i < BATCH; i++) {
        iov[i] = (struct iovec){bufs[i], sizeof bufs[i]};
        m[i] = (struct mmsghdr){.msg_hdr = {.msg_iov = &iov[i], .msg_iovlen = 1}};
    }
}

static void send_slots(size_t size) {
    for (int i = 0; i < BATCH; i++) {
        memset(bufs[i], 'x', size);
        iov[i] = (struct iovec){bufs[i], size};
        m[i] = (struct mmsghdr){.msg_hdr = {.msg_iov = &iov[i], .msg_iovlen = 1}};
    }
}

int main(int argc, char **argv) {
    if (argc < 3) {
        fprintf(stderr, "usage: dgram-peer send|recv|cat|udpsend|drain ...\n");
        return 2;
    }
    if (!strcmp(argv[1], "udpsend")) {
        if (argc < 5) return 2;
        struct sockaddr_in to = {.sin_family = AF_INET, .sin_port = htons(atoi(argv[2]))};
        to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        long count = atol(argv[3]);
        size_t size = atol(argv[4]);
        int fd = socket(AF_INET, SOCK_DGRAM, 0);
        if (connect(fd, (struct sockaddr *)&to, sizeof to)) { perror("connect"); return 1; }
        send_slots(size);
        double t0 = now();
        long sent = 0;
        while (sent < count) {
            int want = count - sent < 64 ? count - sent : 64;
            int n = sendmmsg(fd, m, want, 0);
            /* ECONNREFUSED: an earlier datagram found nobody yet; go on. */
            if (n < 0) continue;
            sent += n;
        }
        printf("%.0f\n", sent / (now() - t0));
        return 0;
    }
    struct sockaddr_un a = {.sun_family = AF_UNIX};
    strncpy(a.sun_path, argv[2], sizeof a.sun_path - 1);
    int fd = socket(AF_UNIX, SOCK_DGRAM, 0);
    if (!strcmp(argv[1], "send")) {
        if (argc < 5) return 2;
        long count = atol(argv[3]);
        size_t size = atol(argv[4]);
        if (connect(fd, (struct sockaddr *)&a, sizeof a)) { perror("connect"); return 1; }
        send_slots(size);
        double t0 = now();
        long sent = 0;
        while (sent < count) {
            int want = count - sent < BATCH ? count - sent : BATCH;
            int n = sendmmsg(fd, m, want, 0);
            if (n < 0) { perror("sendmmsg"); return 1; }
            sent += n;
        }
        printf("%.0f\n", sent / (now() - t0));
        return 0;
    }
    unlink(a.sun_path);
    if (bind(fd, (struct sockaddr *)&a, sizeof a)) { perror("bind"); return 1; }
    recv_slots();
    fprintf(stderr, "ready\n");
    if (!strcmp(argv[1], "cat")) {
        static struct iovec out[BATCH];
        for (;;) {
            int n = recvmmsg(fd, m, BATCH, MSG_WAITFORONE, NULL);
            if (n < 0) { perror("recvmmsg"); return 1; }
            for (int i = 0; i < n; i++) out[i] = (struct iovec){bufs[i], m[i].msg_len};
            if (writev(1, out, n) < 0) { perror("writev"); return 1; }
        }
    }
    if (!strcmp(argv[1], "drain")) {
        int idle = atoi(argv[3]);
        long got = 0;
        double first = 0, last = 0;
        struct pollfd p = {.fd = fd, .events = POLLIN};
        for (;;) {
            int r = poll(&p, 1, got ? idle : -1);
            if (r == 0) break;
            int n = recvmmsg(fd, m, BATCH, MSG_DONTWAIT, NULL);
            if (n <= 0) continue;
            last = now();
            if (!got) first = last;
            got += n;
        }
        printf("%ld %.0f\n", got, last > first ? got / (last - first) : 0.0);
        unlink(a.sun_path);
        return 0;
    }
    long count = atol(argv[3]);
    long got = 0;
    double t0 = 0;
    while (got < count) {
        int n = recvmmsg(fd, m, BATCH, MSG_WAITFORONE, NULL);
        if (n < 0) { perror("recvmmsg"); return 1; }
        if (got == 0) t0 = now();
        got += n;
    }
    printf("%.0f\n", got / (now() - t0));
    unlink(a.sun_path);
    return 0;
}

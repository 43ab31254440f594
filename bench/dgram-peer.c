/* The fast, plain C peer of bench/dgram: a datagram sender and a receiver that are quicker
 * than both programs measured, so that the rate measured is theirs.
 *   dgram-peer send PATH COUNT SIZE   sendmmsg batches of 1024 on a blocking socket, then
 *                                     prints the datagrams/second it achieved
 *   dgram-peer recv PATH COUNT        binds PATH, recvmmsg until COUNT datagrams came,
 *                                     prints "ready" once bound and the rate at the end */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#define BATCH 1024

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec / 1e9;
}

int main(int argc, char **argv) {
    if (argc < 4) { fprintf(stderr, "usage: dgram-peer send|recv PATH COUNT [SIZE]\n"); return 2; }
    struct sockaddr_un a = {.sun_family = AF_UNIX};
    strncpy(a.sun_path, argv[2], sizeof a.sun_path - 1);
    long count = atol(argv[3]);
    int fd = socket(AF_UNIX, SOCK_DGRAM, 0);
    static char bufs[BATCH][65536];
    struct mmsghdr m[BATCH];
    struct iovec iov[BATCH];
    if (!strcmp(argv[1], "send")) {
        size_t size = argc > 4 ? atol(argv[4]) : 64;
        if (connect(fd, (struct sockaddr *)&a, sizeof a)) { perror("connect"); return 1; }
        for (int i = 0; i < BATCH; i++) {
            memset(bufs[i], 'x', size);
            iov[i] = (struct iovec){bufs[i], size};
            m[i] = (struct mmsghdr){.msg_hdr = {.msg_iov = &iov[i], .msg_iovlen = 1}};
        }
        double t0 = now();
        long sent = 0;
        while (sent < count) {
            int want = count - sent < BATCH ? count - sent : BATCH;
            int n = sendmmsg(fd, m, want, 0);
            if (n < 0) { perror("sendmmsg"); return 1; }
            sent += n;
        }
        printf("%.0f\n", sent / (now() - t0));
    } else {
        unlink(a.sun_path);
        if (bind(fd, (struct sockaddr *)&a, sizeof a)) { perror("bind"); return 1; }
        for (int i = 0; i < BATCH; i++) {
            iov[i] = (struct iovec){bufs[i], sizeof bufs[i]};
            m[i] = (struct mmsghdr){.msg_hdr = {.msg_iov = &iov[i], .msg_iovlen = 1}};
        }
        fprintf(stderr, "ready\n");
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
    }
    return 0;
}

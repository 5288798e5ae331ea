/*
 * tunnel_load: a small load tool for CONNECT tunnels through an HTTP proxy,
 * used by bench/run.sh. Every address is 127.0.0.1: the tool cannot be
 * pointed at another host.
 *
 *   tunnel_load echo PORT
 *       TCP echo server on 127.0.0.1:PORT until SIGTERM/SIGINT. It is the
 *       far end of every tunnel the other modes open.
 *
 *   tunnel_load rate PROXY_PORT TARGET_PORT CONCURRENCY SECONDS
 *       CONCURRENCY loops, each: connect to the proxy, send
 *       "CONNECT 127.0.0.1:TARGET_PORT", wait for a 2xx head, send a
 *       32-byte probe, wait until the same 32 bytes come back through the
 *       tunnel, close, start again. Counts only tunnels whose probe came
 *       back intact, so a proxy cannot score by answering 200 and failing.
 *       Prints one line: ok= fail= seconds= rate= p50_us= p99_us=
 *
 *   tunnel_load hold PROXY_PORT TARGET_PORT N SECONDS
 *       Opens N tunnels (at most HOLD_INFLIGHT being set up at once), checks
 *       each with one probe, then keeps them all open and idle. Prints
 *       "ready ok= fail= seconds=" once every tunnel is set up or failed,
 *       then holds until SIGTERM or SECONDS, and prints "closed_by_peer=".
 *
 * Build: cc -O2 -o tunnel_load tunnel_load.c (no library beyond libc).
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define PROBE_LEN 32          /* bytes sent through each tunnel and echoed back */
#define HEAD_MAX 4096         /* largest CONNECT response head accepted */
#define MAX_SLOTS 20000       /* concurrent tunnels (rate) or held tunnels (hold) */
#define HOLD_INFLIGHT 256     /* tunnels being set up at once in hold mode */
#define MAX_SAMPLES 8000000   /* latency samples kept in rate mode */
#define EVENTS 512            /* epoll events per wait */

enum slot_state { S_FREE, S_CONNECTING, S_HEAD, S_ECHO, S_IDLE };

struct slot {
    int fd;
    enum slot_state st;
    uint64_t t0_us;
    size_t got;
    char probe[PROBE_LEN];
    char buf[HEAD_MAX];
};

static volatile sig_atomic_t stop_flag;
static struct slot *slots;
static int ep;
static unsigned proxy_port, target_port;
static uint64_t probe_seq;

static void on_signal(int sig)
{
    (void)sig;
    stop_flag = 1;
}

static uint64_t now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

static void die(const char *what)
{
    perror(what);
    exit(1);
}

static unsigned parse_uint(const char *s, unsigned lo, unsigned hi, const char *name)
{
    char *end;
    unsigned long v = strtoul(s, &end, 10);
    if (*s == '\0' || *end != '\0' || v < lo || v > hi) {
        fprintf(stderr, "tunnel_load: %s must be %u..%u, got '%s'\n", name, lo, hi, s);
        exit(2);
    }
    return (unsigned)v;
}

static struct sockaddr_in loopback(unsigned port)
{
    struct sockaddr_in a;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_port = htons((uint16_t)port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    return a;
}

/* ---- echo server ---- */

static int run_echo(unsigned port)
{
    int ls = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    int one = 1;
    if (ls < 0) die("socket");
    setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in a = loopback(port);
    if (bind(ls, (struct sockaddr *)&a, sizeof a) < 0) die("bind");
    if (listen(ls, 4096) < 0) die("listen");
    ep = epoll_create1(0);
    if (ep < 0) die("epoll_create1");
    struct epoll_event ev = { .events = EPOLLIN, .data.fd = ls };
    epoll_ctl(ep, EPOLL_CTL_ADD, ls, &ev);
    printf("echo listening on 127.0.0.1:%u\n", port);
    fflush(stdout);

    struct epoll_event evs[EVENTS];
    char buf[16384];
    unsigned long long accepted = 0;
    while (!stop_flag) {
        int n = epoll_wait(ep, evs, EVENTS, 200);
        for (int i = 0; i < n; i++) {
            int fd = evs[i].data.fd;
            if (fd == ls) {
                for (;;) {
                    int c = accept4(ls, NULL, NULL, SOCK_NONBLOCK);
                    if (c < 0) break;
                    setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
                    struct epoll_event cev = { .events = EPOLLIN, .data.fd = c };
                    epoll_ctl(ep, EPOLL_CTL_ADD, c, &cev);
                    accepted++;
                }
                continue;
            }
            ssize_t r = read(fd, buf, sizeof buf);
            if (r > 0) {
                /* Probes are tiny, so a short write means a stuck peer: drop it. */
                if (write(fd, buf, (size_t)r) != r) close(fd);
            } else if (r == 0 || (errno != EAGAIN && errno != EINTR)) {
                close(fd);
            }
        }
    }
    printf("echo accepted=%llu\n", accepted);
    return 0;
}

/* ---- tunnel client ---- */

static void slot_close(struct slot *s)
{
    if (s->fd >= 0) close(s->fd);
    s->fd = -1;
    s->st = S_FREE;
}

/* Starts a tunnel in slot idx. Returns 0, or -1 when the socket could not be
 * made (the caller counts a failure). */
static int slot_start(unsigned idx)
{
    struct slot *s = &slots[idx];
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    if (fd < 0) return -1;
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    struct sockaddr_in a = loopback(proxy_port);
    if (connect(fd, (struct sockaddr *)&a, sizeof a) < 0 && errno != EINPROGRESS) {
        close(fd);
        return -1;
    }
    s->fd = fd;
    s->st = S_CONNECTING;
    s->got = 0;
    s->t0_us = now_us();
    struct epoll_event ev = { .events = EPOLLOUT, .data.u32 = idx };
    if (epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) < 0) {
        slot_close(s);
        return -1;
    }
    return 0;
}

/* Advances slot idx on readiness. Returns 1 when its tunnel has carried the
 * probe both ways, 0 while in progress, -1 on failure (slot closed). */
static int slot_step(unsigned idx)
{
    struct slot *s = &slots[idx];
    if (s->st == S_CONNECTING) {
        int err = 0;
        socklen_t len = sizeof err;
        getsockopt(s->fd, SOL_SOCKET, SO_ERROR, &err, &len);
        if (err != 0) goto fail;
        char req[128];
        int n = snprintf(req, sizeof req,
                         "CONNECT 127.0.0.1:%u HTTP/1.1\r\nHost: 127.0.0.1:%u\r\n\r\n",
                         target_port, target_port);
        if (write(s->fd, req, (size_t)n) != n) goto fail;
        struct epoll_event ev = { .events = EPOLLIN, .data.u32 = idx };
        epoll_ctl(ep, EPOLL_CTL_MOD, s->fd, &ev);
        s->st = S_HEAD;
        return 0;
    }
    if (s->st == S_HEAD) {
        ssize_t r = read(s->fd, s->buf + s->got, sizeof s->buf - 1 - s->got);
        if (r < 0 && (errno == EAGAIN || errno == EINTR)) return 0;
        if (r <= 0) goto fail;
        s->got += (size_t)r;
        s->buf[s->got] = '\0';
        char *end = strstr(s->buf, "\r\n\r\n");
        if (end == NULL) {
            if (s->got >= sizeof s->buf - 1) goto fail;
            return 0;
        }
        /* RFC 9110 section 9.3.6: any 2xx to CONNECT means the tunnel is up,
         * and the bytes after the head already belong to the tunnel; the
         * echo has not been asked for anything yet, so there must be none. */
        if (strncmp(s->buf, "HTTP/1.", 7) != 0 || s->got < 12 || s->buf[9] != '2') goto fail;
        if ((size_t)(end + 4 - s->buf) != s->got) goto fail;
        uint64_t seq = ++probe_seq;
        for (int i = 0; i < PROBE_LEN; i++)
            s->probe[i] = (char)('a' + (char)((seq >> ((i % 8) * 4)) & 0xf) + (i & 7));
        if (write(s->fd, s->probe, PROBE_LEN) != PROBE_LEN) goto fail;
        s->st = S_ECHO;
        s->got = 0;
        return 0;
    }
    if (s->st == S_ECHO) {
        ssize_t r = read(s->fd, s->buf + s->got, PROBE_LEN - s->got);
        if (r < 0 && (errno == EAGAIN || errno == EINTR)) return 0;
        if (r <= 0) goto fail;
        s->got += (size_t)r;
        if (s->got < PROBE_LEN) return 0;
        if (memcmp(s->buf, s->probe, PROBE_LEN) != 0) goto fail;
        return 1;
    }
    if (s->st == S_IDLE) {
        /* An idle tunnel became readable: the peer closed it (or sent bytes
         * nobody asked for, which is as bad). */
        goto fail;
    }
    return 0;
fail:
    slot_close(s);
    return -1;
}

static int cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return (x > y) - (x < y);
}

static int run_rate(unsigned conc, unsigned seconds)
{
    uint32_t *lat = malloc(sizeof *lat * MAX_SAMPLES);
    if (lat == NULL) die("malloc");
    size_t nlat = 0;
    unsigned long long ok = 0, fail = 0;
    struct epoll_event evs[EVENTS];
    uint64_t t_start = now_us(), deadline = t_start + (uint64_t)seconds * 1000000u;

    for (unsigned i = 0; i < conc; i++)
        if (slot_start(i) < 0) fail++;
    while (!stop_flag) {
        uint64_t t = now_us();
        if (t >= deadline) break;
        int n = epoll_wait(ep, evs, EVENTS, 50);
        for (int i = 0; i < n; i++) {
            unsigned idx = evs[i].data.u32;
            if (slots[idx].st == S_FREE) continue;
            int r = slot_step(idx);
            if (r == 0) continue;
            if (r == 1) {
                ok++;
                if (nlat < MAX_SAMPLES) lat[nlat++] = (uint32_t)(now_us() - slots[idx].t0_us);
                slot_close(&slots[idx]);
            } else {
                fail++;
            }
            if (now_us() < deadline && slot_start(idx) < 0) fail++;
        }
        /* Slots whose socket() failed (fd exhaustion) are retried here. */
        for (unsigned i = 0; i < conc && n == 0; i++)
            if (slots[i].st == S_FREE && slot_start(i) < 0) fail++;
    }
    double secs = (double)(now_us() - t_start) / 1e6;
    qsort(lat, nlat, sizeof *lat, cmp_u32);
    uint32_t p50 = nlat ? lat[nlat / 2] : 0, p99 = nlat ? lat[(nlat * 99) / 100] : 0;
    printf("ok=%llu fail=%llu seconds=%.3f rate=%.1f p50_us=%u p99_us=%u\n",
           ok, fail, secs, (double)ok / secs, p50, p99);
    free(lat);
    return 0;
}

static int run_hold(unsigned n, unsigned seconds)
{
    unsigned long long ok = 0, fail = 0, closed = 0;
    unsigned next = 0, inflight = 0;
    struct epoll_event evs[EVENTS];
    uint64_t t_start = now_us(), deadline = t_start + (uint64_t)seconds * 1000000u;

    while (!stop_flag && ok + fail < n && now_us() < deadline) {
        while (inflight < HOLD_INFLIGHT && next < n) {
            if (slot_start(next) < 0) fail++;
            else inflight++;
            next++;
        }
        int k = epoll_wait(ep, evs, EVENTS, 50);
        for (int i = 0; i < k; i++) {
            unsigned idx = evs[i].data.u32;
            if (slots[idx].st == S_FREE || slots[idx].st == S_IDLE) {
                if (slots[idx].st == S_IDLE && slot_step(idx) < 0) closed++;
                continue;
            }
            int r = slot_step(idx);
            if (r == 0) continue;
            inflight--;
            if (r == 1) {
                ok++;
                slots[idx].st = S_IDLE;
            } else {
                fail++;
            }
        }
    }
    printf("ready ok=%llu fail=%llu seconds=%.3f\n", ok, fail, (double)(now_us() - t_start) / 1e6);
    fflush(stdout);
    while (!stop_flag && now_us() < deadline) {
        int k = epoll_wait(ep, evs, EVENTS, 200);
        for (int i = 0; i < k; i++) {
            unsigned idx = evs[i].data.u32;
            if (slots[idx].st == S_IDLE && slot_step(idx) < 0) closed++;
        }
    }
    printf("closed_by_peer=%llu\n", closed);
    return 0;
}

int main(int argc, char **argv)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
    setvbuf(stdout, NULL, _IOLBF, 0);

    if (argc == 3 && strcmp(argv[1], "echo") == 0)
        return run_echo(parse_uint(argv[2], 1, 65535, "PORT"));
    if (argc != 6 || (strcmp(argv[1], "rate") != 0 && strcmp(argv[1], "hold") != 0)) {
        fprintf(stderr,
                "usage: tunnel_load echo PORT\n"
                "       tunnel_load rate PROXY_PORT TARGET_PORT CONCURRENCY SECONDS\n"
                "       tunnel_load hold PROXY_PORT TARGET_PORT N SECONDS\n");
        return 2;
    }
    proxy_port = parse_uint(argv[2], 1, 65535, "PROXY_PORT");
    target_port = parse_uint(argv[3], 1, 65535, "TARGET_PORT");
    unsigned count = parse_uint(argv[4], 1, MAX_SLOTS, "CONCURRENCY/N");
    unsigned seconds = parse_uint(argv[5], 1, 3600, "SECONDS");
    slots = calloc(count, sizeof *slots);
    if (slots == NULL) die("calloc");
    for (unsigned i = 0; i < count; i++) slots[i].fd = -1;
    ep = epoll_create1(0);
    if (ep < 0) die("epoll_create1");
    return strcmp(argv[1], "rate") == 0 ? run_rate(count, seconds) : run_hold(count, seconds);
}

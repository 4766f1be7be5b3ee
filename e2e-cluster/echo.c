// The backend pods' server and the test's client, one static binary.
//   echo serve PORT            answers each TCP connection and each UDP datagram with the hostname
//                              (the pod name), so a client sees which endpoint served it.
//   echo tcp|udp IP PORT [N]   N requests (default 1), one line per answer, "FAIL" for none within 2 s;
//                              exits 1 if any failed.
#include <arpa/inet.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static int serve(int port) {
    char name[256] = {0};
    gethostname(name, sizeof name - 2);
    size_t len = strlen(name);
    name[len++] = '\n';
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port), .sin_addr.s_addr = INADDR_ANY};
    int one = 1, t = socket(AF_INET, SOCK_STREAM, 0), u = socket(AF_INET, SOCK_DGRAM, 0);
    setsockopt(t, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (bind(t, (void *)&a, sizeof a) || listen(t, 128) || bind(u, (void *)&a, sizeof a)) { perror("bind"); return 1; }
    signal(SIGPIPE, SIG_IGN);
    struct pollfd fds[2] = {{.fd = t, .events = POLLIN}, {.fd = u, .events = POLLIN}};
    for (;;) {
        if (poll(fds, 2, -1) < 0) continue;
        if (fds[0].revents) {
            int c = accept(t, 0, 0);
            if (c >= 0) { (void)!write(c, name, len); close(c); }
        }
        if (fds[1].revents) {
            char buf[512]; struct sockaddr_in from; socklen_t fl = sizeof from;
            if (recvfrom(u, buf, sizeof buf, 0, (void *)&from, &fl) >= 0) sendto(u, name, len, 0, (void *)&from, fl);
        }
    }
}

static int request(int udp, const char *ip, int port) {
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port)};
    if (inet_pton(AF_INET, ip, &a.sin_addr) != 1) return -1;
    int s = socket(AF_INET, udp ? SOCK_DGRAM : SOCK_STREAM, 0);
    struct timeval tv = {.tv_sec = 2};
    setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    setsockopt(s, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    char buf[256];
    ssize_t n = -1;
    if (connect(s, (void *)&a, sizeof a) == 0 && (!udp || send(s, "?", 1, 0) == 1)) n = recv(s, buf, sizeof buf - 1, 0);
    close(s);
    if (n <= 0) { puts("FAIL"); return -1; }
    buf[n] = 0;
    fputs(buf, stdout);
    return 0;
}

int main(int argc, char **argv) {
    if (argc == 3 && !strcmp(argv[1], "serve")) return serve(atoi(argv[2]));
    if (argc >= 4 && (!strcmp(argv[1], "tcp") || !strcmp(argv[1], "udp"))) {
        int n = argc > 4 ? atoi(argv[4]) : 1, failed = 0;
        for (int i = 0; i < n; i++) failed |= request(argv[1][0] == 'u', argv[2], atoi(argv[3])) != 0;
        fflush(stdout);
        return failed;
    }
    fprintf(stderr, "usage: echo serve PORT | echo tcp|udp IP PORT [N]\n");
    return 2;
}

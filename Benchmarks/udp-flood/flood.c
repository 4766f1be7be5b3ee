// Sends COUNT UDP datagrams to DST:PORT, each from a different source address (spoofed through a
// raw socket): 10.64.0.0 + i. For swift-kube-proxy's UDP flow caps: every datagram is a new client.
// usage: flood DST PORT COUNT
#include <arpa/inet.h>
#include <netinet/ip.h>
#include <netinet/udp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

int main(int argc, char **argv) {
    if (argc != 4) { fprintf(stderr, "usage: %s DST PORT COUNT\n", argv[0]); return 2; }
    int fd = socket(AF_INET, SOCK_RAW, IPPROTO_RAW);   // IP_HDRINCL implied
    if (fd < 0) { perror("socket"); return 1; }
    struct sockaddr_in dst = { .sin_family = AF_INET, .sin_port = 0 };
    inet_pton(AF_INET, argv[1], &dst.sin_addr);
    unsigned short port = (unsigned short)atoi(argv[2]);
    long count = atol(argv[3]);
    unsigned char packet[sizeof(struct iphdr) + sizeof(struct udphdr) + 8];
    memset(packet, 0, sizeof packet);
    struct iphdr *ip = (struct iphdr *)packet;
    struct udphdr *udp = (struct udphdr *)(packet + sizeof *ip);
    memcpy(packet + sizeof *ip + sizeof *udp, "floodabc", 8);
    ip->version = 4; ip->ihl = 5; ip->ttl = 64; ip->protocol = IPPROTO_UDP;
    ip->tot_len = htons(sizeof packet); ip->daddr = dst.sin_addr.s_addr;   // the kernel fills id and checksum
    udp->dest = htons(port); udp->len = htons(sizeof *udp + 8); udp->check = 0;   // no UDP checksum (IPv4 allows it)
    struct timespec start, end;
    clock_gettime(CLOCK_MONOTONIC, &start);
    long sent = 0;
    for (long i = 0; i < count; i++) {
        ip->saddr = htonl(0x0A400000u + (unsigned)i);   // 10.64.0.0 + i
        udp->source = htons(1024 + (unsigned)(i % 60000));
        if (sendto(fd, packet, sizeof packet, 0, (struct sockaddr *)&dst, sizeof dst) == (ssize_t)sizeof packet) sent++;
    }
    clock_gettime(CLOCK_MONOTONIC, &end);
    double seconds = (end.tv_sec - start.tv_sec) + (end.tv_nsec - start.tv_nsec) / 1e9;
    printf("sent %ld datagrams in %.2f s (%.0f per second)\n", sent, seconds, sent / seconds);
    return 0;
}

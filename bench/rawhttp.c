/*
 * bench/rawhttp.c — the ceiling for serving one file over loopback HTTP on
 * this machine: no parsing, no signature, no store; every connection gets
 * one request read, a 200 header and the file, then is closed.  Used by
 * bench/serve.sh as the peer that says what any server could reach here.
 *
 *   rawhttp PORT FILE MODE     MODE: copy (read/write, 1 MiB) or sendfile
 */
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

static char buf[1 << 20];

static int write_all(int fd, const char *p, size_t n)
{
	while (n) {
		ssize_t k = write(fd, p, n);
		if (k <= 0)
			return -1;
		p += k;
		n -= (size_t)k;
	}
	return 0;
}

static void answer(int c, const char *file, int use_sendfile)
{
	char req[8192], head[128];
	struct stat st;
	off_t off = 0;
	int fd;

	if (read(c, req, sizeof req) <= 0)
		return;
	fd = open(file, O_RDONLY);
	if (fd < 0 || fstat(fd, &st) < 0)
		exit(1);
	snprintf(head, sizeof head, "HTTP/1.1 200 OK\r\nContent-Length: %lld\r\nConnection: close\r\n\r\n",
		 (long long)st.st_size);
	if (write_all(c, head, strlen(head)) < 0)
		goto out;
	if (use_sendfile) {
		while (off < st.st_size)
			if (sendfile(c, fd, &off, (size_t)(st.st_size - off)) <= 0)
				break;
	} else {
		ssize_t k;
		while ((k = read(fd, buf, sizeof buf)) > 0)
			if (write_all(c, buf, (size_t)k) < 0)
				break;
	}
out:
	close(fd);
}

int main(int argc, char **argv)
{
	struct sockaddr_in a;
	int one = 1, s;

	if (argc != 4)
		return 2;
	s = socket(AF_INET, SOCK_STREAM, 0);
	setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
	memset(&a, 0, sizeof a);
	a.sin_family = AF_INET;
	a.sin_port = htons((unsigned short)atoi(argv[1]));
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (bind(s, (struct sockaddr *)&a, sizeof a) < 0 || listen(s, 16) < 0) {
		perror("rawhttp");
		return 1;
	}
	for (;;) {
		int c = accept(s, NULL, NULL);
		if (c < 0)
			continue;
		answer(c, argv[2], !strcmp(argv[3], "sendfile"));
		close(c);
	}
}

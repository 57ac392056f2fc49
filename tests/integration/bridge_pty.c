/* SPDX-License-Identifier: Apache-2.0 */
/*
 * bridge_pty.c - a serial barcode scanner for integration tests: a
 * pseudo-terminal (openpty) whose slave side smile-bridge opens as
 * serial:LINK, and whose master side writes whatever arrives on standard
 * input, byte for byte (so the test chooses CR, LF or CR LF).
 *
 *   bridge_pty LINK   make LINK a symlink to the slave, then copy stdin to
 *                     the master until end of input; exit 0
 *
 * Compiled by the test that uses it (cc is a build dependency anyway).
 */
#include <errno.h>
#include <pty.h>
#include <stdio.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	int master, slave;
	char name[256], buf[512];
	ssize_t n;

	if (argc != 2) {
		fprintf(stderr, "usage: bridge_pty LINK\n");
		return 2;
	}
	if (openpty(&master, &slave, name, NULL, NULL) != 0) {
		perror("openpty");
		return 1;
	}
	unlink(argv[1]);
	if (symlink(name, argv[1]) != 0) {
		perror("symlink");
		return 1;
	}
	/* slave stays open here so the master never sees a hang-up while the
	 * bridge reopens the port */
	while ((n = read(0, buf, sizeof(buf))) != 0) {
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			break;
		for (ssize_t off = 0; off < n;) {
			ssize_t w = write(master, buf + off, (size_t)(n - off));
			if (w < 0 && errno == EINTR)
				continue;
			if (w < 0) {
				perror("write");
				return 1;
			}
			off += w;
		}
	}
	sleep(1); /* let the bridge read the last bytes */
	unlink(argv[1]);
	close(slave);
	close(master);
	return 0;
}

/* SPDX-License-Identifier: Apache-2.0 */
/*
 * keyfile.c - read and write the device key file. The image format and its
 * checksum belong to the device core (smile_device_keys_save/load); this
 * file only adds what an operating system needs: exclusive creation, mode
 * 0600, fsync, a refusal of group- or world-readable keys, and wiping.
 */
#include "keyfile.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

enum smile_err bridge_keyfile_write(const char *path, const struct smile_device_keys *k,
				    struct smile_error *e)
{
	uint8_t img[SMILE_DEVICE_KEYFILE_BYTES];
	size_t off = 0;
	enum smile_err rc = SMILE_OK;
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);

	if (fd < 0)
		return smile_error_set(e,
				       errno == EEXIST ? SMILE_ERR_EXISTS
				       : errno == EACCES ? SMILE_ERR_PERMISSION
							 : SMILE_ERR_IO,
				       "out", errno == EEXIST ? "file exists: a key is never overwritten"
							      : "cannot create the key file: %s",
				       strerror(errno));
	(void)fchmod(fd, 0600); /* whatever the umask */
	smile_device_keys_save(k, img);
	while (off < sizeof(img)) {
		ssize_t n = write(fd, img + off, sizeof(img) - off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		off += (size_t)n;
	}
	if (off != sizeof(img) || fsync(fd) != 0)
		rc = smile_error_set(e, SMILE_ERR_IO, "out", "cannot write the key file: %s",
				     strerror(errno));
	if (close(fd) != 0 && rc == SMILE_OK)
		rc = smile_error_set(e, SMILE_ERR_IO, "out", "cannot write the key file");
	sodium_memzero(img, sizeof(img));
	if (rc != SMILE_OK)
		unlink(path);
	return rc;
}

enum smile_err bridge_keyfile_read(const char *path, struct smile_device_keys *k,
				   struct smile_error *e)
{
	uint8_t img[SMILE_DEVICE_KEYFILE_BYTES + 1];
	struct stat st;
	size_t off = 0;
	enum smile_err rc;
	int fd;

	smile_device_keys_wipe(k);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return smile_error_set(e,
				       errno == ENOENT	 ? SMILE_ERR_NOT_FOUND
				       : errno == EACCES ? SMILE_ERR_PERMISSION
							 : SMILE_ERR_IO,
				       "key_file", "cannot open the key file: %s", strerror(errno));
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		return smile_error_set(e, SMILE_ERR_INVALID, "key_file", "not a regular file");
	}
	if ((st.st_mode & 077) != 0) {
		close(fd);
		return smile_error_set(e, SMILE_ERR_PERMISSION, "key_file",
				       "other users may access the key file: chmod 600 it");
	}
	for (;;) {
		ssize_t n = read(fd, img + off, sizeof(img) - off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		off += (size_t)n;
		if (off == sizeof(img))
			break;
	}
	close(fd);
	rc = smile_device_keys_load(img, off, k, e);
	sodium_memzero(img, sizeof(img));
	return rc;
}

/*
 * libFuzzer target for src/snapshot's reader: the input is a whole snapshot
 * file (damaged, cut short, hand-made). It is put in a memfd and opened by
 * path, as tandemd and tandemctl open files. Invariants:
 *
 *   - every error names the file and a byte offset within it
 *     ("<path>: offset N: ..." with N <= size);
 *   - records handed out are SET, TOMB or FLUSH, with 1..250-byte keys, and
 *     their bytes can be read (ASan checks they lie in the reader's buffer);
 *     the offset advances by each frame's size and never passes the size;
 *   - SNAP_END comes only at the end of the file, with a trailer that counts
 *     the records returned; after END or ERROR the reader stays there;
 *   - snap_verify agrees with the walk (same verdict, count and message).
 *
 * The first input byte is a mode, the rest is the file. Bit 0 rewrites each
 * frame's CRC, and bit 1 also the trailer's record count and digest, before
 * the file is written, so the fuzzer gets past the checksums to the reader's
 * own checks (frame order, counts, trailing bytes, the end of the file).
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "repl/crc32c.h"
#include "snapshot/snapshot.h"
#include "fuzz_check.h"

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size);

static int memfd = -1;
static char path[64];

/* err is "<path>: offset N: <what>" with N <= size. */
static void check_err(const char *err, uint64_t size)
{
    size_t np = strlen(path);
    CHECK(strncmp(err, path, np) == 0);
    uint64_t at = UINT64_MAX;
    int used = 0;
    CHECK(sscanf(err + np, ": offset %" SCNu64 ": %n", &at, &used) == 1 && used > 0);
    if (at > size)
        fprintf(stderr, "offset past the end (size %" PRIu64 "): %s\n", size, err);
    CHECK(at <= size);
    CHECK(err[np + (size_t)used] != '\0');
}

static uint32_t le32(const unsigned char *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* Make each whole frame's CRC right and, with digest, the trailer's count
 * and digest agree with the records before it. */
static void repair(unsigned char *p, size_t n, bool digest)
{
    struct frame_digest *d = frame_digest_new();
    CHECK(d);
    for (size_t off = 0; n - off >= FRAME_HEADER_LEN;) {
        uint32_t len = le32(p + off);
        if (len < FRAME_HEADER_LEN || (uint64_t)len + 4 > n - off)
            break;
        unsigned char *f = p + off;
        uint32_t c = crc32c_update(0, f + 4, len - 4);
        for (int i = 0; i < 4; i++)
            f[len + i] = (unsigned char)(c >> (8 * i));
        struct frame fr;
        if (frame_decode((const char *)f, len + 4, &fr) == FRAME_OK) {
            if (fr.type == FRAME_SET || fr.type == FRAME_TOMB || fr.type == FRAME_FLUSH) {
                frame_digest_add(d, (const char *)f, fr.size);
            } else if (digest && fr.type == FRAME_FILE_TRAILER) {
                struct frame_file_trailer t = fr.file_trailer;
                t.records = frame_digest_records(d);
                t.digest = frame_digest_value(d);
                struct buf b = {0};
                frame_encode_file_trailer(&b, &t);
                if (b.len == fr.size)
                    memcpy(f, b.data, b.len);
                buf_free(&b);
            }
        }
        off += (size_t)len + 4;
    }
    frame_digest_free(d);
}

static unsigned touch(const char *p, size_t n)
{
    unsigned s = 0;
    for (size_t i = 0; i < n; i++)
        s += (unsigned char)p[i];
    return s;
}

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
    if (memfd < 0) {
        memfd = memfd_create("fuzz_snapshot", MFD_CLOEXEC);
        CHECK(memfd >= 0);
        snprintf(path, sizeof(path), "/proc/self/fd/%d", memfd);
    }
    if (size < 1)
        return 0;
    unsigned mode = data[0];
    unsigned char *file = malloc(size);
    CHECK(file);
    memcpy(file, data + 1, --size);
    if (mode & 3)
        repair(file, size, mode & 2);
    CHECK(ftruncate(memfd, 0) == 0);
    CHECK(size == 0 || pwrite(memfd, file, size, 0) == (ssize_t)size);
    free(file);

    char err[1024] = "";
    struct snap_reader *r = snap_read_open(path, err, sizeof(err));
    char verr[1024] = "";
    uint64_t vrecords = 0;
    bool vok = snap_verify(path, &vrecords, verr, sizeof(verr));
    if (!r) {
        check_err(err, size);
        CHECK(!vok && strcmp(err, verr) == 0);
        return 0;
    }
    CHECK(snap_read_size(r) == size);
    uint64_t off = snap_read_offset(r), records = 0;
    CHECK(off > 0 && off <= size);
    CHECK(snap_read_trailer(r) == NULL);

    struct frame f;
    enum snap_next st;
    volatile unsigned sink = 0;
    while ((st = snap_read_next(r, &f)) == SNAP_RECORD) {
        CHECK(f.type == FRAME_SET || f.type == FRAME_TOMB || f.type == FRAME_FLUSH);
        CHECK(f.size >= FRAME_HEADER_LEN);
        if (f.type != FRAME_FLUSH) {
            CHECK(f.rec.nkey >= 1 && f.rec.nkey <= 250);
            sink += touch(f.rec.key, f.rec.nkey);
            if (f.type == FRAME_SET)
                sink += touch(f.rec.value, f.rec.nvalue);
        }
        off += f.size;
        CHECK(snap_read_offset(r) == off && off <= size);
        records++;
    }
    (void)sink;
    if (st == SNAP_END) {
        CHECK(snap_read_offset(r) == size);
        const struct frame_file_trailer *t = snap_read_trailer(r);
        CHECK(t && t->records == records);
        CHECK(vok && vrecords == records);
    } else {
        CHECK(st == SNAP_ERROR);
        check_err(snap_read_error(r), size);
        CHECK(snap_read_trailer(r) == NULL);
        CHECK(!vok && vrecords == records && strcmp(snap_read_error(r), verr) == 0);
    }
    CHECK(snap_read_next(r, &f) == st); /* it stays at the end or the error */
    snap_read_close(r);
    return 0;
}

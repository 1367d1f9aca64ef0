/*
 * crc32c: the CRC32C (Castagnoli) checksum that guards every replication
 * frame and every record of a snapshot or backup file.
 *
 * Castagnoli's polynomial (0x1EDC6F41, reflected 0x82F63B78) detects more
 * error patterns than the zlib CRC at the frame sizes we use, and x86 has an
 * instruction for it (SSE4.2 `crc32`), so checking a 1 MiB value costs tens
 * of microseconds rather than a millisecond.
 *
 * Two implementations compute the same function:
 *   - software, slice-by-8: eight 256-entry tables let the loop consume
 *     eight bytes per step with table lookups only;
 *   - hardware, the SSE4.2 instruction, eight bytes per instruction, used
 *     when the CPU reports SSE4.2 at run time (__builtin_cpu_supports), so
 *     one binary runs everywhere.
 *
 * Thread safety: the tables and the choice of implementation are computed
 * once, on first use, under pthread_once; after that they are read-only and
 * every function here may be called from any thread. There is no other
 * state.
 *
 * Conventions are the standard ones (initial value and final xor
 * 0xFFFFFFFF, handled inside): crc32c_update(0, "123456789", 9) is
 * 0xE3069283, and a checksum can be extended piece by piece by passing the
 * previous result back in.
 */
#ifndef TANDEM_REPL_CRC32C_H
#define TANDEM_REPL_CRC32C_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* CRC32C of n bytes at p, continuing a previous result `crc` (0 to start). */
uint32_t crc32c_update(uint32_t crc, const void *p, size_t n);

/* The same with the portable slice-by-8 code, whatever the CPU. */
uint32_t crc32c_update_sw(uint32_t crc, const void *p, size_t n);

/* True if this CPU has SSE4.2, so crc32c_update uses the instruction. */
bool crc32c_have_hw(void);

#endif

/*
 * hlc: hybrid logical clock, the source of every item version.
 *
 * A version is one 64-bit number that is also the item's CAS value:
 *
 *     63                          22 21           10 9          0
 *    +------------------------------+---------------+------------+
 *    | physical ms since 2020-01-01 | logical (12b) | node (10b) |
 *    +------------------------------+---------------+------------+
 *
 * 42 bits of milliseconds last until 2159. The logical counter orders up to
 * 4096 events per millisecond per node; when it overflows it carries into the
 * millisecond field, so the clock runs slightly ahead instead of repeating.
 * The node id makes stamps from different nodes unique, so comparing two
 * versions as integers is a total order: that is last-writer-wins.
 *
 * hlc_observe() folds in a stamp from another node so that a write made after
 * seeing a remote version is always newer than it, even with clock skew.
 */
#ifndef TANDEM_CORE_HLC_H
#define TANDEM_CORE_HLC_H

#include <stdint.h>

#define HLC_NODE_BITS 10
#define HLC_LOGICAL_BITS 12
#define HLC_MAX_NODE ((1u << HLC_NODE_BITS) - 1)
#define HLC_EPOCH_MS 1577836800000ull /* 2020-01-01T00:00:00Z */

/* Set this process's node id (0..HLC_MAX_NODE). */
void hlc_set_node(uint16_t node);

/* This process's node id. */
uint16_t hlc_node(void);

/* A new version, strictly greater than every version issued or observed. */
uint64_t hlc_now(void);

/* Merge a version seen from a peer so later hlc_now() values exceed it. */
void hlc_observe(uint64_t remote);

/* The smallest version that can be stamped at Unix time `unix_ms`. */
uint64_t hlc_from_ms(uint64_t unix_ms);

/* The Unix time in ms at which version `v` was stamped. */
uint64_t hlc_to_ms(uint64_t v);

/* The node that stamped version `v`. */
uint16_t hlc_node_of(uint64_t v);

#endif

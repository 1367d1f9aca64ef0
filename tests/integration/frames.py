"""Replication frames (docs/replication.md) built in Python, independently of
the C codec, so tests can speak the record format to tandemd."""
import struct
import time

_POLY = 0x82F63B78  # CRC32C (Castagnoli), reflected
_TABLE = []
for _i in range(256):
    _c = _i
    for _ in range(8):
        _c = (_c >> 1) ^ _POLY if _c & 1 else _c >> 1
    _TABLE.append(_c)

HLC_EPOCH_MS = 1577836800000  # 2020-01-01T00:00:00Z
SET, TOMB, FLUSH, FILE_HEADER = 10, 11, 12, 30


def crc32c(data):
    c = 0xFFFFFFFF
    for b in data:
        c = _TABLE[(c ^ b) & 0xFF] ^ (c >> 8)
    return c ^ 0xFFFFFFFF


def frame(ftype, body, fl=0):
    head = struct.pack("<BB", ftype, fl) + body
    return struct.pack("<I", len(head) + 4) + head + struct.pack("<I", crc32c(head))


def version(ms=None, logical=0, node=1):
    """An HLC version: 42 bits of ms since 2020, 12 logical, 10 node."""
    if ms is None:
        ms = int(time.time() * 1000)
    return ((ms - HLC_EPOCH_MS) << 22) | (logical << 10) | node


def set_frame(key, value, ver, flags=0, exptime=0, origin=1, seq=1):
    body = struct.pack("<HQQIIBI", origin, seq, ver, flags, exptime, len(key), len(value))
    return frame(SET, body + key + value)


def tomb_frame(key, ver, origin=1, seq=1):
    return frame(TOMB, struct.pack("<HQQB", origin, seq, ver, len(key)) + key)


def flush_frame(cutoff, when=0, origin=1, seq=1, issued=0):
    body = struct.pack("<HQQI", origin, seq, cutoff, when)
    if issued:
        return frame(FLUSH, body + struct.pack("<Q", issued), fl=0x04)
    return frame(FLUSH, body)

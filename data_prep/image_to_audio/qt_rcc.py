"""Reader for Qt binary resource bundles (`.rcc`, as written by `rcc -binary`), so that
GCompris's pictures and sounds can be taken out of gcompris-qt-data without Qt.

Layout (big-endian throughout):
  header   "qres", u32 format version (1..3), u32 tree offset, u32 data offset,
           u32 names offset, and from version 3 on a u32 of overall flags.
  tree     one node per file or directory, 14 bytes in version 1 and 22 from version 2 on
           (an u64 last-modified time appended): u32 name offset, u16 flags
           (0x1 zlib-compressed, 0x2 directory, 0x4 zstd-compressed), then either
           u32 child count + u32 index of the first child (directory) or u16 territory +
           u16 language + u32 data offset (file). Node 0 is the root directory.
  names    u16 length in UTF-16 code units, u32 hash, then the UTF-16BE name.
  data     u32 length, then the bytes; zlib-compressed entries hold Qt's qCompress format
           (u32 uncompressed length, then a zlib stream).
The Debian gcompris-qt-data 3.1 bundles are format version 3 and use zlib only; zstd entries
(newer Qt) are reported as an error rather than guessed at.
"""
import struct
import zlib

COMPRESSED = 0x1
DIRECTORY = 0x2
COMPRESSED_ZSTD = 0x4


class RccError(ValueError):
    pass


def _u32(buf, pos):
    if pos < 0 or pos + 4 > len(buf):
        raise RccError(f"offset {pos} past the end ({len(buf)} bytes)")
    return struct.unpack_from(">I", buf, pos)[0]


def _u16(buf, pos):
    if pos < 0 or pos + 2 > len(buf):
        raise RccError(f"offset {pos} past the end ({len(buf)} bytes)")
    return struct.unpack_from(">H", buf, pos)[0]


def read_rcc(data):
    """bytes of an .rcc file -> {path: bytes} of every file in it (paths without the
    leading '/', as `:/path` in Qt), decompressed."""
    if data[:4] != b"qres":
        raise RccError("not a Qt resource bundle (no 'qres' magic)")
    version = _u32(data, 4)
    if not 1 <= version <= 3:
        raise RccError(f"unsupported rcc format version {version}")
    tree, payload, names = _u32(data, 8), _u32(data, 12), _u32(data, 16)
    node_size = 14 if version == 1 else 22
    count = (len(data) - tree) // node_size if tree < len(data) else 0

    def name_at(offset):
        n = _u16(data, names + offset)
        start = names + offset + 6
        if start + 2 * n > len(data):
            raise RccError(f"name at {offset} runs past the end")
        return data[start:start + 2 * n].decode("utf-16-be")

    out = {}
    seen = set()

    def walk(index, prefix):
        if index in seen or index >= max(count, 1):
            raise RccError(f"bad tree node index {index}")
        seen.add(index)
        pos = tree + index * node_size
        name_offset, flags = _u32(data, pos), _u16(data, pos + 4)
        name = name_at(name_offset) if index else ""
        path = f"{prefix}/{name}" if prefix else name
        if flags & DIRECTORY:
            children, first = _u32(data, pos + 6), _u32(data, pos + 10)
            for child in range(first, first + children):
                walk(child, path)
            return
        offset = payload + _u32(data, pos + 10)
        size = _u32(data, offset)
        body = data[offset + 4:offset + 4 + size]
        if len(body) != size:
            raise RccError(f"{path}: data runs past the end")
        if flags & COMPRESSED_ZSTD:
            raise RccError(f"{path}: zstd-compressed entry (not supported by this reader)")
        if flags & COMPRESSED:
            expected = _u32(body, 0)
            try:
                body = zlib.decompress(body[4:])
            except zlib.error as e:
                raise RccError(f"{path}: bad zlib data ({e})") from None
            if len(body) != expected:
                raise RccError(f"{path}: {len(body)} bytes inflated, header says {expected}")
        out[path] = body

    if count == 0:
        raise RccError("no tree")
    walk(0, "")
    return out

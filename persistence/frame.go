package persistence

import (
	"encoding/binary"
	"errors"
	"hash/crc32"
)

// A frame is what the WAL stores as one tidwall/wal entry:
//
//	crc32c(body) (4 bytes, little endian) ‖ uvarint(len(body)) ‖ body
//
// body is a codec record, so it is never empty (its first byte is the
// record type). The length is encoded minimally, which makes the encoding of
// a body unique: a frame that decodes re-encodes to the same bytes.

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

const (
	frameCRCLen    = 4
	frameMaxHeader = frameCRCLen + binary.MaxVarintLen64
	frameMinLen    = frameCRCLen + 1 + 1 // crc, a one-byte length, a one-byte body
)

var (
	errFrameShort  = errors.New("frame is shorter than its header")
	errFrameLength = errors.New("frame length does not match its size")
	errFrameCRC    = errors.New("frame checksum mismatch")
	errFrameEmpty  = errors.New("frame holds an empty record")
)

// appendFrame appends the frame of body to dst.
func appendFrame(dst, body []byte) []byte {
	dst = binary.LittleEndian.AppendUint32(dst, crc32.Checksum(body, castagnoli))
	dst = binary.AppendUvarint(dst, uint64(len(body)))
	return append(dst, body...)
}

// frameHeader writes the header of body into the frameMaxHeader bytes that
// precede it in buf (body is buf[frameMaxHeader:]) and returns the frame,
// a subslice of buf. It lets Append encode a record once, in place.
func frameHeader(buf []byte) []byte {
	body := buf[frameMaxHeader:]
	n := uvarintLen(uint64(len(body)))
	start := frameMaxHeader - n - frameCRCLen
	binary.LittleEndian.PutUint32(buf[start:], crc32.Checksum(body, castagnoli))
	binary.PutUvarint(buf[start+frameCRCLen:], uint64(len(body)))
	return buf[start:]
}

// decodeFrame checks a frame's length and checksum and returns its body, a
// subslice of frame.
func decodeFrame(frame []byte) ([]byte, error) {
	if len(frame) < frameCRCLen+1 {
		return nil, errFrameShort
	}
	size, n := binary.Uvarint(frame[frameCRCLen:])
	if n <= 0 {
		return nil, errFrameShort
	}
	if n != uvarintLen(size) || size != uint64(len(frame)-frameCRCLen-n) {
		return nil, errFrameLength
	}
	if size == 0 {
		return nil, errFrameEmpty
	}
	body := frame[frameCRCLen+n:]
	if crc32.Checksum(body, castagnoli) != binary.LittleEndian.Uint32(frame) {
		return nil, errFrameCRC
	}
	return body, nil
}

// uvarintLen is the number of bytes binary.AppendUvarint writes for x.
func uvarintLen(x uint64) int {
	n := 1
	for x >= 0x80 {
		x >>= 7
		n++
	}
	return n
}

// segmentTail follows the size of a log's last segment file by tidwall/wal's
// rules, which start a new file when a batch begins past the segment size
// or an entry reaches it: a new file's directory entry needs an fsync of
// its own.
type segmentTail struct{ size, limit int64 }

// begin starts a batch and reports whether it starts a new file (1 or 0).
func (t *segmentTail) begin() int {
	if t.size > t.limit {
		t.size = 0
		return 1
	}
	return 0
}

// add accounts for an entry holding a frame of n bytes: it returns the
// entry's size in the file and whether a new file follows it.
func (t *segmentTail) add(n int) (size int64, created int) {
	size = int64(uvarintLen(uint64(n)) + n)
	if t.size += size; t.size >= t.limit {
		t.size = 0
		return size, 1
	}
	return size, 0
}

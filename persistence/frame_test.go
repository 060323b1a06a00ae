package persistence

import (
	"bytes"
	"testing"
)

func TestFrameRefusesDamage(t *testing.T) {
	body := Encode(nil, testEvent(40))
	frame := appendFrame(nil, body)
	if got, err := decodeFrame(frame); err != nil || !bytes.Equal(got, body) {
		t.Fatalf("decodeFrame = %x, %v", got, err)
	}
	for cut := 0; cut < len(frame); cut++ {
		if _, err := decodeFrame(frame[:cut]); err == nil {
			t.Errorf("frame cut to %d of %d bytes decoded", cut, len(frame))
		}
	}
	for i := range frame {
		for bit := 0; bit < 8; bit++ {
			bad := bytes.Clone(frame)
			bad[i] ^= 1 << bit
			if _, err := decodeFrame(bad); err == nil {
				t.Errorf("frame with bit %d of byte %d flipped decoded", bit, i)
			}
		}
	}
	if _, err := decodeFrame(append(bytes.Clone(frame), 0)); err == nil {
		t.Error("trailing byte accepted")
	}
	if _, err := decodeFrame(appendFrame(nil, nil)); err == nil {
		t.Error("empty body accepted")
	}
	// A length written with a redundant zero group is refused: one body has
	// one frame.
	long := append(bytes.Clone(frame[:4]), frame[4]|0x80, 0)
	long = append(long, body...)
	if _, err := decodeFrame(long); err == nil {
		t.Error("non-minimal length accepted")
	}
}

func TestFrameHeaderMatchesAppendFrame(t *testing.T) {
	for _, n := range []int{1, 127, 128, 300, 20000} {
		body := bytes.Repeat([]byte{7}, n)
		buf := append(make([]byte, frameMaxHeader), body...)
		if got, want := frameHeader(buf), appendFrame(nil, body); !bytes.Equal(got, want) {
			t.Errorf("body of %d bytes: frameHeader %x, appendFrame %x", n, got[:8], want[:8])
		}
	}
}

func FuzzFrame(f *testing.F) {
	for i := 0; i < 5; i++ {
		f.Add(appendFrame(nil, Encode(nil, testEvent(i*37))))
	}
	f.Add([]byte{})
	f.Add([]byte{0, 0, 0, 0, 0})
	f.Add(make([]byte, 64))
	f.Fuzz(func(t *testing.T, b []byte) {
		// As a frame: never panics; what decodes re-encodes to the same bytes.
		if body, err := decodeFrame(b); err == nil {
			if len(body) == 0 {
				t.Fatal("decoded an empty body")
			}
			if again := appendFrame(nil, body); !bytes.Equal(again, b) {
				t.Fatalf("frame %x decodes to %x, which frames as %x", b, body, again)
			}
		}
		// As a body: its frame decodes back to it.
		if len(b) == 0 {
			return
		}
		frame := appendFrame(nil, b)
		body, err := decodeFrame(frame)
		if err != nil || !bytes.Equal(body, b) {
			t.Fatalf("frame of %x decodes to %x, %v", b, body, err)
		}
		// A frame cut short is refused.
		if _, err := decodeFrame(frame[:len(frame)-1]); err == nil {
			t.Fatalf("frame of %x cut by a byte decodes", b)
		}
		// So is a scan of a segment holding the frame with its tail cut.
		entry := append(appendUvarint(nil, len(frame)), frame...)
		if n, bad, _ := scanEntries(entry); n != 1 || bad != -1 {
			t.Fatalf("scan of one good entry: %d entries, bad at %d", n, bad)
		}
		if n, bad, _ := scanEntries(entry[:len(entry)-1]); n != 0 || bad != 0 {
			t.Fatalf("scan of a torn entry: %d entries, bad at %d", n, bad)
		}
	})
}

func appendUvarint(b []byte, n int) []byte {
	for n >= 0x80 {
		b = append(b, byte(n)|0x80)
		n >>= 7
	}
	return append(b, byte(n))
}

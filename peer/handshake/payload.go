package handshake

import (
	"encoding/binary"
	"fmt"
)

// NonceSize is the length of the payload nonce each side sends during the
// handshake; it becomes the XSalsa20 nonce of that side's transport stream.
const NonceSize = 24

// encodePayload returns the NoisePayload protobuf `{ required bytes nonce
// = 1 }` exactly as JS encodes it: 0a 18 <24 bytes>.
func encodePayload(nonce *[NonceSize]byte) []byte {
	b := make([]byte, 0, 2+NonceSize)
	b = append(b, 0x0a, NonceSize)
	return append(b, nonce[:]...)
}

// decodePayload parses a NoisePayload. Like the JS protobuf decoder it
// skips unknown fields and keeps the last occurrence of a repeated field;
// unlike it, it insists on a 24-byte nonce at once, since anything else
// would make the transport stream fail later anyway. Every error wraps
// ErrNoPayload.
func decodePayload(b []byte) ([NonceSize]byte, error) {
	var nonce [NonceSize]byte
	found := false
	for len(b) > 0 {
		tag, n := binary.Uvarint(b)
		if n <= 0 {
			return nonce, fmt.Errorf("%w: bad field tag", ErrNoPayload)
		}
		b = b[n:]
		field, wireType := tag>>3, tag&7
		if field == 0 {
			return nonce, fmt.Errorf("%w: field number 0", ErrNoPayload)
		}
		var val []byte
		switch wireType {
		case 0: // varint
			_, n = binary.Uvarint(b)
			if n <= 0 {
				return nonce, fmt.Errorf("%w: bad varint in field %d", ErrNoPayload, field)
			}
			b = b[n:]
		case 1: // fixed64
			if len(b) < 8 {
				return nonce, fmt.Errorf("%w: truncated field %d", ErrNoPayload, field)
			}
			b = b[8:]
		case 2: // length-delimited
			l, n := binary.Uvarint(b)
			if n <= 0 || l > uint64(len(b)-n) {
				return nonce, fmt.Errorf("%w: bad length in field %d", ErrNoPayload, field)
			}
			val, b = b[n:n+int(l)], b[n+int(l):]
		case 5: // fixed32
			if len(b) < 4 {
				return nonce, fmt.Errorf("%w: truncated field %d", ErrNoPayload, field)
			}
			b = b[4:]
		default: // groups (3, 4) are not used by any hypercore message
			return nonce, fmt.Errorf("%w: wire type %d in field %d", ErrNoPayload, wireType, field)
		}
		if field != 1 {
			continue
		}
		if wireType != 2 {
			return nonce, fmt.Errorf("%w: nonce has wire type %d", ErrNoPayload, wireType)
		}
		if len(val) != NonceSize {
			return nonce, fmt.Errorf("%w: nonce is %d bytes, want %d", ErrNoPayload, len(val), NonceSize)
		}
		copy(nonce[:], val)
		found = true
	}
	if !found {
		return nonce, fmt.Errorf("%w: no nonce", ErrNoPayload)
	}
	return nonce, nil
}

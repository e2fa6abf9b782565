package handshake

import (
	"crypto/subtle"

	"golang.org/x/crypto/blake2b"
)

// capabilityContext is the 20 ASCII bytes in front of every capability;
// there is no type byte (spec 1.7).
const capabilityContext = "hypercore capability"

// Capability is what we put in our Open for feedKey: BLAKE2b-256 keyed
// with rx over the context, tx and the feed key. Only a peer that knows
// the feed key and holds this connection's keys can compute it, so it
// cannot be copied from another connection.
func (r *Result) Capability(feedKey []byte) [32]byte {
	return capability(&r.Rx, &r.Tx, feedKey)
}

// RemoteCapability is what the remote's Open must carry for feedKey: the
// remote's Capability, computed with our keys (its rx is our tx).
func (r *Result) RemoteCapability(feedKey []byte) [32]byte {
	return capability(&r.Tx, &r.Rx, feedKey)
}

// VerifyCapability reports, in constant time, whether got is the
// capability the remote must send for feedKey.
func (r *Result) VerifyCapability(feedKey, got []byte) bool {
	want := r.RemoteCapability(feedKey)
	return subtle.ConstantTimeCompare(want[:], got) == 1
}

// Capability is res.Capability(feedKey).
func Capability(res Result, feedKey []byte) [32]byte { return res.Capability(feedKey) }

// RemoteCapability is res.RemoteCapability(feedKey).
func RemoteCapability(res Result, feedKey []byte) [32]byte { return res.RemoteCapability(feedKey) }

// VerifyCapability is res.VerifyCapability(feedKey, got).
func VerifyCapability(res Result, feedKey, got []byte) bool {
	return res.VerifyCapability(feedKey, got)
}

func capability(key, tx *[32]byte, feedKey []byte) [32]byte {
	var out [32]byte
	// New256 fails only for keys over 64 bytes.
	h, err := blake2b.New256(key[:])
	if err != nil {
		return out
	}
	h.Write([]byte(capabilityContext))
	h.Write(tx[:])
	h.Write(feedKey)
	h.Sum(out[:0])
	return out
}

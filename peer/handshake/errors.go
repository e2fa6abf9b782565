package handshake

import (
	"errors"
	"fmt"
)

var (
	// ErrHandshake marks a handshake the remote got wrong: a malformed or
	// oversized message, one that fails to decrypt or authenticate (a
	// replayed transcript, a wrong key), or a missing payload. The
	// connection is unusable; close it. I/O errors (EOF mid-handshake, a
	// deadline) are returned as they are, not wrapped in ErrHandshake.
	ErrHandshake = errors.New("handshake: noise handshake error")

	// ErrNoPayload marks a handshake whose remote sent no NoisePayload, or
	// one that does not decode to a 24-byte nonce. It wraps ErrHandshake.
	ErrNoPayload = fmt.Errorf("%w: remote did not include a handshake payload", ErrHandshake)
)

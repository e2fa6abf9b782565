package wire

import (
	"errors"
	"fmt"
)

// Sentinel errors. Every error caused by peer input wraps ErrMalformed,
// except ErrUnknownType, which is not a violation: hypercore-protocol 8
// ignores types 11-14 so that they stay usable for later versions.
var (
	// ErrMalformed marks input that breaks the frame, protobuf, or RLE
	// encoding. The stream is out of step with the peer; close it.
	ErrMalformed = errors.New("malformed")

	// ErrTooLarge marks a frame body above MaxBody or an RLE bitfield that
	// expands past the caller's limit. It wraps ErrMalformed.
	ErrTooLarge = fmt.Errorf("too large: %w", ErrMalformed)

	// ErrChannelRange marks a frame whose channel id is above MaxChannel.
	// JS never allocates such ids, so the peer is broken or hostile. It
	// wraps ErrMalformed.
	ErrChannelRange = fmt.Errorf("channel id out of range: %w", ErrMalformed)

	// ErrUnknownType is returned by Decode for types 11-14. The receiver
	// drops the frame and carries on; the connection stays open.
	ErrUnknownType = errors.New("unassigned message type")
)

var typeNames = [16]string{
	TypeOpen:      "Open",
	TypeOptions:   "Options",
	TypeStatus:    "Status",
	TypeHave:      "Have",
	TypeUnhave:    "Unhave",
	TypeWant:      "Want",
	TypeUnwant:    "Unwant",
	TypeRequest:   "Request",
	TypeCancel:    "Cancel",
	TypeData:      "Data",
	TypeClose:     "Close",
	TypeExtension: "Extension",
}

// String returns the spec's name for t, or "type N" for unassigned ones,
// so that error messages name the message that failed.
func (t Type) String() string {
	if int(t) < len(typeNames) && typeNames[t] != "" {
		return typeNames[t]
	}
	return fmt.Sprintf("type %d", uint8(t))
}

package wire

import (
	"slices"

	"google.golang.org/protobuf/encoding/protowire"
)

// Each message has AppendBody (the encoding) and bodyLen (its exact size),
// so that AppendFrame can write the length prefix before the body and copy
// a 64 KiB block only once. TestBodyLen checks that the two agree.

func appendUint(b []byte, num protowire.Number, v uint64) []byte {
	b = protowire.AppendTag(b, num, protowire.VarintType)
	return protowire.AppendVarint(b, v)
}

func appendBool(b []byte, num protowire.Number, v bool) []byte {
	return appendUint(b, num, protowire.EncodeBool(v))
}

func appendBytes(b []byte, num protowire.Number, v []byte) []byte {
	b = protowire.AppendTag(b, num, protowire.BytesType)
	return protowire.AppendBytes(b, v)
}

func sizeUint(num protowire.Number, v uint64) int {
	return protowire.SizeTag(num) + protowire.SizeVarint(v)
}

func sizeBool(num protowire.Number) int { return protowire.SizeTag(num) + 1 }

func sizeBytes(num protowire.Number, n int) int {
	return protowire.SizeTag(num) + protowire.SizeBytes(n)
}

// sizeOptBytes is the size of an optional bytes field: nil is absent.
func sizeOptBytes(num protowire.Number, v []byte) int {
	if v == nil {
		return 0
	}
	return sizeBytes(num, len(v))
}

// AppendBody appends the Open body. DiscoveryKey is required, so it is
// emitted even when nil (as an empty field).
func (m Open) AppendBody(b []byte) []byte {
	b = appendBytes(b, 1, m.DiscoveryKey)
	if m.Capability != nil {
		b = appendBytes(b, 2, m.Capability)
	}
	return b
}

func (m Open) bodyLen() int {
	return sizeBytes(1, len(m.DiscoveryKey)) + sizeOptBytes(2, m.Capability)
}

// AppendBody appends the Options body: one field per extension name, then
// ack, which JS always sets.
func (m Options) AppendBody(b []byte) []byte {
	for _, e := range m.Extensions {
		b = protowire.AppendTag(b, 1, protowire.BytesType)
		b = protowire.AppendString(b, e)
	}
	return appendBool(b, 2, m.Ack)
}

func (m Options) bodyLen() int {
	n := sizeBool(2)
	for _, e := range m.Extensions {
		n += sizeBytes(1, len(e))
	}
	return n
}

// AppendBody appends the Status body; both fields always, because an
// absent one would read back as false, not as "unchanged".
func (m Status) AppendBody(b []byte) []byte {
	b = appendBool(b, 1, m.Uploading)
	return appendBool(b, 2, m.Downloading)
}

func (m Status) bodyLen() int { return sizeBool(1) + sizeBool(2) }

// plain reports whether h is a single-range announcement, whose length of
// 1 JS leaves off the wire.
func (m Have) plain() bool { return m.Bitfield == nil && !m.Ack }

// AppendBody appends the Have body. Length is left out only when it is 1
// on a plain announcement, which is what JS sends for one new block.
func (m Have) AppendBody(b []byte) []byte {
	b = slices.Grow(b, m.bodyLen())
	b = appendUint(b, 1, m.Start)
	if m.Length != 1 || !m.plain() {
		b = appendUint(b, 2, m.Length)
	}
	if m.Bitfield != nil {
		b = appendBytes(b, 3, m.Bitfield)
	}
	if m.Ack {
		b = appendBool(b, 4, true)
	}
	return b
}

func (m Have) bodyLen() int {
	n := sizeUint(1, m.Start) + sizeOptBytes(3, m.Bitfield)
	if m.Length != 1 || !m.plain() {
		n += sizeUint(2, m.Length)
	}
	if m.Ack {
		n += sizeBool(4)
	}
	return n
}

// AppendBody appends the Unhave body; Length 1 is the default and left out.
func (m Unhave) AppendBody(b []byte) []byte {
	b = appendUint(b, 1, m.Start)
	if m.Length != 1 {
		b = appendUint(b, 2, m.Length)
	}
	return b
}

func (m Unhave) bodyLen() int {
	n := sizeUint(1, m.Start)
	if m.Length != 1 {
		n += sizeUint(2, m.Length)
	}
	return n
}

// AppendBody appends the Want body; Length always, since 0 means "the
// whole feed" and JS sends the window size explicitly.
func (m Want) AppendBody(b []byte) []byte {
	b = appendUint(b, 1, m.Start)
	return appendUint(b, 2, m.Length)
}

func (m Want) bodyLen() int { return sizeUint(1, m.Start) + sizeUint(2, m.Length) }

// AppendBody appends the Unwant body, laid out like Want.
func (m Unwant) AppendBody(b []byte) []byte {
	b = appendUint(b, 1, m.Start)
	return appendUint(b, 2, m.Length)
}

func (m Unwant) bodyLen() int { return sizeUint(1, m.Start) + sizeUint(2, m.Length) }

// AppendBody appends the Request body with all four fields, as JS does.
func (m Request) AppendBody(b []byte) []byte {
	b = appendUint(b, 1, m.Index)
	b = appendUint(b, 2, m.Bytes)
	b = appendBool(b, 3, m.Hash)
	return appendUint(b, 4, m.Nodes)
}

func (m Request) bodyLen() int {
	return sizeUint(1, m.Index) + sizeUint(2, m.Bytes) + sizeBool(3) + sizeUint(4, m.Nodes)
}

// AppendBody appends the Cancel body with all three fields, like Request.
func (m Cancel) AppendBody(b []byte) []byte {
	b = appendUint(b, 1, m.Index)
	b = appendUint(b, 2, m.Bytes)
	return appendBool(b, 3, m.Hash)
}

func (m Cancel) bodyLen() int {
	return sizeUint(1, m.Index) + sizeUint(2, m.Bytes) + sizeBool(3)
}

func (n Node) appendTo(b []byte) []byte {
	b = appendUint(b, 1, n.Index)
	b = appendBytes(b, 2, n.Hash)
	return appendUint(b, 3, n.Size)
}

func (n Node) encodedLen() int {
	return sizeUint(1, n.Index) + sizeBytes(2, len(n.Hash)) + sizeUint(3, n.Size)
}

// AppendBody appends the Data body. It grows b once for the whole body so
// that the block is copied a single time.
func (m Data) AppendBody(b []byte) []byte {
	b = slices.Grow(b, m.bodyLen())
	b = appendUint(b, 1, m.Index)
	if m.Value != nil {
		b = appendBytes(b, 2, m.Value)
	}
	for _, n := range m.Nodes {
		b = protowire.AppendTag(b, 3, protowire.BytesType)
		b = protowire.AppendVarint(b, uint64(n.encodedLen()))
		b = n.appendTo(b)
	}
	if m.Signature != nil {
		b = appendBytes(b, 4, m.Signature)
	}
	return b
}

func (m Data) bodyLen() int {
	n := sizeUint(1, m.Index) + sizeOptBytes(2, m.Value) + sizeOptBytes(4, m.Signature)
	for _, nd := range m.Nodes {
		n += sizeBytes(3, nd.encodedLen())
	}
	return n
}

// AppendBody appends the Close body: empty, or the rejected discovery key.
func (m Close) AppendBody(b []byte) []byte {
	if m.DiscoveryKey != nil {
		b = appendBytes(b, 1, m.DiscoveryKey)
	}
	return b
}

func (m Close) bodyLen() int { return sizeOptBytes(1, m.DiscoveryKey) }

// AppendBody appends varint(ID) || Payload; extension bodies are not
// protobuf.
func (m Extension) AppendBody(b []byte) []byte {
	b = slices.Grow(b, m.bodyLen())
	b = protowire.AppendVarint(b, m.ID)
	return append(b, m.Payload...)
}

func (m Extension) bodyLen() int { return protowire.SizeVarint(m.ID) + len(m.Payload) }

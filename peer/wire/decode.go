package wire

import (
	"errors"
	"fmt"
	"io"
	"slices"

	"google.golang.org/protobuf/encoding/protowire"
)

// Decode parses the body of a type-t frame and returns a pointer to the
// matching struct (*Open, *Have, ...). The result shares no memory with
// body, so the caller may reuse its buffer at once.
//
// Errors wrap ErrMalformed, except for types 11-14, which return
// ErrUnknownType: the caller drops such frames and keeps the connection.
func Decode(t Type, body []byte) (Message, error) {
	switch t {
	case TypeOpen:
		return result(decodeOpen(body))
	case TypeOptions:
		return result(decodeOptions(body))
	case TypeStatus:
		return result(decodeStatus(body))
	case TypeHave:
		return result(decodeHave(body))
	case TypeUnhave:
		m := &Unhave{Length: 1}
		return result(m, decodeRange(TypeUnhave, body, &m.Start, &m.Length))
	case TypeWant:
		m := &Want{}
		return result(m, decodeRange(TypeWant, body, &m.Start, &m.Length))
	case TypeUnwant:
		m := &Unwant{}
		return result(m, decodeRange(TypeUnwant, body, &m.Start, &m.Length))
	case TypeRequest:
		return result(decodeRequest(body))
	case TypeCancel:
		return result(decodeCancel(body))
	case TypeData:
		return result(decodeData(body))
	case TypeClose:
		return result(decodeClose(body))
	case TypeExtension:
		return result(decodeExtension(body))
	}
	if t < 16 {
		return nil, fmt.Errorf("decode %s: %w", t, ErrUnknownType)
	}
	// Only a caller bug gets here: a frame header holds 4 bits of type.
	return nil, fmt.Errorf("decode %s: not a 4-bit type: %w", t, ErrMalformed)
}

// result keeps a typed nil pointer out of the Message returned with an
// error, where it would compare unequal to nil.
func result[M Message](m M, err error) (Message, error) {
	if err != nil {
		return nil, err
	}
	return m, nil
}

// describe names a protowire error code in words of our own: protowire's
// messages vary on purpose so that nobody matches them. Only truncation
// and overflow can come out of the Consume functions used here, apart
// from field numbers, which next() checks itself.
func describe(n int) string {
	if errors.Is(protowire.ParseError(n), io.ErrUnexpectedEOF) {
		return "truncated"
	}
	return "varint overflow"
}

// fieldReader walks the fields of one protobuf message. next() stops at
// the end or at the first error, which is then in err; the accessors
// record a wire-type mismatch the same way, so a decoder only checks err
// once after its loop.
type fieldReader struct {
	t    Type
	b    []byte
	num  protowire.Number
	typ  protowire.Type
	val  uint64 // the value of a varint field
	raw  []byte // the contents of a bytes field, aliasing the input
	err  error
	node int // 1 + the position of the Node being read inside Data, else 0
}

func (r *fieldReader) fail(format string, args ...any) {
	if r.err != nil {
		return
	}
	what := r.t.String()
	if r.node > 0 {
		what += fmt.Sprintf(": node %d", r.node-1)
	}
	r.err = fmt.Errorf("decode %s: %s: %w", what, fmt.Sprintf(format, args...), ErrMalformed)
}

func (r *fieldReader) next() bool {
	if r.err != nil || len(r.b) == 0 {
		return false
	}
	num, typ, n := protowire.ConsumeTag(r.b)
	if n < 0 {
		if _, vn := protowire.ConsumeVarint(r.b); vn > 0 {
			r.fail("field key: invalid field number")
		} else {
			r.fail("field key: %s", describe(n))
		}
		return false
	}
	r.b = r.b[n:]
	r.num, r.typ = num, typ
	switch typ {
	case protowire.VarintType:
		r.val, n = protowire.ConsumeVarint(r.b)
	case protowire.BytesType:
		r.raw, n = protowire.ConsumeBytes(r.b)
	case protowire.Fixed32Type:
		_, n = protowire.ConsumeFixed32(r.b)
	case protowire.Fixed64Type:
		_, n = protowire.ConsumeFixed64(r.b)
	case protowire.StartGroupType, protowire.EndGroupType:
		// The JS codec aborts on groups; skipping them would need a
		// nesting parser that no peer has a use for.
		r.fail("field %d: group wire type %d", num, typ)
		return false
	default:
		r.fail("field %d: invalid wire type %d", num, typ)
		return false
	}
	if n < 0 {
		r.fail("field %d: %s", num, describe(n))
		return false
	}
	r.b = r.b[n:]
	return true
}

func (r *fieldReader) uint() uint64 {
	if r.typ != protowire.VarintType {
		r.fail("field %d: wire type %d, want varint", r.num, r.typ)
	}
	return r.val
}

func (r *fieldReader) bool() bool { return r.uint() != 0 }

func (r *fieldReader) bytes() []byte {
	if r.typ != protowire.BytesType {
		r.fail("field %d: wire type %d, want bytes", r.num, r.typ)
		return nil
	}
	return r.raw
}

func (r *fieldReader) missing(name string) {
	r.fail("missing required field %s", name)
}

// detach copies the byte slices of one decoded message into a single
// allocation, keeping nil (absent) apart from empty (present), and caps
// each slice so that an append by the caller cannot run into the next.
type detach struct{ buf []byte }

func newDetach(total int) detach { return detach{buf: make([]byte, total)} }

func (d *detach) copy(s []byte) []byte {
	if s == nil {
		return nil
	}
	n := copy(d.buf, s)
	out := d.buf[:n:n]
	d.buf = d.buf[n:]
	return out
}

func decodeOpen(body []byte) (*Open, error) {
	m := &Open{}
	r := fieldReader{t: TypeOpen, b: body}
	seen := false
	for r.next() {
		switch r.num {
		case 1:
			m.DiscoveryKey, seen = r.bytes(), true
		case 2:
			m.Capability = r.bytes()
		}
	}
	if !seen {
		r.missing("discoveryKey")
	}
	if r.err != nil {
		return nil, r.err
	}
	d := newDetach(len(m.DiscoveryKey) + len(m.Capability))
	m.DiscoveryKey, m.Capability = d.copy(m.DiscoveryKey), d.copy(m.Capability)
	return m, nil
}

func decodeOptions(body []byte) (*Options, error) {
	m := &Options{}
	r := fieldReader{t: TypeOptions, b: body}
	for r.next() {
		switch r.num {
		case 1:
			if b := r.bytes(); r.err == nil {
				m.Extensions = append(m.Extensions, string(b))
			}
		case 2:
			m.Ack = r.bool()
		}
	}
	if r.err != nil {
		return nil, r.err
	}
	return m, nil
}

func decodeStatus(body []byte) (*Status, error) {
	m := &Status{}
	r := fieldReader{t: TypeStatus, b: body}
	for r.next() {
		switch r.num {
		case 1:
			m.Uploading = r.bool()
		case 2:
			m.Downloading = r.bool()
		}
	}
	if r.err != nil {
		return nil, r.err
	}
	return m, nil
}

func decodeHave(body []byte) (*Have, error) {
	m := &Have{Length: 1}
	r := fieldReader{t: TypeHave, b: body}
	seen := false
	for r.next() {
		switch r.num {
		case 1:
			m.Start, seen = r.uint(), true
		case 2:
			m.Length = r.uint()
		case 3:
			m.Bitfield = r.bytes()
		case 4:
			m.Ack = r.bool()
		}
	}
	if !seen {
		r.missing("start")
	}
	if r.err != nil {
		return nil, r.err
	}
	d := newDetach(len(m.Bitfield))
	m.Bitfield = d.copy(m.Bitfield)
	return m, nil
}

// decodeRange decodes Unhave, Want and Unwant, which share a layout and
// differ only in the default of length, preset by the caller.
func decodeRange(t Type, body []byte, start, length *uint64) error {
	r := fieldReader{t: t, b: body}
	seen := false
	for r.next() {
		switch r.num {
		case 1:
			*start, seen = r.uint(), true
		case 2:
			*length = r.uint()
		}
	}
	if !seen {
		r.missing("start")
	}
	return r.err
}

func decodeRequest(body []byte) (*Request, error) {
	m, err := decodeIndexed(TypeRequest, body)
	if err != nil {
		return nil, err
	}
	return &m, nil
}

// decodeCancel reads a Cancel, which is a Request without its nodes
// field (field 4 is then unknown and skipped).
func decodeCancel(body []byte) (*Cancel, error) {
	m, err := decodeIndexed(TypeCancel, body)
	if err != nil {
		return nil, err
	}
	return &Cancel{Index: m.Index, Bytes: m.Bytes, Hash: m.Hash}, nil
}

func decodeIndexed(t Type, body []byte) (Request, error) {
	var m Request
	r := fieldReader{t: t, b: body}
	seen := false
	for r.next() {
		switch {
		case r.num == 1:
			m.Index, seen = r.uint(), true
		case r.num == 2:
			m.Bytes = r.uint()
		case r.num == 3:
			m.Hash = r.bool()
		case r.num == 4 && t == TypeRequest:
			m.Nodes = r.uint()
		}
	}
	if !seen {
		r.missing("index")
	}
	return m, r.err
}

// decodeNode decodes the i-th Node; its Hash aliases b until decodeData
// detaches it.
func decodeNode(b []byte, i int) (Node, error) {
	var n Node
	r := fieldReader{t: TypeData, b: b, node: i + 1}
	var seen [3]bool
	for r.next() {
		switch r.num {
		case 1:
			n.Index, seen[0] = r.uint(), true
		case 2:
			n.Hash, seen[1] = r.bytes(), true
		case 3:
			n.Size, seen[2] = r.uint(), true
		}
	}
	for i, name := range [...]string{"index", "hash", "size"} {
		if !seen[i] {
			r.missing(name)
		}
	}
	return n, r.err
}

func decodeData(body []byte) (*Data, error) {
	m := &Data{}
	r := fieldReader{t: TypeData, b: body}
	seen := false
	// Proofs hold about two nodes per tree level; collecting them on the
	// stack first makes m.Nodes a single allocation of the right size.
	var small [32]Node
	nodes := small[:0]
	for r.next() {
		switch r.num {
		case 1:
			m.Index, seen = r.uint(), true
		case 2:
			m.Value = r.bytes()
		case 3:
			b := r.bytes()
			if r.err != nil {
				break
			}
			n, err := decodeNode(b, len(nodes))
			if err != nil {
				return nil, err
			}
			nodes = append(nodes, n)
		case 4:
			m.Signature = r.bytes()
		}
	}
	if !seen {
		r.missing("index")
	}
	if r.err != nil {
		return nil, r.err
	}
	total := len(m.Value) + len(m.Signature)
	for _, n := range nodes {
		total += len(n.Hash)
	}
	if len(nodes) > 0 {
		m.Nodes = slices.Clone(nodes)
	}
	d := newDetach(total)
	m.Value, m.Signature = d.copy(m.Value), d.copy(m.Signature)
	for i := range m.Nodes {
		m.Nodes[i].Hash = d.copy(m.Nodes[i].Hash)
	}
	return m, nil
}

func decodeClose(body []byte) (*Close, error) {
	m := &Close{}
	r := fieldReader{t: TypeClose, b: body}
	for r.next() {
		if r.num == 1 {
			m.DiscoveryKey = r.bytes()
		}
	}
	if r.err != nil {
		return nil, r.err
	}
	d := newDetach(len(m.DiscoveryKey))
	m.DiscoveryKey = d.copy(m.DiscoveryKey)
	return m, nil
}

func decodeExtension(body []byte) (*Extension, error) {
	id, n := protowire.ConsumeVarint(body)
	if n < 0 {
		return nil, fmt.Errorf("decode Extension: id: %s: %w", describe(n), ErrMalformed)
	}
	d := newDetach(len(body) - n)
	return &Extension{ID: id, Payload: d.copy(body[n:])}, nil
}

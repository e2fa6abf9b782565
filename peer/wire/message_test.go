package wire

import (
	"bytes"
	"encoding/hex"
	"errors"
	"reflect"
	"strings"
	"testing"
)

func unhex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(strings.ReplaceAll(s, " ", ""))
	if err != nil {
		t.Fatalf("bad hex %q: %v", s, err)
	}
	return b
}

// Spec 4.5 and 5: which fields are emitted. The interesting rows are the
// zero values and nil versus empty.
func TestEncodePresence(t *testing.T) {
	for _, c := range []struct {
		name string
		m    Message
		hex  string
	}{
		{"Open nil key still sent (required)", Open{}, "0a00"},
		{"Open empty capability present", Open{DiscoveryKey: []byte{1}, Capability: []byte{}}, "0a0101 1200"},
		{"Options ack always", Options{}, "1000"},
		{"Options one key per name", Options{Extensions: []string{"a", ""}}, "0a0161 0a00 1000"},
		{"Status both fields", Status{}, "0800 1000"},
		{"Have start 0 sent", Have{Length: 1}, "0800"},
		{"Have length 0 sent", Have{}, "0800 1000"},
		{"Have length 2", Have{Start: 1, Length: 2}, "0801 1002"},
		{"Have length 1 with ack", Have{Start: 5, Length: 1, Ack: true}, "0805 1001 2001"},
		{"Have empty bitfield present", Have{Length: 1048576, Bitfield: []byte{}}, "0800 10808040 1a00"},
		{"Have length 1 with bitfield", Have{Length: 1, Bitfield: []byte{7}}, "0800 1001 1a0107"},
		{"Unhave length 1 left out", Unhave{Start: 3, Length: 1}, "0803"},
		{"Unhave length 0 sent", Unhave{Start: 3}, "0803 1000"},
		{"Want length 0 sent", Want{}, "0800 1000"},
		{"Want window", Want{Length: 1 << 20}, "0800 10808040"},
		{"Unwant", Unwant{Start: 1, Length: 1}, "0801 1001"},
		{"Request all four", Request{}, "0800 1000 1800 2000"},
		{"Request max", Request{Index: 1<<64 - 1}, "08ffffffffffffffffff01 1000 1800 2000"},
		{"Cancel all three", Cancel{Hash: true}, "0800 1000 1801"},
		{"Data hash-only reply", Data{Index: 2}, "0802"},
		{"Data empty block", Data{Index: 2, Value: []byte{}}, "0802 1200"},
		{"Data node with nil hash", Data{Nodes: []Node{{}}}, "0800 1a06 0800 1200 1800"},
		{"Data empty signature present", Data{Signature: []byte{}}, "0800 2200"},
		{"Close empty", Close{}, ""},
		{"Close empty key present", Close{DiscoveryKey: []byte{}}, "0a00"},
		{"Extension id 0 no payload", Extension{}, "00"},
		{"Extension", Extension{ID: 300, Payload: []byte("hi")}, "ac02 6869"},
	} {
		want := unhex(t, c.hex)
		if got := c.m.AppendBody(nil); !bytes.Equal(got, want) {
			t.Errorf("%s: %+v encodes as %x, want %x", c.name, c.m, got, want)
		}
		if n := c.m.(sizer).bodyLen(); n != len(want) {
			t.Errorf("%s: bodyLen %d, want %d", c.name, n, len(want))
		}
		// AppendBody appends; it must leave what is in b alone.
		if got := c.m.AppendBody([]byte{0xee}); !bytes.Equal(got, append([]byte{0xee}, want...)) {
			t.Errorf("%s: AppendBody after a prefix = %x", c.name, got)
		}
	}
}

// Spec 4.5, 4.6 and 5: what absent fields decode as, and unknown fields
// skipped.
func TestDecodeDefaults(t *testing.T) {
	for _, c := range []struct {
		typ  Type
		hex  string
		want Message
	}{
		{TypeOpen, "0a00", &Open{DiscoveryKey: []byte{}}},
		{TypeOptions, "", &Options{}},
		{TypeStatus, "", &Status{}},
		{TypeStatus, "1001", &Status{Downloading: true}},
		{TypeStatus, "0802", &Status{Uploading: true}}, // any non-zero varint is true
		{TypeHave, "0806", &Have{Start: 6, Length: 1}},
		{TypeHave, "0800 1a00", &Have{Length: 1, Bitfield: []byte{}}},
		{TypeUnhave, "0806", &Unhave{Start: 6, Length: 1}},
		{TypeWant, "0806", &Want{Start: 6}},
		{TypeUnwant, "0806", &Unwant{Start: 6}},
		{TypeRequest, "0806", &Request{Index: 6}},
		{TypeCancel, "0806", &Cancel{Index: 6}},
		{TypeData, "0806", &Data{Index: 6}},
		{TypeData, "0806 1200", &Data{Index: 6, Value: []byte{}}},
		{TypeData, "0806 1a06 0800 1200 1800", &Data{Index: 6, Nodes: []Node{{Hash: []byte{}}}}},
		{TypeClose, "", &Close{}},
		{TypeClose, "0a00", &Close{DiscoveryKey: []byte{}}},
		{TypeExtension, "05", &Extension{ID: 5, Payload: []byte{}}},
		// Last value wins for a repeated scalar, as in protobuf and JS.
		{TypeHave, "0801 0802", &Have{Start: 2, Length: 1}},
		// Unknown fields of wire types 0, 1, 2 and 5 are skipped, in
		// Data's nodes too; so are field numbers up to 2^31-1.
		{TypeHave, "0801 2801 3101020304050607 08 3a0201 02 45 01020304", &Have{Start: 1, Length: 1}},
		{TypeData, "0801 1a0b 0802 1201aa 1803 2005 2a00", &Data{Index: 1, Nodes: []Node{{Index: 2, Hash: []byte{0xaa}, Size: 3}}}},
		{TypeStatus, "f8ffffff3f01 0801", &Status{Uploading: true}},
		{TypeClose, "1001", &Close{}},
	} {
		body := unhex(t, c.hex)
		got, err := Decode(c.typ, body)
		if err != nil {
			t.Errorf("Decode(%s, %s): %v", c.typ, c.hex, err)
			continue
		}
		if !reflect.DeepEqual(got, c.want) {
			t.Errorf("Decode(%s, %s) = %+v, want %+v", c.typ, c.hex, got, c.want)
		}
	}
}

// Spec 4.5: every way a body can be rejected.
func TestDecodeErrors(t *testing.T) {
	for _, c := range []struct {
		typ  Type
		hex  string
		want string // in the message
	}{
		{TypeOpen, "", "missing required field discoveryKey"},
		{TypeOpen, "1200", "missing required field discoveryKey"},
		{TypeHave, "", "missing required field start"},
		{TypeHave, "1001", "missing required field start"},
		{TypeUnhave, "1001", "missing required field start"},
		{TypeWant, "", "missing required field start"},
		{TypeUnwant, "", "missing required field start"},
		{TypeRequest, "1000 1800 2000", "missing required field index"},
		{TypeCancel, "", "missing required field index"},
		{TypeData, "1200", "missing required field index"},
		{TypeData, "0800 1a04 1200 1800", "node 0: missing required field index"},
		{TypeData, "0800 1a04 0800 1800", "node 0: missing required field hash"},
		{TypeData, "0800 1a04 0800 1200", "node 0: missing required field size"},
		{TypeData, "0800 1a06 0800 1200 1800 1a00", "node 1: missing required field index"},
		// Groups (3, 4) and invalid wire types (6, 7), known field or not.
		{TypeHave, "0800 0b 0c", "field 1: group wire type 3"},
		{TypeHave, "0800 2b", "field 5: group wire type 3"},
		{TypeHave, "0800 2c", "field 5: group wire type 4"},
		{TypeStatus, "0e", "field 1: invalid wire type 6"},
		{TypeStatus, "0f", "field 1: invalid wire type 7"},
		{TypeData, "0800 1a02 0b0c", "node 0: field 1: group wire type 3"},
		// Known fields with the wrong wire type.
		{TypeHave, "0a00", "field 1: wire type 2, want varint"},
		{TypeData, "0800 1001", "field 2: wire type 0, want bytes"},
		{TypeRequest, "0d01020304", "field 1: wire type 5, want varint"},
		// Truncation and overflow.
		{TypeData, "0800 1205 0102", "field 2: truncated"},
		{TypeData, "0800 1a05 0800", "field 3: truncated"},
		{TypeData, "0800 1aff", "field 3: truncated"},
		{TypeHave, "08", "field 1: truncated"},
		{TypeHave, "0880", "field 1: truncated"},
		{TypeHave, "08 ffffffffffffffffff7f", "field 1: varint overflow"},
		{TypeHave, "08 ffffffffffffffffffff01", "field 1: varint overflow"},
		{TypeHave, "0800 31 01020304", "field 6: truncated"},
		{TypeHave, "0800 45 0102", "field 8: truncated"},
		{TypeHave, "0800 80", "field key: truncated"},
		{TypeHave, "00 00", "field key: invalid field number"},
		{TypeHave, "0800 f8ffffffff01 00", "field key: invalid field number"},
		{TypeExtension, "", "id: truncated"},
		{TypeExtension, "ff", "id: truncated"},
		{TypeExtension, "ffffffffffffffffffff01", "id: varint overflow"},
		{Type(16), "", "not a 4-bit type"},
	} {
		m, err := Decode(c.typ, unhex(t, c.hex))
		if err == nil {
			t.Errorf("Decode(%s, %s) = %+v, want an error", c.typ, c.hex, m)
			continue
		}
		if m != nil {
			t.Errorf("Decode(%s, %s) returned %+v with its error", c.typ, c.hex, m)
		}
		if !errors.Is(err, ErrMalformed) || errors.Is(err, ErrUnknownType) {
			t.Errorf("Decode(%s, %s): %v does not wrap ErrMalformed alone", c.typ, c.hex, err)
		}
		if !strings.Contains(err.Error(), c.want) || !strings.HasPrefix(err.Error(), "decode ") {
			t.Errorf("Decode(%s, %s): %q, want it to mention %q", c.typ, c.hex, err, c.want)
		}
	}
}

// Spec 4.4: types 11-14 are ignored, not a protocol error, whatever
// their body.
func TestDecodeUnknownTypes(t *testing.T) {
	for typ := Type(11); typ <= 14; typ++ {
		for _, body := range []string{"", "0800", "0b"} {
			_, err := Decode(typ, unhex(t, body))
			if !errors.Is(err, ErrUnknownType) || errors.Is(err, ErrMalformed) {
				t.Errorf("Decode(%d, %s) = %v, want ErrUnknownType only", typ, body, err)
			}
		}
	}
}

// Decoded messages must survive the caller reusing its buffer, and
// appending to one field must not overwrite another.
func TestDecodeDoesNotAlias(t *testing.T) {
	msgs := []Message{
		&Open{DiscoveryKey: bytes.Repeat([]byte{1}, 32), Capability: bytes.Repeat([]byte{2}, 32)},
		&Options{Extensions: []string{"alpha", "beta"}, Ack: true},
		&Have{Start: 1, Length: 8, Bitfield: []byte{0x07}},
		&Data{Index: 1, Value: []byte("value"), Nodes: []Node{{2, bytes.Repeat([]byte{3}, 32), 4}, {5, []byte{6}, 7}}, Signature: bytes.Repeat([]byte{8}, 64)},
		&Close{DiscoveryKey: []byte{9, 9}},
		&Extension{ID: 2, Payload: []byte("payload")},
	}
	for _, want := range msgs {
		body := want.AppendBody(nil)
		got, err := Decode(want.Type(), body)
		if err != nil {
			t.Fatalf("%s: %v", want.Type(), err)
		}
		for i := range body {
			body[i] = 0xee
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%s changed with its body: %+v", want.Type(), got)
		}
	}
	d, err := Decode(TypeData, Data{Value: []byte{1}, Nodes: []Node{{Hash: []byte{2}}}, Signature: []byte{3}}.AppendBody(nil))
	if err != nil {
		t.Fatal(err)
	}
	data := d.(*Data)
	_ = append(data.Value, 0xaa)
	_ = append(data.Nodes[0].Hash, 0xbb)
	if data.Nodes[0].Hash[0] != 2 || data.Signature[0] != 3 {
		t.Errorf("appending to one field changed another: %+v", data)
	}
}

// Value and pointer receivers give the same encoding, and Type reports
// the constant.
func TestMessageTypes(t *testing.T) {
	for typ, m := range map[Type]Message{
		TypeOpen: Open{}, TypeOptions: Options{}, TypeStatus: Status{}, TypeHave: Have{},
		TypeUnhave: Unhave{}, TypeWant: Want{}, TypeUnwant: Unwant{}, TypeRequest: Request{},
		TypeCancel: Cancel{}, TypeData: Data{}, TypeClose: Close{}, TypeExtension: Extension{},
	} {
		if m.Type() != typ {
			t.Errorf("%T.Type() = %d, want %d", m, m.Type(), typ)
		}
		ptr := reflect.New(reflect.TypeOf(m))
		pm := ptr.Interface().(Message)
		if !bytes.Equal(pm.AppendBody(nil), m.AppendBody(nil)) || pm.Type() != typ {
			t.Errorf("%T: pointer and value differ", m)
		}
	}
	if s := Type(12).String(); s != "type 12" {
		t.Errorf("Type(12).String() = %q", s)
	}
}

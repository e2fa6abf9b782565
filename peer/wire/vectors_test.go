package wire

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"testing/iotest"

	"google.golang.org/protobuf/encoding/protowire"

	"github.com/hyperfs/hyperfs/internal/testvectors"
)

// The JSON shapes of ../shared/vectors that internal/testvectors does not
// cover. Message fields stay generic: messageFromJSON turns them into our
// structs, so that the vectors, not our encoder, say what a body holds.
type messageVectors struct {
	Messages struct {
		Bodies []struct {
			Type     *int           `json:"type"`
			TypeName string         `json:"typeName"`
			Object   map[string]any `json:"object"`
			BodyHex  string         `json:"bodyHex"`
		} `json:"bodies"`
		Frames []struct {
			Channel  uint64         `json:"channel"`
			Type     int            `json:"type"`
			Object   map[string]any `json:"object"`
			FrameHex string         `json:"frameHex"`
		} `json:"frames"`
	} `json:"messages"`
	Feeds []struct {
		Name   string `json:"name"`
		Blocks []struct {
			Has bool `json:"has"`
		} `json:"blocks"`
		WantReplyBitfieldRLE string `json:"wantReplyBitfieldRLE"`
	} `json:"feeds"`
}

type transcript struct {
	Initiator struct {
		PlaintextFramesSent []string `json:"plaintextFramesSent"`
	} `json:"initiator"`
	Responder struct {
		PlaintextFramesSent []string `json:"plaintextFramesSent"`
	} `json:"responder"`
	DecodedFrames map[string][]decodedFrame `json:"decodedFrames"`
}

type decodedFrame struct {
	Channel  uint64         `json:"channel"`
	Type     Type           `json:"type"`
	TypeName string         `json:"typeName"`
	BodyHex  string         `json:"bodyHex"`
	Fields   map[string]any `json:"fields"`
}

func loadJSON(t testing.TB, rel string, v any) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(testvectors.SharedDir(t), "vectors", rel))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("parse %s: %v", rel, err)
	}
}

func loadMessageVectors(t testing.TB) *messageVectors {
	var v messageVectors
	loadJSON(t, "vectors.json", &v)
	return &v
}

func loadTranscript(t testing.TB, name string) *transcript {
	var tr transcript
	loadJSON(t, filepath.Join("wire", name), &tr)
	return &tr
}

var transcripts = []string{"full-download.json", "sparse-get5.json"}

// jsonFields reads the JS object notation of the vectors: numbers,
// booleans, {"hex": …} for bytes and null for absent.
type jsonFields struct {
	t testing.TB
	m map[string]any
}

func (f jsonFields) uint(key string, def uint64) uint64 {
	v, ok := f.m[key]
	if !ok || v == nil {
		return def
	}
	n, ok := v.(float64)
	if !ok {
		f.t.Fatalf("field %s: %v is not a number", key, v)
	}
	return uint64(n)
}

func (f jsonFields) bool(key string) bool {
	v, ok := f.m[key]
	if !ok || v == nil {
		return false
	}
	b, ok := v.(bool)
	if !ok {
		f.t.Fatalf("field %s: %v is not a bool", key, v)
	}
	return b
}

func (f jsonFields) bytes(key string) []byte {
	v, ok := f.m[key]
	if !ok || v == nil {
		return nil
	}
	obj, ok := v.(map[string]any)
	if !ok {
		f.t.Fatalf("field %s: %v is not {hex}", key, v)
	}
	s, _ := obj["hex"].(string)
	return testvectors.Hex(f.t, s)
}

// messageFromJSON builds the struct a vector object describes, with JS's
// decode defaults for the keys it leaves out.
func messageFromJSON(t testing.TB, typ Type, obj map[string]any) Message {
	t.Helper()
	f := jsonFields{t, obj}
	switch typ {
	case TypeOpen:
		return &Open{DiscoveryKey: f.bytes("discoveryKey"), Capability: f.bytes("capability")}
	case TypeOptions:
		m := &Options{Ack: f.bool("ack")}
		if exts, ok := obj["extensions"].([]any); ok {
			for _, e := range exts {
				m.Extensions = append(m.Extensions, e.(string))
			}
		}
		return m
	case TypeStatus:
		return &Status{Uploading: f.bool("uploading"), Downloading: f.bool("downloading")}
	case TypeHave:
		return &Have{Start: f.uint("start", 0), Length: f.uint("length", 1), Bitfield: f.bytes("bitfield"), Ack: f.bool("ack")}
	case TypeUnhave:
		return &Unhave{Start: f.uint("start", 0), Length: f.uint("length", 1)}
	case TypeWant:
		return &Want{Start: f.uint("start", 0), Length: f.uint("length", 0)}
	case TypeUnwant:
		return &Unwant{Start: f.uint("start", 0), Length: f.uint("length", 0)}
	case TypeRequest:
		return &Request{Index: f.uint("index", 0), Bytes: f.uint("bytes", 0), Hash: f.bool("hash"), Nodes: f.uint("nodes", 0)}
	case TypeCancel:
		return &Cancel{Index: f.uint("index", 0), Bytes: f.uint("bytes", 0), Hash: f.bool("hash")}
	case TypeData:
		m := &Data{Index: f.uint("index", 0), Value: f.bytes("value"), Signature: f.bytes("signature")}
		nodes, _ := obj["nodes"].([]any)
		for _, n := range nodes {
			nf := jsonFields{t, n.(map[string]any)}
			m.Nodes = append(m.Nodes, Node{Index: nf.uint("index", 0), Hash: nf.bytes("hash"), Size: nf.uint("size", 0)})
		}
		return m
	case TypeClose:
		return &Close{DiscoveryKey: f.bytes("discoveryKey")}
	case TypeExtension:
		// The vectors give the raw body; split it as the spec defines.
		raw := f.bytes("raw")
		id, n := protowire.ConsumeVarint(raw)
		if n < 0 {
			t.Fatalf("bad extension vector %x", raw)
		}
		return &Extension{ID: id, Payload: raw[n:]}
	}
	t.Fatalf("no vector mapping for type %d", typ)
	return nil
}

// checkBody checks one body both ways against the vector: the encoding is
// byte-identical and decoding gives the described message.
func checkBody(t *testing.T, typ Type, want Message, body []byte) {
	t.Helper()
	if got := want.AppendBody(nil); !bytes.Equal(got, body) {
		t.Errorf("encode %s %+v:\n got %x\nwant %x", typ, want, got, body)
	}
	if n := want.(sizer).bodyLen(); n != len(body) {
		t.Errorf("%s bodyLen = %d, encoding has %d bytes", typ, n, len(body))
	}
	got, err := Decode(typ, body)
	if err != nil {
		t.Fatalf("decode %s %x: %v", typ, body, err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("decode %s %x:\n got %+v\nwant %+v", typ, body, got, want)
	}
}

// Spec 4.6: every message body of vectors.json, both ways.
func TestVectorMessageBodies(t *testing.T) {
	v := loadMessageVectors(t)
	n := 0
	for _, c := range v.Messages.Bodies {
		if c.Type == nil {
			continue // NoisePayload belongs to the handshake
		}
		typ := Type(*c.Type)
		if typ.String() != c.TypeName {
			t.Errorf("type %d is %s here, %s in the vectors", typ, typ, c.TypeName)
		}
		t.Run(c.TypeName+"/"+c.BodyHex, func(t *testing.T) {
			checkBody(t, typ, messageFromJSON(t, typ, c.Object), testvectors.Hex(t, c.BodyHex))
		})
		n++
	}
	if n < 15 {
		t.Fatalf("only %d message vectors; vectors.json changed shape?", n)
	}
}

// Spec 4.4: the complete frames of vectors.json.
func TestVectorFrames(t *testing.T) {
	v := loadMessageVectors(t)
	if len(v.Messages.Frames) == 0 {
		t.Fatal("no frame vectors")
	}
	for _, c := range v.Messages.Frames {
		frame := testvectors.Hex(t, c.FrameHex)
		want := messageFromJSON(t, Type(c.Type), c.Object)
		if got := AppendFrame(nil, c.Channel, want); !bytes.Equal(got, frame) {
			t.Errorf("AppendFrame(%d, %+v) = %x, want %s", c.Channel, want, got, c.FrameHex)
		}
		var p FrameParser
		p.Feed(frame)
		f, ok, err := p.Next()
		if err != nil || !ok {
			t.Fatalf("parse %s: ok=%v err=%v", c.FrameHex, ok, err)
		}
		if f.Channel != c.Channel || f.Type != Type(c.Type) || p.Buffered() != 0 {
			t.Errorf("parse %s: channel %d type %d, %d bytes left", c.FrameHex, f.Channel, f.Type, p.Buffered())
		}
		checkBody(t, f.Type, want, f.Body)
	}
}

// Spec 4.8.3: RLE encodings byte-identical to JS, decodings equal after
// JS's padding to 4 bytes.
func TestVectorBitfieldRLE(t *testing.T) {
	v := testvectors.Load(t)
	if len(v.BitfieldRLE) == 0 {
		t.Fatal("no RLE vectors")
	}
	for _, c := range v.BitfieldRLE {
		in, enc, aligned := testvectors.Hex(t, c.Input), testvectors.Hex(t, c.Encoded), testvectors.Hex(t, c.DecodedAlign4)
		if got := AppendRLE(nil, in); !bytes.Equal(got, enc) {
			t.Errorf("AppendRLE(%.40x…) = %x, want %x", in, got, enc)
		}
		dec, err := DecodeRLE(enc, len(in))
		if err != nil {
			t.Fatalf("DecodeRLE(%x): %v", enc, err)
		}
		if !bytes.Equal(dec, bytes.TrimRight(in, "\x00")) {
			t.Errorf("DecodeRLE(%x) = %x, want the trimmed input", enc, dec)
		}
		padded := append(dec, make([]byte, (4-len(dec)%4)%4)...)
		if !bytes.Equal(padded, aligned) {
			t.Errorf("DecodeRLE(%x) padded = %x, want %x", enc, padded, aligned)
		}
		if len(dec) > 0 {
			if _, err := DecodeRLE(enc, len(dec)-1); !errors.Is(err, ErrTooLarge) {
				t.Errorf("DecodeRLE(%x, %d) = %v, want ErrTooLarge", enc, len(dec)-1, err)
			}
		}
	}
}

// Spec 4.8.3 and 3.7: each reference feed's Have reply bitfield, built
// from which blocks it holds (MSB first).
func TestVectorFeedBitfields(t *testing.T) {
	v := loadMessageVectors(t)
	for _, f := range v.Feeds {
		bits := make([]byte, (len(f.Blocks)+7)/8)
		for i, b := range f.Blocks {
			if b.Has {
				bits[i/8] |= 0x80 >> (i % 8)
			}
		}
		want := testvectors.Hex(t, f.WantReplyBitfieldRLE)
		if got := AppendRLE(nil, bits); !bytes.Equal(got, want) {
			t.Errorf("%s: AppendRLE = %x, want %x", f.Name, got, want)
		}
	}
}

// Spec 4.6-4.8: every frame of both replication transcripts decodes to
// the fields JS logged and re-encodes to the same body.
func TestTranscriptDecodedFrames(t *testing.T) {
	for _, name := range transcripts {
		tr := loadTranscript(t, name)
		for _, side := range []string{"initiator", "responder"} {
			frames := tr.DecodedFrames[side]
			if len(frames) == 0 {
				t.Fatalf("%s: no decoded frames for %s", name, side)
			}
			for i, f := range frames {
				t.Run(name+"/"+side+"/"+f.TypeName, func(t *testing.T) {
					if f.Type.String() != f.TypeName {
						t.Errorf("frame %d: type %d is %s here", i, f.Type, f.Type)
					}
					checkBody(t, f.Type, messageFromJSON(t, f.Type, f.Fields), testvectors.Hex(t, f.BodyHex))
				})
			}
		}
	}
}

// Spec 4.4: the plaintext frame stream of each side, read through
// FrameReader whole and in odd pieces, matches the decoded frames, and
// AppendFrame rebuilds each frame byte for byte.
func TestTranscriptFrameStream(t *testing.T) {
	for _, name := range transcripts {
		tr := loadTranscript(t, name)
		for side, sent := range map[string][]string{"initiator": tr.Initiator.PlaintextFramesSent, "responder": tr.Responder.PlaintextFramesSent} {
			decoded := tr.DecodedFrames[side]
			if len(sent) != len(decoded) {
				t.Fatalf("%s %s: %d frames sent, %d decoded", name, side, len(sent), len(decoded))
			}
			var stream []byte
			for _, h := range sent {
				stream = append(stream, testvectors.Hex(t, h)...)
			}
			readers := map[string]io.Reader{
				"whole":    bytes.NewReader(stream),
				"one-byte": iotest.OneByteReader(bytes.NewReader(stream)),
				"half":     iotest.HalfReader(bytes.NewReader(stream)),
				"data-err": iotest.DataErrReader(bytes.NewReader(stream)),
			}
			for rname, r := range readers {
				fr := NewFrameReader(r)
				for i, want := range decoded {
					f, err := fr.Next()
					if err != nil {
						t.Fatalf("%s %s %s: frame %d: %v", name, side, rname, i, err)
					}
					if f.Channel != want.Channel || f.Type != want.Type || hex.EncodeToString(f.Body) != want.BodyHex {
						t.Fatalf("%s %s %s: frame %d = ch %d type %d body %x, want ch %d type %d body %s",
							name, side, rname, i, f.Channel, f.Type, f.Body, want.Channel, want.Type, want.BodyHex)
					}
					msg, err := Decode(f.Type, f.Body)
					if err != nil {
						t.Fatalf("%s %s: frame %d: %v", name, side, i, err)
					}
					if got := hex.EncodeToString(AppendFrame(nil, f.Channel, msg)); got != sent[i] {
						t.Errorf("%s %s: AppendFrame of frame %d = %s, want %s", name, side, i, got, sent[i])
					}
				}
				if f, err := fr.Next(); err != io.EOF {
					t.Errorf("%s %s %s: after the last frame: %+v, %v; want io.EOF", name, side, rname, f, err)
				}
			}
		}
	}
}

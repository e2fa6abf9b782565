package index

import (
	"bytes"
	"encoding/binary"
	"errors"
	"slices"
	"testing"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/vfs"
)

func testPage(n uint64, blocks ...BlockSpan) *offsetPage {
	p := &offsetPage{n: n}
	for _, b := range blocks {
		p.idx = append(p.idx, uint32(b.Index-n*pageBlocks))
		p.start = append(p.start, b.Start)
		p.end = append(p.end, b.End)
	}
	return p
}

func samePage(a, b *offsetPage) bool {
	return a.n == b.n && slices.Equal(a.idx, b.idx) && slices.Equal(a.start, b.start) && slices.Equal(a.end, b.end)
}

func TestPageRoundTrip(t *testing.T) {
	for _, tc := range []struct {
		name  string
		page  *offsetPage
		bytes int // encoded size
	}{
		{"empty", testPage(0), 1},
		{"one-block appends", testPage(1, BlockSpan{256, 25600, 25700}, BlockSpan{257, 25700, 25800}, BlockSpan{258, 25800, 25900}), 1 + (1 + 3 + 1) + 2*3},
		{"sparse with empty blocks", testPage(3, BlockSpan{768, 5, 5}, BlockSpan{800, 90, 90}, BlockSpan{1023, 1 << 40, 1<<40 + 65536}), 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := encodePage(tc.page)
			if tc.bytes > 0 && len(b) != tc.bytes {
				t.Errorf("encoded in %d bytes, want %d", len(b), tc.bytes)
			}
			got, err := decodePage(tc.page.feed, tc.page.n, b)
			if err != nil || !samePage(got, tc.page) {
				t.Fatalf("decode(encode(p)) = %+v, %v; want %+v", got, err, tc.page)
			}
		})
	}
}

func TestDecodePageRejects(t *testing.T) {
	uv := func(vs ...uint64) []byte {
		var b []byte
		for _, v := range vs {
			b = binary.AppendUvarint(b, v)
		}
		return b
	}
	for _, tc := range []struct {
		name string
		v    []byte
	}{
		{"nothing", nil},
		{"count past the page", uv(pageBlocks + 1)},
		{"cut short", uv(2, 0, 0, 10, 0)},
		{"index past the page", uv(1, pageBlocks, 0, 1)},
		{"index gap wraps", uv(2, 0, 0, 1, ^uint64(0), 0, 1)},
		{"start wraps", uv(2, 0, 5, 1, 0, ^uint64(0)-2, 1)},
		{"size wraps", uv(1, 0, 10, ^uint64(0)-3)},
		{"trailing bytes", append(uv(1, 0, 0, 1), 0)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if p, err := decodePage([32]byte{}, 0, tc.v); !errors.Is(err, errBadPage) {
				t.Fatalf("decode = %+v, %v; want %v", p, err, errBadPage)
			}
		})
	}
}

func TestMergePage(t *testing.T) {
	base := testPage(0, BlockSpan{1, 10, 20}, BlockSpan{5, 50, 60})
	for _, tc := range []struct {
		name  string
		spans []BlockSpan
		want  *offsetPage // nil: must fail
	}{
		{"append after", []BlockSpan{{6, 60, 70}, {7, 70, 70}},
			testPage(0, BlockSpan{1, 10, 20}, BlockSpan{5, 50, 60}, BlockSpan{6, 60, 70}, BlockSpan{7, 70, 70})},
		{"fill a gap", []BlockSpan{{0, 0, 10}, {3, 30, 40}},
			testPage(0, BlockSpan{0, 0, 10}, BlockSpan{1, 10, 20}, BlockSpan{3, 30, 40}, BlockSpan{5, 50, 60})},
		{"same span again", []BlockSpan{{5, 50, 60}}, base},
		{"overlaps the block before", []BlockSpan{{3, 15, 40}}, nil},
		{"overlaps the block after", []BlockSpan{{3, 30, 55}}, nil},
		{"ends before it starts", []BlockSpan{{3, 40, 30}}, nil},
		{"the same index twice", []BlockSpan{{3, 30, 35}, {3, 35, 40}}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := mergePage(base, tc.spans)
			if tc.want == nil {
				if !errors.Is(err, errBadPage) {
					t.Fatalf("merge = %+v, %v; want %v", got, err, errBadPage)
				}
				return
			}
			if err != nil || !samePage(got, tc.want) {
				t.Fatalf("merge = %+v, %v; want %+v", got, err, tc.want)
			}
		})
	}
	if !samePage(base, testPage(0, BlockSpan{1, 10, 20}, BlockSpan{5, 50, 60})) {
		t.Fatal("merge changed the page it was given")
	}
}

// FuzzDecodePage: no input panics, and what decodes is a well-formed page
// whose encoding decodes to the same page.
func FuzzDecodePage(f *testing.F) {
	f.Add(encodePage(testPage(2, BlockSpan{512, 0, 100}, BlockSpan{600, 100, 100}, BlockSpan{767, 200, 300})))
	f.Add([]byte{0})
	f.Add([]byte{1, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01, 0, 0})
	f.Fuzz(func(t *testing.T, v []byte) {
		p, err := decodePage([32]byte{}, 2, v)
		if err != nil {
			return
		}
		for k := range p.idx {
			if p.idx[k] >= pageBlocks || p.end[k] < p.start[k] || (k > 0 && (p.idx[k] <= p.idx[k-1] || p.start[k] < p.end[k-1])) {
				t.Fatalf("decoded a malformed page: %+v", p)
			}
		}
		q, err := decodePage([32]byte{}, 2, encodePage(p))
		if err != nil || !samePage(p, q) {
			t.Fatalf("re-encoded page decodes to %+v, %v; want %+v", q, err, p)
		}
	})
}

// An index of the version that kept a key per block loses those tables
// and every state on its first writable open, so that each feed indexes
// itself into pages; opened read-only first, it is refused.
func TestOldOffsetTablesDropped(t *testing.T) {
	fs := vfs.NewMem()
	old, err := pebble.Open("index", &pebble.Options{FS: fs})
	if err != nil {
		t.Fatal(err)
	}
	feedKey := make([]byte, 32)
	blockKey := append(key(tagBlock, feedKey), u64(0)...)
	offsetKey := append(append(key(tagOffset, feedKey), u64(10)...), u64(0)...)
	stateKey := key(tagState, feedKey)
	nameKey := key(tagName, []byte("f"))
	for _, k := range [][]byte{blockKey, offsetKey, stateKey, nameKey} {
		if err := old.Set(k, make([]byte, 40), pebble.Sync); err != nil {
			t.Fatal(err)
		}
	}
	old.Close()

	if _, err := Open("index", Options{FS: fs, ReadOnly: true}); !errors.Is(err, ErrOldFormat) {
		t.Fatalf("read-only open of the old format = %v, want %v", err, ErrOldFormat)
	}
	db, err := Open("index", Options{FS: fs})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for _, k := range [][]byte{blockKey, offsetKey, stateKey} {
		if _, _, err := db.db.Get(k); !errors.Is(err, pebble.ErrNotFound) {
			t.Errorf("old entry %q: %v, want not found", k[:1], err)
		}
	}
	if v, closer, err := db.db.Get(nameKey); err != nil || !bytes.Equal(v, make([]byte, 40)) {
		t.Errorf("registry entry after the conversion: %v", err)
	} else {
		closer.Close()
	}
}

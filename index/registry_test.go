package index_test

import (
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"

	"github.com/hyperfs/hyperfs/index"
)

// testKey is a key whose bytes are all b.
func testKey(b byte) [32]byte {
	var k [32]byte
	for i := range k {
		k[i] = b
	}
	return k
}

func openRegistry(t testing.TB, fs vfs.FS, opts index.Options) *index.DB {
	t.Helper()
	opts.FS = fs
	db, err := index.Open("index", opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func TestValidName(t *testing.T) {
	own := testKey(0xab)
	ownHex := hex.EncodeToString(own[:])
	tests := []struct {
		name string
		ok   bool
	}{
		{"a", true},
		{"...", true},
		{"a.b", true},
		{"with space", true},
		{"ünïcode", true},
		{strings.Repeat("n", 255), true},
		{strings.Repeat("0f", 31), true}, // 62 hex digits
		{strings.Repeat("0g", 32), true}, // 64 digits, not hex
		{ownHex, true},                   // the feed's own key
		{strings.ToUpper(ownHex), true},  // the same key, upper case
		{"", false},
		{"a/b", false},
		{"/", false},
		{".", false},
		{"..", false},
		{"nul\x00", false},
		{strings.Repeat("n", 256), false},
		{strings.Repeat("0f", 32), false}, // another feed's key
		{strings.Repeat("AB", 31) + "AC", false},
	}
	for _, tt := range tests {
		err := index.ValidName(tt.name, own)
		if tt.ok && err != nil {
			t.Errorf("ValidName(%q) = %v, want nil", tt.name, err)
		}
		if !tt.ok && !errors.Is(err, index.ErrBadName) {
			t.Errorf("ValidName(%q) = %v, want ErrBadName", tt.name, err)
		}
	}
}

// TestRegistryRules runs steps on one registry; each step's error must
// match want (nil: no error).
func TestRegistryRules(t *testing.T) {
	db := openRegistry(t, vfs.NewMem(), index.Options{})
	a, b, c := testKey(1), testKey(2), testKey(3)
	steps := []struct {
		what string
		rec  index.Feed
		want error
	}{
		{"create a", index.Feed{Key: a, Name: "alpha", Writable: true}, nil},
		{"create b unnamed", index.Feed{Key: b}, nil},
		{"b takes a's name", index.Feed{Key: b, Name: "alpha"}, index.ErrNameTaken},
		{"b bad name", index.Feed{Key: b, Name: "x/y"}, index.ErrBadName},
		{"b dot", index.Feed{Key: b, Name: "."}, index.ErrBadName},
		{"b another key", index.Feed{Key: b, Name: hex.EncodeToString(c[:])}, index.ErrBadName},
		{"b its own key", index.Feed{Key: b, Name: hex.EncodeToString(b[:])}, nil},
		{"a renamed", index.Feed{Key: a, Name: "beta", Writable: true, Length: 5}, nil},
		{"c takes a's old name", index.Feed{Key: c, Name: "alpha", Peers: []string{"p1"}}, nil},
		{"a again, same name", index.Feed{Key: a, Name: "beta", Writable: true, Length: 6}, nil},
	}
	for _, s := range steps {
		_, err := db.Put(s.rec)
		if !errors.Is(err, s.want) || (s.want == nil) != (err == nil) {
			t.Fatalf("%s: Put = %v, want %v", s.what, err, s.want)
		}
	}
	if _, err := db.ByName("alpha"); err != nil {
		t.Errorf("ByName(alpha): %v", err)
	}
	if rec, err := db.ByName("beta"); err != nil || rec.Key != a || rec.Length != 6 || !rec.Writable {
		t.Errorf("ByName(beta) = %+v, %v", rec, err)
	}
	if _, err := db.ByName("gamma"); !errors.Is(err, index.ErrNotFound) {
		t.Errorf("ByName(gamma) = %v, want ErrNotFound", err)
	}
	if _, err := db.ByKey(testKey(9)); !errors.Is(err, index.ErrNotFound) {
		t.Errorf("ByKey(unknown) = %v, want ErrNotFound", err)
	}
	list, err := db.List()
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, rec := range list {
		got = append(got, fmt.Sprintf("%s=%02x", rec.Name, rec.Key[0]))
	}
	want := []string{hex.EncodeToString(b[:]) + "=02", "alpha=03", "beta=01"}
	if !slices.Equal(got, want) {
		t.Errorf("List = %v, want %v", got, want)
	}
	if !slices.Equal(list[1].Peers, []string{"p1"}) {
		t.Errorf("peers of c = %v", list[1].Peers)
	}
}

func TestRegistryUpdateKeepsCreated(t *testing.T) {
	db := openRegistry(t, vfs.NewMem(), index.Options{})
	first, err := db.Put(index.Feed{Key: testKey(1), Name: "a"})
	if err != nil {
		t.Fatal(err)
	}
	if first.Created.IsZero() || !first.Updated.Equal(first.Created) {
		t.Errorf("new record: created %v updated %v", first.Created, first.Updated)
	}
	time.Sleep(2 * time.Millisecond) // so that Updated can differ
	second, err := db.Put(index.Feed{Key: testKey(1), Name: "a", Length: 3, Created: first.Created.Add(time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	if !second.Created.Equal(first.Created) || !second.Updated.After(first.Updated) {
		t.Errorf("update: created %v (was %v), updated %v (was %v)", second.Created, first.Created, second.Updated, first.Updated)
	}
	stored, err := db.ByKey(testKey(1))
	if err != nil || !stored.Created.Equal(first.Created) || stored.Length != 3 {
		t.Errorf("ByKey = %+v, %v", stored, err)
	}
	// A new record may bring its own creation time (a rebuild does).
	old := time.Date(2020, 1, 2, 3, 4, 5, 0, time.UTC)
	rec, err := db.Put(index.Feed{Key: testKey(2), Created: old})
	if err != nil || !rec.Created.Equal(old) {
		t.Errorf("Put with Created: %v, %v", rec.Created, err)
	}
}

func TestRegistrySetNameAndRemove(t *testing.T) {
	db := openRegistry(t, vfs.NewMem(), index.Options{})
	a, b := testKey(1), testKey(2)
	if _, err := db.PutAll([]index.Feed{{Key: a, Name: "a"}, {Key: b, Name: "b"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := db.SetName(a, "b"); !errors.Is(err, index.ErrNameTaken) {
		t.Errorf("SetName to a taken name = %v", err)
	}
	if _, err := db.SetName(a, ""); err != nil {
		t.Fatal(err)
	}
	if _, err := db.ByName("a"); !errors.Is(err, index.ErrNotFound) {
		t.Errorf("dropped name still found: %v", err)
	}
	if _, err := db.SetName(testKey(7), "x"); !errors.Is(err, index.ErrNotFound) {
		t.Errorf("SetName of an unknown feed = %v", err)
	}
	if err := db.Remove(b); err != nil {
		t.Fatal(err)
	}
	if _, err := db.ByName("b"); !errors.Is(err, index.ErrNotFound) {
		t.Errorf("name of a removed feed found: %v", err)
	}
	if err := db.Remove(b); !errors.Is(err, index.ErrNotFound) {
		t.Errorf("second Remove = %v", err)
	}
	if _, err := db.SetName(a, "b"); err != nil {
		t.Errorf("the removed feed's name is not free: %v", err)
	}
}

// PutAll writes all records or none.
func TestRegistryPutAllAtomic(t *testing.T) {
	db := openRegistry(t, vfs.NewMem(), index.Options{})
	recs := []index.Feed{{Key: testKey(1), Name: "x"}, {Key: testKey(2), Name: "y"}, {Key: testKey(3), Name: "x"}}
	if _, err := db.PutAll(recs); !errors.Is(err, index.ErrNameTaken) {
		t.Fatalf("PutAll with a duplicate name = %v", err)
	}
	if has, err := db.HasFeeds(); err != nil || has {
		t.Errorf("HasFeeds after a failed PutAll = %v, %v", has, err)
	}
}

// Many goroutines race for one name: exactly one gets it.
func TestRegistryConcurrentNames(t *testing.T) {
	db := openRegistry(t, vfs.NewMem(), index.Options{})
	const n = 16
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { _, errs[i] = db.Put(index.Feed{Key: testKey(byte(i)), Name: "same"}) })
	}
	wg.Wait()
	won := 0
	for _, err := range errs {
		switch {
		case err == nil:
			won++
		case !errors.Is(err, index.ErrNameTaken):
			t.Errorf("Put: %v", err)
		}
	}
	if won != 1 {
		t.Errorf("%d goroutines got the name, want 1", won)
	}
}

// A name change survives a crash (names are synced); a reopen sees the
// registry, and a read-only one refuses writes.
func TestRegistryCrashKeepsNames(t *testing.T) {
	fs := vfs.NewCrashableMem()
	db, err := index.Open("index", index.Options{FS: fs})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Put(index.Feed{Key: testKey(1), Name: "kept"}); err != nil {
		t.Fatal(err)
	}
	crashed := fs.CrashClone(vfs.CrashCloneCfg{})
	db.Close()
	ro := openRegistry(t, crashed, index.Options{ReadOnly: true})
	if rec, err := ro.ByName("kept"); err != nil || rec.Key != testKey(1) {
		t.Errorf("after a crash: ByName = %+v, %v", rec, err)
	}
	if _, err := ro.Put(index.Feed{Key: testKey(2)}); !errors.Is(err, index.ErrReadOnly) {
		t.Errorf("Put on a read-only index = %v, want ErrReadOnly", err)
	}
}

// BenchmarkList lists a registry of 10 000 feeds.
func BenchmarkList(b *testing.B) {
	for _, n := range []int{10_000} {
		b.Run(fmt.Sprintf("feeds=%d", n), func(b *testing.B) {
			db, err := index.Open(b.TempDir(), index.Options{})
			if err != nil {
				b.Fatal(err)
			}
			defer db.Close()
			recs := make([]index.Feed, n)
			for i := range recs {
				recs[i].Key[0], recs[i].Key[1] = byte(i>>8), byte(i)
				recs[i].Name = fmt.Sprintf("feed-%05d", i)
				recs[i].Writable = true
				recs[i].Length, recs[i].ByteLength, recs[i].Downloaded = uint64(i), uint64(i)<<16, uint64(i)
			}
			if _, err := db.PutAll(recs); err != nil {
				b.Fatal(err)
			}
			for b.Loop() {
				list, err := db.List()
				if err != nil || len(list) != n {
					b.Fatalf("List: %d feeds, %v", len(list), err)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(n), "ns/feed")
		})
	}
}

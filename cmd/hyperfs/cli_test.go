package main

import (
	"bytes"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"

	"github.com/cockroachdb/pebble/v2"

	"github.com/hyperfs/hyperfs/index"
)

// hyperfsBin is the hyperfs built once by TestMain.
var hyperfsBin string

func TestMain(m *testing.M) {
	os.Exit(testMain(m))
}

// ownerBin is the binary that tests run as serve, the home's owner, where
// commands run concurrently: built with ownerFlags (-race under go test
// -race; the clients stay fast).
var (
	ownerBin   string
	ownerFlags []string
)

func testMain(m *testing.M) int {
	dir, err := os.MkdirTemp("", "hyperfs-cli-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	hyperfsBin = filepath.Join(dir, "hyperfs")
	if out, err := exec.Command("go", "build", "-o", hyperfsBin, ".").CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "build hyperfs: %v\n%s", err, out)
		return 1
	}
	ownerBin = hyperfsBin
	if len(ownerFlags) > 0 {
		ownerBin = filepath.Join(dir, "hyperfs-owner")
		args := append([]string{"build", "-o", ownerBin}, append(ownerFlags, ".")...)
		if out, err := exec.Command("go", args...).CombinedOutput(); err != nil {
			fmt.Fprintf(os.Stderr, "build hyperfs: %v\n%s", err, out)
			return 1
		}
	}
	return m.Run()
}

// result is one run of the hyperfsBin.
type result struct {
	stdout, stderr string
	code           int
}

// hyperfs runs the hyperfsBin with stdin and args and returns what it printed
// and its exit code. The environment points no home anywhere useful, so a
// test that forgets --home fails instead of touching the real home.
func hyperfs(t *testing.T, stdin []byte, args ...string) result {
	t.Helper()
	return runIn(t, "", stdin, args...)
}

// must runs hyperfs and fails the test unless it exits 0.
func must(t *testing.T, stdin []byte, args ...string) string {
	t.Helper()
	r := hyperfs(t, stdin, args...)
	if r.code != 0 {
		t.Fatalf("hyperfs %q: exit %d, stderr:\n%s", args, r.code, r.stderr)
	}
	return r.stdout
}

// wantCode runs hyperfs and checks its exit code and that stderr says
// "hyperfs: ".
func wantCode(t *testing.T, code int, stdin []byte, args ...string) result {
	t.Helper()
	r := hyperfs(t, stdin, args...)
	if r.code != code {
		t.Fatalf("hyperfs %q: exit %d, want %d; stderr:\n%s", args, r.code, code, r.stderr)
	}
	if code != 0 && !strings.Contains(r.stderr, "hyperfs: ") {
		t.Errorf("hyperfs %q: stderr %q has no \"hyperfs: \" message", args, r.stderr)
	}
	return r
}

var keyRE = regexp.MustCompile(`^[0-9a-f]{64}\n$`)

// newFeed creates a feed named name in home and returns its key.
func newFeed(t *testing.T, home, name string) string {
	t.Helper()
	out := must(t, nil, "--home", home, "create", name)
	if !keyRE.MatchString(out) {
		t.Fatalf("create printed %q, want a 64-hex key", out)
	}
	return strings.TrimSpace(out)
}

func testInput(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i*7 + i/251)
	}
	return b
}

func infoOfFeed(t *testing.T, home, feed string) map[string]any {
	t.Helper()
	var m map[string]any
	out := must(t, nil, "info", feed, "--json", "--home", home)
	if err := json.Unmarshal([]byte(out), &m); err != nil {
		t.Fatalf("info --json: %v\n%s", err, out)
	}
	return m
}

func TestAppendBlocking(t *testing.T) {
	in := testInput(150 << 10)
	lines := []byte("one\ntwo\n\nfour without newline")
	tests := []struct {
		name       string
		args       []string
		in         []byte
		wantBlocks []int // block sizes
	}{
		{"default 64 KiB", nil, in, []int{64 << 10, 64 << 10, 22 << 10}},
		{"block size", []string{"--block-size", "50000"}, in, []int{50000, 50000, 50000, 3600}},
		{"block size one", []string{"--block-size=1"}, []byte("abc"), []int{1, 1, 1}},
		{"lines", []string{"--lines"}, lines, []int{4, 4, 1, 20}},
		{"lines final newline", []string{"--lines"}, []byte("a\nb\n"), []int{2, 2}},
		{"empty input", nil, nil, nil},
		{"empty lines input", []string{"--lines"}, nil, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			home := t.TempDir()
			newFeed(t, home, "f")
			must(t, tt.in, append([]string{"--home", home, "append", "f"}, tt.args...)...)
			info := infoOfFeed(t, home, "f")
			if got := int(info["length"].(float64)); got != len(tt.wantBlocks) {
				t.Fatalf("length %d, want %d", got, len(tt.wantBlocks))
			}
			if got := int(info["byte_length"].(float64)); got != len(tt.in) {
				t.Errorf("byte_length %d, want %d", got, len(tt.in))
			}
			off := 0
			for i, size := range tt.wantBlocks {
				got := must(t, nil, "--home", home, "get", "f", fmt.Sprint(i))
				if want := string(tt.in[off : off+size]); got != want {
					t.Errorf("block %d: %d bytes, want %d", i, len(got), len(want))
				}
				off += size
			}
			if got := must(t, nil, "--home", home, "cat", "f"); got != string(tt.in) {
				t.Errorf("cat: %d bytes differ from the %d appended", len(got), len(tt.in))
			}
		})
	}
}

func TestSession(t *testing.T) {
	home := t.TempDir()
	key := newFeed(t, home, "log")
	in := testInput(150 << 10)
	must(t, in, "append", "log", "--home", home)

	// Files, "-" for stdin, and the key and a path as FEED.
	file := filepath.Join(t.TempDir(), "more")
	if err := os.WriteFile(file, []byte("file"), 0o644); err != nil {
		t.Fatal(err)
	}
	must(t, []byte("stdin"), "--home", home, "append", key, file, "-")
	all := string(in) + "file" + "stdin"
	dir := filepath.Join(home, "feeds", key)
	if got := must(t, nil, "cat", dir); got != all {
		t.Errorf("cat by path: %d bytes, want %d", len(got), len(all))
	}
	if got := must(t, nil, "--home", home, "cat", "log", "--start", "3"); got != "filestdin" {
		t.Errorf("cat --start 3 = %q", got)
	}
	if got := must(t, nil, "--home", home, "cat", "log", "--start", "1", "--end", "2"); got != string(in[64<<10:128<<10]) {
		t.Errorf("cat --start 1 --end 2: %d bytes", len(got))
	}

	info := infoOfFeed(t, home, "log")
	want := map[string]any{
		"name": "log", "key": key, "length": 5.0, "byte_length": float64(len(all)),
		"downloaded": 5.0, "writable": true, "path": dir,
	}
	for k, v := range want {
		if info[k] != v {
			t.Errorf("info[%q] = %v, want %v", k, info[k], v)
		}
	}
	if dk, _ := info["discovery_key"].(string); len(dk) != 64 || dk == key {
		t.Errorf("discovery_key = %q", info["discovery_key"])
	}
	text := must(t, nil, "--home", home, "info", "log")
	for _, line := range []string{"key:", key, "length:", "byte_length:", "writable:", "true"} {
		if !strings.Contains(text, line) {
			t.Errorf("info text lacks %q:\n%s", line, text)
		}
	}

	key2 := newFeed(t, home, "other")
	list := must(t, nil, "list", "--home", home)
	wantList := fmt.Sprintf("log    5  %d  writable\nother  0  0       writable\n", len(all))
	if list != wantList {
		t.Errorf("list:\n%s\nwant:\n%s", list, wantList)
	}
	var infos []map[string]any
	if err := json.Unmarshal([]byte(must(t, nil, "--home", home, "list", "--json")), &infos); err != nil {
		t.Fatal(err)
	}
	if len(infos) != 2 || infos[0]["key"] != key || infos[1]["key"] != key2 || infos[1]["name"] != "other" {
		t.Errorf("list --json = %v", infos)
	}

	if got := must(t, nil, "--home", home, "audit", "log"); got != "valid 5 invalid 0\n" {
		t.Errorf("audit = %q", got)
	}
	data := filepath.Join(dir, "data")
	b, err := os.ReadFile(data)
	if err != nil {
		t.Fatal(err)
	}
	b[70000] ^= 1 // in block 1
	if err := os.WriteFile(data, b, 0o644); err != nil {
		t.Fatal(err)
	}
	r := wantCode(t, 1, nil, "--home", home, "audit", "log")
	if r.stdout != "valid 4 invalid 1\n" {
		t.Errorf("audit after the flip = %q", r.stdout)
	}
	// The bad block is forgotten: audit is clean, the block is missing.
	if got := must(t, nil, "--home", home, "audit", "log"); got != "valid 4 invalid 0\n" {
		t.Errorf("second audit = %q", got)
	}
	wantCode(t, 1, nil, "--home", home, "get", "log", "1")
}

func TestImport(t *testing.T) {
	src := t.TempDir()
	key := newFeed(t, src, "orig")
	must(t, []byte("a\nb\n"), "--home", src, "append", "orig", "--lines")
	srcDir := filepath.Join(src, "feeds", key)

	home := t.TempDir()
	if got := must(t, nil, "--home", home, "import", srcDir, "--name", "copy"); got != key+"\n" {
		t.Fatalf("import printed %q, want the key", got)
	}
	if got := must(t, nil, "--home", home, "cat", "copy"); got != "a\nb\n" {
		t.Errorf("cat of the import = %q", got)
	}
	st, err := os.Stat(filepath.Join(home, "feeds", key, "secret_key"))
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o600 {
		t.Errorf("secret_key mode %v, want 0600", st.Mode().Perm())
	}
	info := infoOfFeed(t, home, key)
	if info["writable"] != true || info["name"] != "copy" || info["length"] != 2.0 {
		t.Errorf("info of the import = %v", info)
	}
	// The copy is independent and still writable.
	must(t, []byte("c"), "--home", home, "append", "copy")
	wantCode(t, 1, nil, "--home", home, "import", srcDir)
	wantCode(t, 1, nil, "--home", home, "import", t.TempDir())
}

func TestErrors(t *testing.T) {
	home := t.TempDir()
	newFeed(t, home, "taken")
	h := []string{"--home", home}
	tests := []struct {
		name string
		code int
		args []string
	}{
		{"no command", exitUsage, nil},
		{"unknown command", exitUsage, []string{"frobnicate"}},
		{"unknown global flag", exitUsage, []string{"--nope", "list"}},
		{"unknown flag", exitUsage, append(h, "list", "--nope")},
		{"create without name", exitUsage, append(h, "create")},
		{"create two names", exitUsage, append(h, "create", "a", "b")},
		{"get without index", exitUsage, append(h, "get", "taken")},
		{"get bad index", exitUsage, append(h, "get", "taken", "x")},
		{"block size zero", exitUsage, append(h, "append", "taken", "--block-size", "0")},
		{"block size too big", exitUsage, append(h, "append", "taken", "--block-size", "8388609")},
		{"lines and block size", exitUsage, append(h, "append", "taken", "--lines", "--block-size", "4")},
		{"duplicate name", exitError, append(h, "create", "taken")},
		{"unknown name", exitError, append(h, "info", "nope")},
		{"unknown key", exitError, append(h, "cat", strings.Repeat("ab", 32))},
		{"unknown path", exitError, append(h, "audit", "./nope")},
		{"get past the end", exitError, append(h, "get", "taken", "0")},
		{"cat past the end", exitError, append(h, "cat", "taken", "--end", "1")},
		{"missing file", exitError, append(h, "append", "taken", "/nonexistent/file")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { wantCode(t, tt.code, nil, tt.args...) })
	}
	for _, name := range []string{"", "a/b", ".", "..", strings.Repeat("n", 256), strings.Repeat("0f", 32)} {
		r := hyperfs(t, nil, "--home", home, "create", name)
		if r.code != exitUsage || !strings.Contains(r.stderr, "hyperfs: ") {
			t.Errorf("create %q: exit %d, stderr %q; want exit 2 and a message", name, r.code, r.stderr)
		}
	}
	must(t, nil, "--home", home, "create", strings.Repeat("n", 255))
	if entries, _ := os.ReadDir(filepath.Join(home, "feeds")); len(entries) != 2 {
		t.Errorf("%d feeds in the home, want 2 (the refused creates made some)", len(entries))
	}
}

func TestHomeResolution(t *testing.T) {
	home := t.TempDir()
	cmd := exec.Command(hyperfsBin, "create", "x")
	cmd.Env = append(os.Environ(), "HYPERFS_HOME=", "XDG_DATA_HOME="+home)
	if out, err := cmd.Output(); err != nil || !keyRE.Match(out) {
		t.Fatalf("create with XDG_DATA_HOME: %v %q", err, out)
	}
	if _, err := os.Stat(filepath.Join(home, "hyperfs", "index")); err != nil {
		t.Errorf("XDG_DATA_HOME/hyperfs not used: %v", err)
	}
	cmd = exec.Command(hyperfsBin, "info", "x")
	cmd.Env = append(os.Environ(), "HYPERFS_HOME="+filepath.Join(home, "hyperfs"))
	if err := cmd.Run(); err != nil {
		t.Errorf("info with HYPERFS_HOME: %v", err)
	}
	// An empty or missing home lists nothing and succeeds.
	absent := filepath.Join(home, "absent")
	if got := must(t, nil, "--home", absent, "list"); got != "" {
		t.Errorf("list of a missing home = %q", got)
	}
	if exists(absent) {
		t.Errorf("list created the missing home %s", absent)
	}
}

func TestHelpAndVersion(t *testing.T) {
	for _, args := range [][]string{{"-h"}, {"--help"}, {"help"}} {
		if got := must(t, nil, args...); got != usage {
			t.Errorf("hyperfs %q printed\n%s\nwant the usage text", args, got)
		}
	}
	if got := must(t, nil, "help", "append"); !strings.Contains(got, "-block-size") {
		t.Errorf("help append = %q", got)
	}
	if got := must(t, nil, "cat", "-h"); !strings.HasPrefix(got, "usage: hyperfs cat") {
		t.Errorf("cat -h = %q", got)
	}
	r := wantCode(t, exitUsage, nil, "nope")
	if !strings.Contains(r.stderr, usage) {
		t.Errorf("unknown command: stderr lacks the usage:\n%s", r.stderr)
	}
	if got := must(t, nil, "version"); !strings.HasPrefix(got, "hyperfs ") {
		t.Errorf("version = %q", got)
	}
}

// TestREADMEUsage keeps the README's usage block equal to `hyperfs -h`.
func TestREADMEUsage(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("..", "..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	readme := string(b)
	_, rest, ok := strings.Cut(readme, "<!-- usage -->\n")
	block, _, ok2 := strings.Cut(rest, "<!-- /usage -->")
	if !ok || !ok2 {
		t.Fatal("README.md lacks the <!-- usage --> ... <!-- /usage --> block")
	}
	block = strings.TrimPrefix(block, "```\n")
	block = strings.TrimSuffix(block, "```\n")
	if got := must(t, nil, "-h"); block != got {
		t.Errorf("README usage block differs from `hyperfs -h`; replace it with:\n%s", got)
	}
}

// Creates racing in separate processes all keep their names.
func TestConcurrentCreate(t *testing.T) {
	home := t.TempDir()
	const n = 8
	keys := make([]string, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			cmd := exec.Command(hyperfsBin, "--home", home, "create", fmt.Sprintf("feed-%d", i))
			out, err := cmd.Output()
			if err == nil {
				keys[i] = strings.TrimSpace(string(out))
			}
		})
	}
	wg.Wait()
	out := must(t, nil, "--home", home, "list", "--json")
	for i, key := range keys {
		if key == "" {
			t.Fatalf("create feed-%d failed", i)
		}
		if !strings.Contains(out, fmt.Sprintf("feed-%d", i)) || !strings.Contains(out, key) {
			t.Fatalf("list lost feed-%d (%s):\n%s", i, key, out)
		}
	}
}

// listJSON runs list --json and returns the feeds by name (key when
// unnamed).
func listJSON(t *testing.T, home string) map[string]feedInfo {
	t.Helper()
	var infos []feedInfo
	out := must(t, nil, "--home", home, "list", "--json")
	if err := json.Unmarshal([]byte(out), &infos); err != nil {
		t.Fatalf("list --json: %v\n%s", err, out)
	}
	m := map[string]feedInfo{}
	for _, info := range infos {
		m[label(info)] = info
	}
	return m
}

// Deleting HOME/index loses nothing: the next command rebuilds the
// registry, names included, from the feed directories.
func TestRebuildAfterIndexDeleted(t *testing.T) {
	home := t.TempDir()
	one := newFeed(t, home, "one")
	two := newFeed(t, home, "two")
	must(t, []byte("a\nbb\n"), "--home", home, "append", "one", "--lines")
	if b, err := os.ReadFile(filepath.Join(home, "feeds", two, "hyperfs.json")); err != nil || !strings.Contains(string(b), `"two"`) {
		t.Fatalf("hyperfs.json of two: %q, %v", b, err)
	}
	if err := os.RemoveAll(filepath.Join(home, "index")); err != nil {
		t.Fatal(err)
	}
	got := listJSON(t, home)
	if len(got) != 2 || got["one"].Key != one || got["two"].Key != two {
		t.Fatalf("list after deleting the index = %+v", got)
	}
	if o := got["one"]; o.Length != 2 || o.ByteLength != 5 || !o.Writable {
		t.Errorf("rebuilt record of one = %+v", o)
	}
	if got := must(t, nil, "--home", home, "cat", "one"); got != "a\nbb\n" {
		t.Errorf("cat one after the rebuild = %q", got)
	}
	wantCode(t, exitError, nil, "--home", home, "create", "two")
}

// A home from before the index keeps its names: names.json is migrated
// into the registry and the feed directories, then set aside.
func TestNamesJSONMigration(t *testing.T) {
	home := t.TempDir()
	a := newFeed(t, home, "a")
	b := newFeed(t, home, "b")
	// Make it an old home: no index, no hyperfs.json, a names.json.
	os.RemoveAll(filepath.Join(home, "index"))
	for _, key := range []string{a, b} {
		os.Remove(filepath.Join(home, "feeds", key, "hyperfs.json"))
	}
	names := fmt.Sprintf(`{"old-a": %q, "old-b": %q, "ghost": %q}`, a, b, strings.Repeat("cd", 32))
	if err := os.WriteFile(filepath.Join(home, "names.json"), []byte(names), 0o644); err != nil {
		t.Fatal(err)
	}
	got := listJSON(t, home)
	if len(got) != 2 || got["old-a"].Key != a || got["old-b"].Key != b {
		t.Fatalf("list after migration = %+v", got)
	}
	if exists(filepath.Join(home, "names.json")) || !exists(filepath.Join(home, "names.json.migrated")) {
		t.Error("names.json was not renamed names.json.migrated")
	}
	// The names are in the feed directories too: they survive another
	// deletion of the index.
	os.RemoveAll(filepath.Join(home, "index"))
	if got := listJSON(t, home); got["old-a"].Key != a || got["old-b"].Key != b {
		t.Errorf("list after migration and rebuild = %+v", got)
	}
}

// Reading commands work when the index cannot be opened, and say so once.
func TestIndexUnavailable(t *testing.T) {
	home := t.TempDir()
	key := newFeed(t, home, "f")
	must(t, []byte("data"), "--home", home, "append", "f")
	idx := filepath.Join(home, "index")
	if err := os.RemoveAll(idx); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(idx, nil, 0o644); err != nil { // not a directory: Open fails
		t.Fatal(err)
	}
	r := wantCode(t, exitOK, nil, "--home", home, "list")
	if r.stdout != "f  1  4  writable\n" {
		t.Errorf("list without the index = %q", r.stdout)
	}
	if n := strings.Count(r.stderr, "index unavailable"); n != 1 {
		t.Errorf("list without the index logged %d times:\n%s", n, r.stderr)
	}
	for _, args := range [][]string{{"cat", "f"}, {"get", key, "0"}} {
		r := wantCode(t, exitOK, nil, append([]string{"--home", home}, args...)...)
		if r.stdout != "data" || strings.Count(r.stderr, "index unavailable") != 1 {
			t.Errorf("%q without the index: stdout %q, stderr:\n%s", args, r.stdout, r.stderr)
		}
	}
	if info := infoOfFeed(t, home, "f"); info["name"] != "f" || info["length"] != 1.0 {
		t.Errorf("info without the index = %v", info)
	}
	wantCode(t, exitError, nil, "--home", home, "create", "g")
}

// registerFakes registers n feeds straight into the index of home, with
// no feed directories: list must not need them.
func registerFakes(tb testing.TB, home string, n int) {
	tb.Helper()
	db, err := index.Open(filepath.Join(home, "index"), index.Options{})
	if err != nil {
		tb.Fatal(err)
	}
	recs := make([]index.Feed, n)
	for i := range recs {
		recs[i].Key = sha256.Sum256(fmt.Appendf(nil, "feed %d", i))
		recs[i].Name = fmt.Sprintf("feed-%05d", i)
		recs[i].Writable = i%2 == 0
		recs[i].Length, recs[i].ByteLength, recs[i].Downloaded = uint64(i), uint64(i)<<16, uint64(i)
	}
	if _, err := db.PutAll(recs); err != nil {
		tb.Fatal(err)
	}
	if err := db.Close(); err != nil {
		tb.Fatal(err)
	}
}

// list prints from the registry alone, without opening feed directories.
func TestListFromRegistry(t *testing.T) {
	home := t.TempDir()
	registerFakes(t, home, 3)
	want := "feed-00000  0  0       writable\nfeed-00001  1  65536   replica\nfeed-00002  2  131072  writable\n"
	if got := must(t, nil, "--home", home, "list"); got != want {
		t.Errorf("list:\n%s\nwant:\n%s", got, want)
	}
}

// BenchmarkListCommand runs `hyperfs list` (the built hyperfsBin, process
// start included) on a home of 10 000 registered feeds.
func BenchmarkListCommand(b *testing.B) {
	for _, n := range []int{10_000} {
		home := b.TempDir()
		registerFakes(b, home, n)
		for _, args := range [][]string{{"list"}, {"list", "--json"}} {
			b.Run(fmt.Sprintf("feeds=%d/%s", n, strings.Join(args, "")), func(b *testing.B) {
				for b.Loop() {
					cmd := exec.Command(hyperfsBin, append([]string{"--home", home}, args...)...)
					cmd.Stdout = io.Discard
					var errb bytes.Buffer
					cmd.Stderr = &errb
					if err := cmd.Run(); err != nil {
						b.Fatalf("hyperfs %q: %v\n%s", args, err, errb.String())
					}
				}
			})
		}
	}
}

// A home whose index has the per-block offset tables of earlier versions
// is converted by the first command: the old tables go, the feed indexes
// itself again, and nothing falls back to reading without the index.
func TestOldIndexConverted(t *testing.T) {
	home := t.TempDir()
	key := newFeed(t, home, "f")
	must(t, []byte("data"), "--home", home, "append", "f")
	old := append(append([]byte{'b'}, make([]byte, 32)...), make([]byte, 8)...)
	db, err := pebble.Open(filepath.Join(home, "index"), &pebble.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Set(old, make([]byte, 16), pebble.Sync); err != nil {
		t.Fatal(err)
	}
	db.Close()

	for _, args := range [][]string{{"cat", "f"}, {"get", key, "0"}} {
		r := wantCode(t, exitOK, nil, append([]string{"--home", home}, args...)...)
		if r.stdout != "data" || strings.Contains(r.stderr, "index unavailable") {
			t.Errorf("%q on an old index: stdout %q, stderr:\n%s", args, r.stdout, r.stderr)
		}
	}
	if db, err = pebble.Open(filepath.Join(home, "index"), &pebble.Options{}); err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, closer, err := db.Get(old); err == nil {
		closer.Close()
		t.Error("the old offset entry is still there after a command")
	} else if !errors.Is(err, pebble.ErrNotFound) {
		t.Errorf("old offset entry after a command: %v, want not found", err)
	}
}

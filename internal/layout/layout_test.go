package layout

import (
	"bytes"
	"encoding/json"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

const module = "github.com/hyperfs/hyperfs"

// pkg is what `go list -json` says about one of our packages, tests not
// counted.
type pkg struct {
	ImportPath string
	Dir        string
	Imports    []string // direct
	Deps       []string // transitive
}

// rel is the package path inside the module: "feed", "cmd/hyperfs".
func (p pkg) rel() string { return strings.TrimPrefix(strings.TrimPrefix(p.ImportPath, module), "/") }

func listPackages(t *testing.T) []pkg {
	t.Helper()
	out, err := exec.Command("go", "list", "-json", module+"/...").Output()
	if err != nil {
		var stderr []byte
		if ee, ok := err.(*exec.ExitError); ok {
			stderr = ee.Stderr
		}
		t.Fatalf("go list: %v\n%s", err, stderr)
	}
	var pkgs []pkg
	dec := json.NewDecoder(bytes.NewReader(out))
	for dec.More() {
		var p pkg
		if err := dec.Decode(&p); err != nil {
			t.Fatalf("decode go list output: %v", err)
		}
		pkgs = append(pkgs, p)
	}
	if len(pkgs) == 0 {
		t.Fatal("go list found no packages")
	}
	return pkgs
}

// ours returns the module packages among paths, relative to the module.
func ours(paths []string) []string {
	var r []string
	for _, p := range paths {
		if p == module || strings.HasPrefix(p, module+"/") {
			r = append(r, strings.TrimPrefix(strings.TrimPrefix(p, module), "/"))
		}
	}
	return r
}

// allowedDeps lists, for the engine packages, which of our packages each
// may depend on (transitively). Packages not listed are unrestricted here.
var allowedDeps = map[string][]string{
	"tree":   {},
	"index":  {"tree"},
	"feed":   {"tree", "index"},
	"peer":   {"feed", "tree", "index"},
	"fusefs": {"feed", "tree", "index"},
}

func TestDependencyDirection(t *testing.T) {
	for _, p := range listPackages(t) {
		top := topDir(p.rel())
		allowed, ok := allowedDeps[top]
		if !ok {
			continue
		}
		for _, d := range ours(p.Deps) {
			if dt := topDir(d); dt != top && !slices.Contains(allowed, dt) {
				t.Errorf("%s depends on %s; it may depend only on %v", p.rel(), d, allowed)
			}
		}
	}
}

// topDir is the first path element of a module-relative package path:
// the engine packages' rules cover the packages below them too, so
// peer/wire is held to peer's rules.
func topDir(rel string) string {
	top, _, _ := strings.Cut(rel, "/")
	return top
}

// restricted lists import paths (and, unless exact, the paths below
// them) with the packages allowed to use them. direct says whether only
// direct imports count: net is imported by much of the standard library.
var restricted = []struct {
	path    string
	direct  bool
	exact   bool
	allowed []string
}{
	{"github.com/hanwen/go-fuse", false, false, []string{"fusefs", "cmd/hyperfs"}},
	{"net", true, true, []string{"peer", "cmd/hyperfs"}},
	{"github.com/flynn/noise", true, false, []string{"peer", "cmd/hyperfs"}},
	{module + "/internal/testvectors", false, false, []string{"internal/testvectors"}},
}

func TestRestrictedImports(t *testing.T) {
	for _, p := range listPackages(t) {
		for _, r := range restricted {
			if slices.Contains(r.allowed, p.rel()) || slices.Contains(r.allowed, topDir(p.rel())) {
				continue
			}
			paths := p.Deps
			if r.direct {
				paths = p.Imports
			}
			for _, imp := range paths {
				if imp == r.path || !r.exact && strings.HasPrefix(imp, r.path+"/") {
					t.Errorf("%s imports %s; only %v may", p.rel(), imp, r.allowed)
				}
			}
		}
	}
}

// TestNoPanics checks that no non-test Go file outside cmd/ calls panic
// or log.Fatal: engine code returns errors.
func TestNoPanics(t *testing.T) {
	root := moduleRoot(t)
	checked := 0
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, path)
		if d.IsDir() {
			name := d.Name()
			if rel == "cmd" || name == "node_modules" || name == "testdata" || (strings.HasPrefix(name, ".") && rel != ".") {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		checked++
		for i, line := range strings.Split(string(b), "\n") {
			if strings.Contains(line, "panic(") || strings.Contains(line, "log.Fatal") {
				t.Errorf("%s:%d: %s (return an error instead)", rel, i+1, strings.TrimSpace(line))
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if checked == 0 {
		t.Fatal("no Go files checked")
	}
}

func moduleRoot(t *testing.T) string {
	t.Helper()
	out, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		t.Fatalf("go env GOMOD: %v", err)
	}
	gomod := strings.TrimSpace(string(out))
	if gomod == "" || gomod == os.DevNull {
		t.Fatal("not inside the module")
	}
	return filepath.Dir(gomod)
}

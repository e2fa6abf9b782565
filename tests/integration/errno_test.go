package integration

import (
	"encoding/json"
	"os/exec"
	"path/filepath"
	"slices"
	"testing"
)

// errnoScript runs every operation of TESTING.md section 2 on a feed
// directory (argv[1], a writable feed with at least one block) and a
// replica's (argv[2]) and prints {case: "OK" or the errno name}.
const errnoScript = `
import errno, fcntl, json, mmap, os, sys
feed, rep = sys.argv[1], sys.argv[2]
data = os.path.join(feed, "data")
res = {}

def case(name, fn):
    try:
        fn()
        res[name] = "OK"
    except OSError as e:
        res[name] = errno.errorcode.get(e.errno, str(e.errno))

def opener(path, flags):
    def f():
        os.close(os.open(path, flags, 0o644))
    return f

size = lambda: os.stat(data).st_size

case("open O_WRONLY", opener(data, os.O_WRONLY))
case("open O_RDWR", opener(data, os.O_RDWR))
case("open O_WRONLY|O_APPEND|O_TRUNC", opener(data, os.O_WRONLY | os.O_APPEND | os.O_TRUNC))
case("open O_RDONLY|O_TRUNC", opener(data, os.O_RDONLY | os.O_TRUNC))
case("truncate 0", lambda: os.truncate(data, 0))
case("truncate size", lambda: os.truncate(data, size()))
case("unlink data", lambda: os.unlink(data))
case("rename data", lambda: os.rename(data, os.path.join(feed, "x")))
case("link data", lambda: os.link(data, os.path.join(feed, "x")))
case("chmod", lambda: os.chmod(data, 0o600))
case("chown", lambda: os.chown(data, 1, 1))
case("utime time", lambda: os.utime(data, (1, 1)))
case("utime NULL", lambda: os.utime(data, None))
case("setxattr", lambda: os.setxattr(data, "user.x", b"1"))
case("removexattr", lambda: os.removexattr(data, "user.hyperfs.key"))
case("setxattr dir", lambda: os.setxattr(feed, "user.x", b"1"))

fd = os.open(data, os.O_WRONLY | os.O_APPEND)
def append():
    before = size()
    assert os.write(fd, b"hello") == 5
    assert size() == before + 5, "size did not grow by 5"
case("append write", append)
def pwrite0():
    before = size()
    os.pwrite(fd, b"again", 0)
    assert size() == before + 5, "pwrite at 0 did not append"
case("pwrite O_APPEND at 0", pwrite0)
case("ftruncate append fd", lambda: os.ftruncate(fd, 0))
case("posix_fallocate append fd", lambda: os.posix_fallocate(fd, 0, 10))
case("mmap PROT_WRITE append fd", lambda: mmap.mmap(fd, 1, mmap.MAP_SHARED, mmap.PROT_WRITE))
case("fsync append fd", lambda: os.fsync(fd))
fcntl.fcntl(fd, fcntl.F_SETFL, 0)
case("pwrite at 0 after F_SETFL", lambda: os.pwrite(fd, b"x", 0))
os.close(fd)

case("create in feed dir", opener(os.path.join(feed, "new"), os.O_WRONLY | os.O_CREAT))
case("mkdir in feed dir", lambda: os.mkdir(os.path.join(feed, "d")))
case("unlink info", lambda: os.unlink(os.path.join(feed, "info")))
case("rename info", lambda: os.rename(os.path.join(feed, "info"), os.path.join(feed, "x")))
case("symlink in feed dir", lambda: os.symlink("data", os.path.join(feed, "s")))
case("unlink blocks/0", lambda: os.unlink(os.path.join(feed, "blocks", "0")))
case("open blocks/0 O_WRONLY|O_APPEND", opener(os.path.join(feed, "blocks", "0"), os.O_WRONLY | os.O_APPEND))
case("open info O_WRONLY", opener(os.path.join(feed, "info"), os.O_WRONLY))
n = len(os.listdir(os.path.join(feed, "blocks")))
for name in ["01", "-1", "1e3", str(n), "x" * 300]:
    case("stat blocks/" + name[:10], lambda: os.stat(os.path.join(feed, "blocks", name)))
case("rmdir feed", lambda: os.rmdir(feed))
case("create in root", opener(os.path.join(feed, "..", "x"), os.O_WRONLY | os.O_CREAT))
case("mkdir existing feed", lambda: os.mkdir(feed))
case("open replica O_WRONLY|O_APPEND", opener(os.path.join(rep, "data"), os.O_WRONLY | os.O_APPEND))
case("read replica", lambda: open(os.path.join(rep, "data"), "rb").read())
res["replica mode"] = oct(os.stat(os.path.join(rep, "data")).st_mode & 0o777)
print(json.dumps(res))
`

func TestErrnoTable(t *testing.T) {
	if _, err := exec.LookPath("python3"); err != nil {
		t.Fatalf("python3 is needed: %v", err)
	}
	h := newHome(t)
	h.run(nil, "create", "w")
	h.run([]byte("a\nb\n"), "append", "w", "--lines")
	// A replica: a copy of another home's feed without its secret key.
	other := newHome(t)
	other.run(nil, "create", "src")
	other.run([]byte("r\n"), "append", "src", "--lines")
	var info struct{ Path string }
	if err := json.Unmarshal([]byte(other.run(nil, "info", "src", "--json")), &info); err != nil {
		t.Fatal(err)
	}
	repDir := filepath.Join(t.TempDir(), "rep")
	sh(t, "cp -r "+info.Path+" "+repDir+" && rm "+repDir+"/secret_key")
	h.run(nil, "import", repDir, "--name", "rep")

	m := h.mount()
	out := sh(t, "python3 -c '"+errnoScript+"' "+m.path("w")+" "+m.path("rep"))
	var got map[string]string
	if err := json.Unmarshal([]byte(out), &got); err != nil {
		t.Fatalf("script output: %v\n%s", err, out)
	}
	want := map[string]string{
		"open O_WRONLY":                   "EPERM",
		"open O_RDWR":                     "EPERM",
		"open O_WRONLY|O_APPEND|O_TRUNC":  "EPERM",
		"open O_RDONLY|O_TRUNC":           "EPERM",
		"truncate 0":                      "EPERM",
		"truncate size":                   "EPERM",
		"unlink data":                     "EPERM",
		"rename data":                     "EPERM",
		"link data":                       "EPERM",
		"chmod":                           "EPERM",
		"chown":                           "EPERM",
		"utime time":                      "EPERM",
		"utime NULL":                      "OK",
		"setxattr":                        "EPERM",
		"removexattr":                     "EPERM",
		"setxattr dir":                    "EPERM",
		"append write":                    "OK",
		"pwrite O_APPEND at 0":            "OK",
		"ftruncate append fd":             "EPERM",
		"posix_fallocate append fd":       "EBADF",
		"mmap PROT_WRITE append fd":       "EACCES",
		"fsync append fd":                 "OK",
		"pwrite at 0 after F_SETFL":       "EPERM",
		"create in feed dir":              "EPERM",
		"mkdir in feed dir":               "EPERM",
		"unlink info":                     "EPERM",
		"rename info":                     "EPERM",
		"symlink in feed dir":             "EPERM",
		"unlink blocks/0":                 "EPERM",
		"open blocks/0 O_WRONLY|O_APPEND": "EPERM",
		"open info O_WRONLY":              "EPERM",
		"stat blocks/01":                  "ENOENT",
		"stat blocks/-1":                  "ENOENT",
		"stat blocks/1e3":                 "ENOENT",
		"stat blocks/4":                   "ENOENT", // == length after the two appends
		"stat blocks/xxxxxxxxxx":          "ENAMETOOLONG",
		"rmdir feed":                      "EPERM",
		"create in root":                  "EPERM",
		"mkdir existing feed":             "EEXIST",
		"open replica O_WRONLY|O_APPEND":  "EPERM",
		"read replica":                    "OK",
		"replica mode":                    "0o444",
	}
	var keys []string
	for k := range want {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		if got[k] != want[k] {
			t.Errorf("%-34s %s, want %s", k, got[k], want[k])
		}
	}
	for k := range got {
		if _, ok := want[k]; !ok {
			t.Errorf("unexpected case %q: %s", k, got[k])
		}
	}
	if t.Failed() {
		t.Logf("script output: %s", out)
	}
}

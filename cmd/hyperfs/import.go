package main

import (
	"crypto/ed25519"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/hyperfs/hyperfs/index"
)

// feedFiles are the files of a hypercore 9 directory; others are ignored.
var feedFiles = []string{"key", "secret_key", "signatures", "tree", "data", "bitfield"}

// runImport copies an existing hypercore 9 directory into HOME/feeds/KEY
// and registers it. The index is not held during the copy: the name is
// checked before it, and taken for good after it.
func runImport(c *cli, cmd *command, args []string) error {
	flags := c.flags(cmd)
	name := flags.String("name", "", "register the feed under `NAME`")
	pos, err := c.parse(cmd, flags, args, 1, 1)
	if err != nil {
		return err
	}
	src := c.path(pos[0])
	h, err := c.home()
	if err != nil {
		return err
	}
	key, err := readKey(src)
	if err != nil {
		return fmt.Errorf("import: %w", err)
	}
	var k32 [32]byte
	copy(k32[:], key)
	if *name != "" {
		if err := index.ValidName(*name, k32); err != nil {
			return usagef(cmd, "import: %v", err)
		}
		if err := c.withIndex(h, func(db *index.DB) error { return nameFree(db, *name) }); err != nil {
			return fmt.Errorf("import: %w", err)
		}
	}
	keyHex := hex.EncodeToString(key)
	dest := h.feedDir(keyHex)
	if exists(dest) {
		return fmt.Errorf("import: feed %s is already in %s", keyHex, h.dir)
	}
	if _, err := validate(c, src, key); err != nil {
		return fmt.Errorf("import: %w", err)
	}
	rec, err := copyFeed(c, src, h, key, dest, *name)
	if err != nil {
		return fmt.Errorf("import %s: %w", src, err)
	}
	if err := c.withIndex(h, func(db *index.DB) error { return registerImport(db, rec, dest) }); err != nil {
		return fmt.Errorf("import: feed %s copied, but registering it failed: %w", keyHex, err)
	}
	fmt.Fprintln(c.stdout, keyHex)
	return nil
}

// registerImport registers an imported feed. If another process took its
// name meanwhile, the feed stays, unnamed, and the error says so.
func registerImport(db *index.DB, rec index.Feed, dir string) error {
	_, err := db.Put(rec)
	if !errors.Is(err, index.ErrNameTaken) {
		return err
	}
	if rerr := writeMeta(dir, meta{}); rerr != nil {
		return errors.Join(err, rerr)
	}
	rec.Name = ""
	if _, rerr := db.Put(rec); rerr != nil {
		return errors.Join(err, rerr)
	}
	return err
}

func readKey(dir string) (ed25519.PublicKey, error) {
	b, err := os.ReadFile(filepath.Join(dir, "key"))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("no hypercore in %s (no key file)", dir)
	}
	if err != nil {
		return nil, err
	}
	if len(b) != ed25519.PublicKeySize {
		return nil, fmt.Errorf("%s: key file holds %d bytes, want %d", dir, len(b), ed25519.PublicKeySize)
	}
	return ed25519.PublicKey(b), nil
}

// validate opens the feed in dir (recovering it as Open does), closes it
// and returns its record.
func validate(c *cli, dir string, key ed25519.PublicKey) (index.Feed, error) {
	opts := openOptions(c)
	opts.Key = key
	f, err := openWith(dir, opts)
	if err != nil {
		return index.Feed{}, err
	}
	rec := recordOf(f)
	if err := f.Close(); err != nil {
		return index.Feed{}, fmt.Errorf("close %s: %w", dir, err)
	}
	return rec, nil
}

// copyFeed copies src's files into a temporary directory under the home,
// holding src's lock, adds a metaFile naming it name, checks the copy
// opens, renames it to dest and returns its record.
func copyFeed(c *cli, src string, h home, key ed25519.PublicKey, dest, name string) (rec index.Feed, err error) {
	lock, err := storageAt(src).Lock()
	if err != nil {
		return rec, fmt.Errorf("lock: %w", err)
	}
	defer lock.Close()
	if err := os.MkdirAll(h.feedsDir(), 0o755); err != nil {
		return rec, err
	}
	tmp, err := os.MkdirTemp(h.feedsDir(), ".import-")
	if err != nil {
		return rec, err
	}
	defer func() {
		if err != nil {
			os.RemoveAll(tmp)
		}
	}()
	if err := os.Chmod(tmp, 0o755); err != nil {
		return rec, err
	}
	for _, name := range feedFiles {
		if err := copyFile(filepath.Join(src, name), filepath.Join(tmp, name), fileMode(name)); err != nil {
			return rec, err
		}
	}
	if name != "" {
		if err := writeMeta(tmp, meta{Name: name}); err != nil {
			return rec, err
		}
	}
	if err := syncDir(tmp); err != nil {
		return rec, err
	}
	if rec, err = validate(c, tmp, key); err != nil {
		return rec, fmt.Errorf("check the copy: %w", err)
	}
	rec.Name = name
	if err := os.Rename(tmp, dest); err != nil {
		return rec, err
	}
	return rec, syncDir(h.feedsDir())
}

func fileMode(name string) fs.FileMode {
	if name == "secret_key" {
		return 0o600
	}
	return 0o644
}

// copyFile copies and fsyncs src to dst with mode; a missing src is skipped.
func copyFile(src, dst string, mode fs.FileMode) (err error) {
	in, err := os.Open(src)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, mode)
	if err != nil {
		return err
	}
	defer func() {
		if cerr := out.Close(); err == nil && cerr != nil {
			err = fmt.Errorf("copy %s: %w", src, cerr)
		}
	}()
	if _, err := io.Copy(out, in); err != nil {
		return fmt.Errorf("copy %s: %w", src, err)
	}
	if err := out.Chmod(mode); err != nil {
		return err
	}
	return out.Sync()
}

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
)

// feedFiles are the files of a hypercore 9 directory; others are ignored.
var feedFiles = []string{"key", "secret_key", "signatures", "tree", "data", "bitfield"}

// runImport copies an existing hypercore 9 directory into HOME/feeds/KEY.
func runImport(c *cli, cmd *command, args []string) error {
	flags := c.flags(cmd)
	name := flags.String("name", "", "register the feed under `NAME`")
	pos, err := c.parse(cmd, flags, args, 1, 1)
	if err != nil {
		return err
	}
	src := pos[0]
	h, err := c.home()
	if err != nil {
		return err
	}
	if *name != "" {
		if err := validName(*name); err != nil {
			return usagef(cmd, "import: %v", err)
		}
		if err := h.checkNameFree(*name); err != nil {
			return fmt.Errorf("import: %w", err)
		}
	}
	key, err := readKey(src)
	if err != nil {
		return fmt.Errorf("import: %w", err)
	}
	keyHex := hex.EncodeToString(key)
	dest := h.feedDir(keyHex)
	if exists(dest) {
		return fmt.Errorf("import: feed %s is already in %s", keyHex, h.dir)
	}
	if err := validate(c, src, key); err != nil {
		return fmt.Errorf("import: %w", err)
	}
	if err := copyFeed(c, src, h, key, dest); err != nil {
		return fmt.Errorf("import %s: %w", src, err)
	}
	if *name != "" {
		if err := h.addName(*name, keyHex); err != nil {
			return fmt.Errorf("import: feed %s copied, but naming it failed: %w", keyHex, err)
		}
	}
	fmt.Fprintln(c.stdout, keyHex)
	return nil
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

// validate opens the feed in dir (recovering it as Open does) and closes it.
func validate(c *cli, dir string, key ed25519.PublicKey) error {
	opts := openOptions(c)
	opts.Key = key
	f, err := openWith(dir, opts)
	if err != nil {
		return err
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("close %s: %w", dir, err)
	}
	return nil
}

// copyFeed copies src's files into a temporary directory under the home,
// holding src's lock, checks the copy opens, and renames it to dest.
func copyFeed(c *cli, src string, h home, key ed25519.PublicKey, dest string) (err error) {
	lock, err := storageAt(src).Lock()
	if err != nil {
		return fmt.Errorf("lock: %w", err)
	}
	defer lock.Close()
	if err := os.MkdirAll(h.feedsDir(), 0o755); err != nil {
		return err
	}
	tmp, err := os.MkdirTemp(h.feedsDir(), ".import-")
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			os.RemoveAll(tmp)
		}
	}()
	if err := os.Chmod(tmp, 0o755); err != nil {
		return err
	}
	for _, name := range feedFiles {
		if err := copyFile(filepath.Join(src, name), filepath.Join(tmp, name), fileMode(name)); err != nil {
			return err
		}
	}
	if err := syncDir(tmp); err != nil {
		return err
	}
	if err := validate(c, tmp, key); err != nil {
		return fmt.Errorf("check the copy: %w", err)
	}
	if err := os.Rename(tmp, dest); err != nil {
		return err
	}
	return syncDir(h.feedsDir())
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

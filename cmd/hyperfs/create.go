package main

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"

	"github.com/hyperfs/hyperfs/feed"
	"github.com/hyperfs/hyperfs/index"
)

// runCreate makes a writable feed in HOME/feeds/KEY and names it. It holds
// the index from the name check to the registration, so that two creates
// cannot take one name; a feed that cannot be registered is removed again.
func runCreate(c *cli, cmd *command, args []string) (err error) {
	fs := c.flags(cmd)
	pos, err := c.parse(cmd, fs, args, 1, 1)
	if err != nil {
		return err
	}
	h, err := c.home()
	if err != nil {
		return err
	}
	keyHex, err := c.createNamed(h, pos[0])
	switch {
	case errors.Is(err, index.ErrBadName):
		return usagef(cmd, "create: %v", err)
	case err != nil:
		return fmt.Errorf("create: %w", err)
	}
	fmt.Fprintln(c.stdout, keyHex)
	return nil
}

// createNamed makes a writable feed in HOME/feeds/KEY and names it; the
// command and mkdir in a mount both use it. It holds the index from the
// name check to the registration, so that two creates cannot take one
// name; a feed that cannot be registered is removed again. A bad name
// wraps index.ErrBadName.
func (c *cli) createNamed(h home, name string) (keyHex string, err error) {
	pub, sk, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return "", fmt.Errorf("generate key: %w", err)
	}
	key := [32]byte(pub)
	if err := index.ValidName(name, key); err != nil {
		return "", err
	}
	keyHex = hex.EncodeToString(pub)
	err = c.withIndex(h, func(db *index.DB) error {
		if err := nameFree(db, name); err != nil {
			return err
		}
		dir := h.feedDir(keyHex)
		if exists(dir) {
			return fmt.Errorf("%s already exists", dir)
		}
		if err := createFeed(c, dir, sk, name); err != nil {
			os.RemoveAll(dir)
			return err
		}
		if _, err := db.Put(index.Feed{Key: key, Name: name, Writable: true}); err != nil {
			os.RemoveAll(dir)
			return err
		}
		return nil
	})
	return keyHex, err
}

// createFeed makes an empty writable feed in dir with its metaFile.
func createFeed(c *cli, dir string, sk ed25519.PrivateKey, name string) error {
	opts := openOptions(c)
	opts.SecretKey = sk
	f, err := feed.Create(storageAt(dir), opts)
	if err != nil {
		return fmt.Errorf("create feed in %s: %w", dir, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("create feed in %s: close: %w", dir, err)
	}
	return writeMeta(dir, meta{Name: name})
}

// nameFree fails if name belongs to a registered feed.
func nameFree(db *index.DB, name string) error {
	rec, err := db.ByName(name)
	switch {
	case err == nil:
		return fmt.Errorf("%w: %q is feed %x", index.ErrNameTaken, name, rec.Key)
	case errors.Is(err, index.ErrNotFound):
		return nil
	default:
		return err
	}
}

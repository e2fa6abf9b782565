package main

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"

	"github.com/hyperfs/hyperfs/feed"
)

// runCreate makes a writable feed in HOME/feeds/KEY and names it.
func runCreate(c *cli, cmd *command, args []string) (err error) {
	fs := c.flags(cmd)
	pos, err := c.parse(cmd, fs, args, 1, 1)
	if err != nil {
		return err
	}
	name := pos[0]
	if err := validName(name); err != nil {
		return usagef(cmd, "create: %v", err)
	}
	h, err := c.home()
	if err != nil {
		return err
	}
	if err := h.checkNameFree(name); err != nil {
		return fmt.Errorf("create: %w", err)
	}
	pub, sk, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return fmt.Errorf("create: generate key: %w", err)
	}
	key := hex.EncodeToString(pub)
	dir := h.feedDir(key)
	if exists(dir) {
		return fmt.Errorf("create: %s already exists", dir)
	}
	opts := openOptions(c)
	opts.SecretKey = sk
	f, err := feed.Create(storageAt(dir), opts)
	if err != nil {
		os.RemoveAll(dir)
		return fmt.Errorf("create feed in %s: %w", dir, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("create feed in %s: close: %w", dir, err)
	}
	if err := h.addName(name, key); err != nil {
		return fmt.Errorf("create: feed %s made, but naming it failed: %w", key, err)
	}
	fmt.Fprintln(c.stdout, key)
	return nil
}

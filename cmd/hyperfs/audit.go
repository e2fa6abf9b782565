package main

import (
	"context"
	"fmt"
	"strings"
)

// runAudit re-hashes every stored block; invalid ones are forgotten (they
// read as missing) and make the exit status 1.
func runAudit(c *cli, cmd *command, args []string) (err error) {
	fs := c.flags(cmd)
	pos, err := c.parse(cmd, fs, args, 1, 1)
	if err != nil {
		return err
	}
	f, t, err := c.openFeed(pos[0])
	if err != nil {
		return err
	}
	defer c.release(f, &err)
	res, err := f.Audit(context.Background())
	if err != nil {
		return fmt.Errorf("audit: %w", err)
	}
	c.noteFeed(f, t) // forgotten blocks change what is downloaded
	fmt.Fprintf(c.stdout, "valid %d invalid %d\n", res.Valid, res.Invalid)
	if res.Invalid > 0 {
		return fmt.Errorf("audit: %d invalid (blocks %s); they now read as missing", res.Invalid, preview(res.Bad))
	}
	return nil
}

// preview shortens a long list of block numbers for a message.
func preview(bad []uint64) string {
	const show = 10
	if len(bad) <= show {
		return strings.Trim(fmt.Sprint(bad), "[]")
	}
	return fmt.Sprintf("%s and %d more", strings.Trim(fmt.Sprint(bad[:show]), "[]"), len(bad)-show)
}

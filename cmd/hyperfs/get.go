package main

import (
	"fmt"
	"strconv"
)

// runGet writes one block, raw, to stdout.
func runGet(c *cli, cmd *command, args []string) (err error) {
	fs := c.flags(cmd)
	pos, err := c.parse(cmd, fs, args, 2, 2)
	if err != nil {
		return err
	}
	i, err := strconv.ParseUint(pos[1], 10, 64)
	if err != nil {
		return usagef(cmd, "get: INDEX %q is not a block number", pos[1])
	}
	f, _, err := c.openFeed(pos[0])
	if err != nil {
		return err
	}
	defer c.release(f, &err)
	// What is stored here only: without a serve, nothing would fetch
	// it, and get must answer the same with one.
	block, err := f.GetLocal(i)
	if err != nil {
		return fmt.Errorf("get: %w", err)
	}
	if _, err := c.stdout.Write(block); err != nil {
		return fmt.Errorf("get: write: %w", err)
	}
	return nil
}

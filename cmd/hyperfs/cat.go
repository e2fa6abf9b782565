package main

import (
	"bufio"
	"context"
	"fmt"
	"strconv"
)

// runCat writes blocks [start, end) to stdout, back to back.
func runCat(c *cli, cmd *command, args []string) (err error) {
	fs := c.flags(cmd)
	start := fs.Uint64("start", 0, "first block `I`")
	endArg := fs.String("end", "", "stop before block `J` (default: the length)")
	pos, err := c.parse(cmd, fs, args, 1, 1)
	if err != nil {
		return err
	}
	f, _, err := c.openFeed(pos[0])
	if err != nil {
		return err
	}
	defer closeFeed(f, &err)
	length := f.Length()
	end := &length
	if *endArg != "" {
		j, err := strconv.ParseUint(*endArg, 10, 64)
		if err != nil {
			return usagef(cmd, "cat: --end %q is not a block number", *endArg)
		}
		end = &j
	}
	switch {
	case *end > length:
		return fmt.Errorf("cat: --end %d is past the length %d", *end, length)
	case *start > *end:
		return usagef(cmd, "cat: --start %d is after --end %d", *start, *end)
	}
	w := bufio.NewWriterSize(c.stdout, 256<<10)
	ctx := context.Background()
	for i := *start; i < *end; i++ {
		block, err := f.Get(ctx, i)
		if err != nil {
			w.Flush()
			return fmt.Errorf("cat: %w", err)
		}
		if _, err := w.Write(block); err != nil {
			return fmt.Errorf("cat: write: %w", err)
		}
	}
	if err := w.Flush(); err != nil {
		return fmt.Errorf("cat: write: %w", err)
	}
	return nil
}

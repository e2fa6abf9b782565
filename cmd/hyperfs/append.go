package main

import (
	"bufio"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"

	"github.com/hyperfs/hyperfs/feed"
)

const (
	defaultBlockSize = 64 << 10
	batchBlocks      = 128     // blocks per Append call, at most
	batchBytes       = 8 << 20 // bytes per Append call, about
)

// runAppend appends files (or stdin) to a writable feed, cut into blocks.
func runAppend(c *cli, cmd *command, args []string) (err error) {
	fs := c.flags(cmd)
	blockSize := fs.Int("block-size", defaultBlockSize, "cut input into blocks of `N` bytes (1..8 MiB)")
	lines := fs.Bool("lines", false, "append one block per line, newline kept")
	pos, err := c.parse(cmd, fs, args, 1, -1)
	if err != nil {
		return err
	}
	sizeSet := false
	fs.Visit(func(fl *flag.Flag) { sizeSet = sizeSet || fl.Name == "block-size" })
	switch {
	case *lines && sizeSet:
		return usagef(cmd, "append: --lines and --block-size exclude each other")
	case *blockSize < 1 || *blockSize > feed.MaxBlockSize:
		return usagef(cmd, "append: --block-size %d is not in 1..%d", *blockSize, feed.MaxBlockSize)
	}
	f, t, err := c.openFeed(pos[0])
	if err != nil {
		return err
	}
	defer c.release(f, &err)
	if !f.Writable() {
		return fmt.Errorf("append: feed %s is a replica, not writable", t.dir)
	}
	defer c.noteFeed(f, t) // before the close: record what was appended, if anything
	// Open every file first, so a typo appends nothing.
	inputs, err := openInputs(c, pos[1:])
	defer func() {
		for _, in := range inputs {
			in.Close()
		}
	}()
	if err != nil {
		return fmt.Errorf("append: %w", err)
	}
	b := &batch{f: f}
	for _, in := range inputs {
		if *lines {
			err = appendLines(b, in)
		} else {
			err = appendChunks(b, in, *blockSize)
		}
		if err != nil {
			b.flush()
			return fmt.Errorf("append %s: %w", in.name, err)
		}
	}
	if err := b.flush(); err != nil {
		return fmt.Errorf("append: %w", err)
	}
	return nil
}

// input is one source of bytes; name is "stdin" or the path.
type input struct {
	io.Reader
	name  string
	close func() error
}

func (in input) Close() error {
	if in.close == nil {
		return nil
	}
	return in.close()
}

func openInputs(c *cli, paths []string) ([]input, error) {
	if len(paths) == 0 {
		return []input{{Reader: c.stdin, name: "stdin"}}, nil
	}
	var ins []input
	for _, p := range paths {
		if p == "-" {
			ins = append(ins, input{Reader: c.stdin, name: "stdin"})
			continue
		}
		file, err := os.Open(c.path(p))
		if pe, ok := err.(*fs.PathError); ok {
			pe.Path = p // as the user wrote it, not the owner's view of it
		}
		if err != nil {
			return ins, err
		}
		ins = append(ins, input{Reader: file, name: p, close: file.Close})
	}
	return ins, nil
}

// appendChunks appends r in blocks of size bytes; the last may be shorter.
func appendChunks(b *batch, r io.Reader, size int) error {
	for {
		buf := make([]byte, size)
		n, err := io.ReadFull(r, buf)
		if n > 0 {
			if ferr := b.add(buf[:n]); ferr != nil {
				return ferr
			}
		}
		switch {
		case err == nil:
		case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
			return nil
		default:
			return err
		}
	}
}

// appendLines appends one block per line, newline included; a last line
// without a newline is a block too.
func appendLines(b *batch, r io.Reader) error {
	br := bufio.NewReaderSize(r, 64<<10)
	for line := 1; ; line++ {
		var block []byte
		for {
			part, err := br.ReadSlice('\n')
			block = append(block, part...)
			if len(block) > feed.MaxBlockSize {
				return fmt.Errorf("line %d is longer than %d bytes", line, feed.MaxBlockSize)
			}
			if errors.Is(err, bufio.ErrBufferFull) {
				continue
			}
			if err != nil && !errors.Is(err, io.EOF) {
				return err
			}
			if len(block) > 0 {
				if ferr := b.add(block); ferr != nil {
					return ferr
				}
			}
			if err != nil { // io.EOF
				return nil
			}
			break
		}
	}
}

// batch collects blocks and appends them in one call per batchBlocks
// blocks or batchBytes bytes.
type batch struct {
	f      *feed.Feed
	blocks [][]byte
	size   int
}

// add takes ownership of block.
func (b *batch) add(block []byte) error {
	b.blocks = append(b.blocks, block)
	b.size += len(block)
	if len(b.blocks) >= batchBlocks || b.size >= batchBytes {
		return b.flush()
	}
	return nil
}

func (b *batch) flush() error {
	if len(b.blocks) == 0 {
		return nil
	}
	err := b.f.Append(b.blocks...)
	b.blocks, b.size = nil, 0
	return err
}

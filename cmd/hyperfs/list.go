package main

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"sort"
	"strings"
	"text/tabwriter"
)

// runList reports every feed in HOME/feeds. A feed that cannot be opened
// is reported on stderr and makes the exit status 1.
func runList(c *cli, cmd *command, args []string) error {
	flags := c.flags(cmd)
	asJSON := flags.Bool("json", false, "print a JSON array of info objects")
	if _, err := c.parse(cmd, flags, args, 0, 0); err != nil {
		return err
	}
	h, err := c.home()
	if err != nil {
		return err
	}
	names, err := h.names()
	if err != nil {
		return err
	}
	entries, err := os.ReadDir(h.feedsDir())
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("list: %w", err)
	}
	infos := []feedInfo{}
	failed := 0
	seen := map[string]bool{}
	for _, e := range entries {
		if !e.IsDir() || !isKeyHex(e.Name()) {
			continue
		}
		key := e.Name()
		seen[key] = true
		info, err := infoOf(c, target{dir: h.feedDir(key), name: nameOf(names, key)})
		if err != nil {
			fmt.Fprintf(c.stderr, "hyperfs: list: %v\n", err)
			failed++
			continue
		}
		infos = append(infos, info)
	}
	for name, key := range names {
		if !seen[strings.ToLower(key)] {
			fmt.Fprintf(c.stderr, "hyperfs: list: name %q points to feed %s, which is not in %s\n", name, key, h.feedsDir())
		}
	}
	sort.Slice(infos, func(i, j int) bool { return label(infos[i]) < label(infos[j]) })
	if *asJSON {
		err = writeJSON(c.stdout, infos)
	} else {
		err = writeTable(c, infos)
	}
	if err != nil {
		return err
	}
	if failed > 0 {
		return fmt.Errorf("list: %d feeds could not be read", failed)
	}
	return nil
}

func infoOf(c *cli, t target) (_ feedInfo, err error) {
	f, err := openDir(c, t.dir)
	if err != nil {
		return feedInfo{}, err
	}
	defer closeFeed(f, &err)
	return describe(f, t), nil
}

// label is a feed's name, or its key when it has none.
func label(info feedInfo) string {
	if info.Name != "" {
		return info.Name
	}
	return info.Key
}

func writeTable(c *cli, infos []feedInfo) error {
	w := tabwriter.NewWriter(c.stdout, 0, 0, 2, ' ', 0)
	for _, info := range infos {
		mode := "replica"
		if info.Writable {
			mode = "writable"
		}
		fmt.Fprintf(w, "%s\t%d\t%d\t%s\n", label(info), info.Length, info.ByteLength, mode)
	}
	if err := w.Flush(); err != nil {
		return fmt.Errorf("list: write: %w", err)
	}
	return nil
}

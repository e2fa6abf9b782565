package main

import (
	"bufio"
	"encoding/hex"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"text/tabwriter"

	"github.com/hyperfs/hyperfs/index"
	"github.com/hyperfs/hyperfs/tree"
)

// runList reports every feed of the home from the registry, one range scan
// of the index, without opening any feed: lengths are those recorded when
// hyperfs last created, imported, appended to or inspected the feed (info
// brings them up to date).
func runList(c *cli, cmd *command, args []string) (err error) {
	flags := c.flags(cmd)
	asJSON := flags.Bool("json", false, "print a JSON array of info objects")
	if _, err := c.parse(cmd, flags, args, 0, 0); err != nil {
		return err
	}
	h, err := c.home()
	if err != nil {
		return err
	}
	var recs []index.Feed
	err = c.withRegistry(h, func(reg registry) (err error) {
		recs, err = reg.List()
		return err
	})
	if err != nil {
		return fmt.Errorf("list: %w", err)
	}
	feeds, err := filepath.Abs(h.feedsDir())
	if err != nil {
		feeds = h.feedsDir()
	}
	infos := make([]feedInfo, len(recs))
	for i, rec := range recs {
		infos[i] = infoOfRecord(rec, feeds, *asJSON)
	}
	// The registry sorts by name with unnamed feeds first; list sorts
	// them by key among the names.
	byLabel := func(a, b feedInfo) int { return strings.Compare(label(a), label(b)) }
	if !slices.IsSortedFunc(infos, byLabel) {
		slices.SortFunc(infos, byLabel)
	}
	if *asJSON {
		return writeJSON(c.stdout, infos)
	}
	return writeTable(c, infos)
}

// infoOfRecord is what list reports of a registered feed; the discovery
// key (a hash) and path only when full is set.
func infoOfRecord(rec index.Feed, feedsDir string, full bool) feedInfo {
	key := hex.EncodeToString(rec.Key[:])
	info := feedInfo{
		Name:       rec.Name,
		Key:        key,
		Length:     rec.Length,
		ByteLength: rec.ByteLength,
		Downloaded: rec.Downloaded,
		Writable:   rec.Writable,
	}
	if full {
		dk := tree.DiscoveryKey(rec.Key[:])
		info.DiscoveryKey = hex.EncodeToString(dk[:])
		info.Path = feedsDir + string(filepath.Separator) + key
	}
	return info
}

// label is a feed's name, or its key when it has none.
func label(info feedInfo) string {
	if info.Name != "" {
		return info.Name
	}
	return info.Key
}

func writeTable(c *cli, infos []feedInfo) error {
	out := bufio.NewWriterSize(c.stdout, 64<<10)
	w := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
	for _, info := range infos {
		mode := "replica"
		if info.Writable {
			mode = "writable"
		}
		fmt.Fprintf(w, "%s\t%d\t%d\t%s\n", label(info), info.Length, info.ByteLength, mode)
	}
	err := w.Flush()
	if err == nil {
		err = out.Flush()
	}
	if err != nil {
		return fmt.Errorf("list: write: %w", err)
	}
	return nil
}

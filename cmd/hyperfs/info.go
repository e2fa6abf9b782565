package main

import (
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"path/filepath"
	"text/tabwriter"

	"github.com/hyperfs/hyperfs/feed"
)

// feedInfo is what info and list report about a feed. The JSON keys are
// part of the CLI's interface.
type feedInfo struct {
	Name         string `json:"name,omitempty"`
	Key          string `json:"key"`
	DiscoveryKey string `json:"discovery_key"`
	Path         string `json:"path"`
	Length       uint64 `json:"length"`
	ByteLength   uint64 `json:"byte_length"`
	Downloaded   uint64 `json:"downloaded"`
	Writable     bool   `json:"writable"`
	// ReadOnly is set when the feed's directory could only be opened
	// for reading (a read-only disk): nothing can be appended.
	ReadOnly bool `json:"read_only,omitempty"`
	// Peers is the number of connected peers replicating the feed: those
	// of the serve or mount owning the home, 0 without one. info only.
	Peers *int `json:"peers,omitempty"`
}

func describe(f *feed.Feed, t target) feedInfo {
	dk := f.DiscoveryKey()
	path, err := filepath.Abs(t.dir)
	if err != nil {
		path = t.dir
	}
	length := f.Length()
	return feedInfo{
		Name:         t.name,
		Key:          keyHex(f),
		DiscoveryKey: hex.EncodeToString(dk[:]),
		Path:         path,
		Length:       length,
		ByteLength:   f.ByteLength(),
		Downloaded:   f.Downloaded(0, length),
		Writable:     f.Writable(),
		ReadOnly:     f.ReadOnly(),
	}
}

// runInfo prints a feed's key, lengths and whether it is writable.
func runInfo(c *cli, cmd *command, args []string) (err error) {
	fs := c.flags(cmd)
	asJSON := fs.Bool("json", false, "print a JSON object")
	pos, err := c.parse(cmd, fs, args, 1, 1)
	if err != nil {
		return err
	}
	f, t, err := c.openFeed(pos[0])
	if err != nil {
		return err
	}
	defer c.release(f, &err)
	info := describe(f, t)
	peers := 0
	if c.own != nil && c.own.holds(f) {
		peers = c.own.sw.Peers(f)
	}
	info.Peers = &peers
	c.noteFeed(f, t)
	if *asJSON {
		return writeJSON(c.stdout, info)
	}
	w := tabwriter.NewWriter(c.stdout, 0, 0, 1, ' ', 0)
	if info.Name != "" {
		fmt.Fprintf(w, "name:\t%s\n", info.Name)
	}
	fmt.Fprintf(w, "key:\t%s\n", info.Key)
	fmt.Fprintf(w, "discovery_key:\t%s\n", info.DiscoveryKey)
	fmt.Fprintf(w, "path:\t%s\n", info.Path)
	fmt.Fprintf(w, "length:\t%d\n", info.Length)
	fmt.Fprintf(w, "byte_length:\t%d\n", info.ByteLength)
	fmt.Fprintf(w, "downloaded:\t%d\n", info.Downloaded)
	fmt.Fprintf(w, "writable:\t%t\n", info.Writable)
	if info.ReadOnly {
		fmt.Fprintf(w, "read_only:\t%t\n", info.ReadOnly)
	}
	fmt.Fprintf(w, "peers:\t%d\n", peers)
	if err := w.Flush(); err != nil {
		return fmt.Errorf("info: write: %w", err)
	}
	return nil
}

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		return fmt.Errorf("write JSON: %w", err)
	}
	return nil
}

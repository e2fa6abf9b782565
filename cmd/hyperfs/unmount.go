package main

import (
	"fmt"

	"github.com/hyperfs/hyperfs/fusefs"
)

// runUnmount unmounts a hyperfs mount; the mount process then syncs and
// closes its feeds and exits 0.
func runUnmount(c *cli, cmd *command, args []string) error {
	fs := c.flags(cmd)
	lazy := fs.Bool("lazy", false, "detach now even if files are open (umount -l)")
	pos, err := c.parse(cmd, fs, args, 1, 1)
	if err != nil {
		return err
	}
	if err := fusefs.Unmount(pos[0], *lazy); err != nil {
		return fmt.Errorf("unmount: %w", err)
	}
	return nil
}

package fusefs

import (
	"fmt"

	"github.com/hanwen/go-fuse/v2/fuse"
	"golang.org/x/sys/unix"
)

// platformOptions are the macFUSE options: a volume name for Finder, and
// no AppleDouble files or Apple xattr probes on every stat.
func platformOptions() []string {
	return []string{"default_permissions", "volname=hyperfs", "noappledouble", "noapplexattr"}
}

// raiseReadahead does nothing on macOS.
func raiseReadahead(dir string) error { return nil }

// Unmount unmounts dir; lazy forces it (MNT_FORCE) as macOS has no lazy
// unmount.
func Unmount(dir string, lazy bool) error {
	flags := 0
	if lazy {
		flags = unix.MNT_FORCE
	}
	if err := unix.Unmount(dir, flags); err != nil {
		return fmt.Errorf("umount %s: %w", dir, err)
	}
	return nil
}

// unmountCommand is what a user runs to clear a stale mount on dir.
func unmountCommand(dir string) string { return "umount -f " + dir }

// backingRegistryOf is nil: macOS has no passthrough.
func backingRegistryOf(s *fuse.Server) backingRegistry { return nil }

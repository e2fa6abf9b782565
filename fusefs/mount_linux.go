package fusefs

import (
	"fmt"
	"os"
	"os/exec"
	"strings"

	"github.com/hanwen/go-fuse/v2/fuse"
	"golang.org/x/sys/unix"
)

// platformOptions are extra mount options. default_permissions makes the
// kernel check modes, so non-root writes to 0444 files are EACCES.
func platformOptions() []string { return []string{"default_permissions"} }

// readAheadKB is the kernel readahead asked for a mount: with MaxWrite 1
// MiB it makes buffered reads arrive as 1 MiB READs instead of 128 KiB
// (FUSE-NOTES.md section 5).
const readAheadKB = 1024

// raiseReadahead sets the readahead of the mount on dir through sysfs,
// which only root may write; elsewhere it does nothing. Best effort: the
// mount works without it, only slower.
func raiseReadahead(dir string) error {
	if os.Geteuid() != 0 {
		return nil
	}
	var st unix.Stat_t
	if err := unix.Stat(dir, &st); err != nil {
		return fmt.Errorf("stat %s: %w", dir, err)
	}
	p := fmt.Sprintf("/sys/class/bdi/%d:%d/read_ahead_kb", unix.Major(st.Dev), unix.Minor(st.Dev))
	if err := os.WriteFile(p, []byte(fmt.Sprintf("%d\n", readAheadKB)), 0o644); err != nil {
		return fmt.Errorf("set readahead: %w", err)
	}
	return nil
}

// Unmount unmounts dir: umount2 as root, else fusermount3 -u (fusermount
// if there is no fusermount3). lazy detaches a busy or dead mount.
func Unmount(dir string, lazy bool) error {
	if os.Geteuid() == 0 {
		flags := 0
		if lazy {
			flags = unix.MNT_DETACH
		}
		if err := unix.Unmount(dir, flags); err != nil {
			return fmt.Errorf("umount %s: %w", dir, err)
		}
		return nil
	}
	args := []string{"-u"}
	if lazy {
		args = append(args, "-z")
	}
	args = append(args, dir)
	bin := "fusermount3"
	if _, err := exec.LookPath(bin); err != nil {
		bin = "fusermount"
	}
	out, err := exec.Command(bin, args...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("%s %s: %w: %s", bin, strings.Join(args, " "), err, strings.TrimSpace(string(out)))
	}
	return nil
}

// unmountCommand is what a user runs to clear a stale mount on dir.
func unmountCommand(dir string) string {
	if os.Geteuid() == 0 {
		return "umount -l " + dir
	}
	return "fusermount3 -u -z " + dir
}

// backingRegistryOf is the server's backing file table (passthrough).
func backingRegistryOf(s *fuse.Server) backingRegistry { return s }

// Package integration mounts the real hyperfs binary (built once by
// TestMain) as a separate process on a temporary home and drives the mount
// with ordinary programs: ls, stat, cat, dd, sha256sum, cp, tail -f, a
// shell's >>, and Python's os module for the errno table of TESTING.md.
//
// The tests need a usable FUSE: /dev/fuse, and root or fusermount3.
// Without it they skip, or fail when HYPERFS_REQUIRE_FUSE=1 (CI). Every
// mount is unmounted in t.Cleanup.
package integration

// Package integration mounts the real hyperfs binary (built once by
// TestMain) as a separate process on a temporary home and drives the mount
// with ordinary programs: ls, stat, cat, dd, sha256sum, cp, tail -f, a
// shell's >>, and Python's os module for the errno table of TESTING.md.
//
// Tests against JavaScript hypercore 9 (a JS writer followed through a
// mount) run the scripts of tests/interop/js with node, as the interop
// tests do.
//
// The tests need a usable FUSE: /dev/fuse, and root or fusermount3.
// Without it they skip, or fail when HYPERFS_REQUIRE_FUSE=1 (CI); the JS
// tests likewise need node and tests/interop/js/node_modules, and fail
// without them when HYPERFS_REQUIRE_NODE=1. Every mount is unmounted in
// t.Cleanup.
package integration

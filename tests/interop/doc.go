// Package interop holds the cross-implementation tests between the Go feed
// engine (package feed) and JavaScript hypercore 9.12, driven through the
// node scripts in js/ (see js/README.md). The tests need node and an
// installed js/node_modules; without them they skip, or fail when
// HYPERFS_REQUIRE_NODE=1.
package interop

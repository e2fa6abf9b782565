// Command hyperfs keeps hypercore 9 feeds in a home directory and reads
// and writes them from the shell.
//
// Usage:
//
//	hyperfs [--home DIR] COMMAND [ARGS]
//
//	create NAME                      create a writable feed, print its key
//	append FEED [FILE...]            append FILEs (or stdin): a block per 64 KiB,
//	       [--block-size N|--lines]  per N bytes, or per line
//	cat FEED [--start I] [--end J]   write blocks I..J-1 to stdout
//	get FEED INDEX                   write one block to stdout
//	info FEED [--json]               show a feed's key, length and size
//	list [--json]                    list the feeds in the home
//	audit FEED                       re-hash every block; exit 1 if any is invalid
//	import DIR [--name NAME]         copy a hypercore 9 directory into the home
//	version                          print the version
//	help [COMMAND]                   show this help, or a command's
//
// FEED is a name, a 64-hex-digit key, or a path containing '/' to a
// hypercore 9 directory. Flags may follow the arguments; every command
// also takes --home DIR.
//
// # Home
//
// The home is --home DIR, else $HYPERFS_HOME, else $XDG_DATA_HOME/hyperfs,
// else ~/.local/share/hyperfs:
//
//	HOME/feeds/KEY/              one hypercore 9 directory per feed, as JS
//	                             hypercore 9 writes it (key, secret_key, data,
//	                             tree, signatures, bitfield); KEY is the
//	                             public key in 64 hex digits
//	HOME/feeds/KEY/hyperfs.json  {"name": "NAME"}, rewritten atomically; JS
//	                             hypercore ignores it
//	HOME/index/                  the Pebble index (package index): the
//	                             registry of feeds, names and lengths
//
//	HOME/daemon.lock             flocked by the serve or mount that owns the
//	                             home; holds its pid
//	HOME/daemon.sock             that process's control socket (mode 0600)
//
// # The home's owner
//
// serve and mount own their home while they run (owner.go): they hold
// every feed open, and so locked, and replicate them all. The commands
// that open feeds (create, append, cat, get, info, list, audit, import,
// follow, clone) find a running owner through HOME/daemon.sock and run
// inside it on the client's own stdin, stdout and stderr (daemon.go), so
// they print the same bytes and exit with the same codes whether or not an
// owner runs; what they change shows in a mount at once. Without an owner
// they open the home themselves. A second serve or mount is refused.
//
// The index is a cache: deleted, it is rebuilt from HOME/feeds on the next
// command. One process at a time opens it, so each command holds it only
// around its look-ups and writes, and waits up to 5 s for another. When it
// cannot be opened (a read-only disk), reading commands scan HOME/feeds
// instead and log that once. A HOME/names.json from older versions is
// migrated into the index and renamed names.json.migrated.
//
// A name is 1 to 255 bytes without '/' or NUL, not "." or "..", and not
// 64 hex digits other than the feed's own key.
//
// # Exit status
//
//	0  success
//	1  failure, or audit found invalid blocks
//	2  usage error
//
// Errors go to stderr as "hyperfs: <error>". The usage text lives in
// help.go; README.md quotes it and a test keeps the two equal.
package main

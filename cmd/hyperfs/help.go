package main

import "fmt"

// usage is the text of `hyperfs -h`; README.md quotes it (TestREADMEUsage).
const usage = `hyperfs keeps hypercore 9 feeds.

Usage:
  hyperfs [--home DIR] COMMAND [ARGS]

Commands:
  create NAME                      create a writable feed, print its key
  append FEED [FILE...]            append FILEs (or stdin): a block per 64 KiB,
         [--block-size N|--lines]  per N bytes, or per line
  cat FEED [--start I] [--end J]   write blocks I..J-1 to stdout; with --peer,
      [--peer ADDR]... [--follow]  FEED is a key fetched from peers, and
                                   --follow prints appends until interrupted
  get FEED INDEX                   write one block to stdout
  info FEED [--json]               show a feed's key, length and size
  list [--json]                    list the feeds in the home
  audit FEED                       re-hash every block; exit 1 if any is invalid
  import DIR [--name NAME]         copy a hypercore 9 directory into the home
  serve [--listen ADDR]            replicate every feed, live, until SIGINT or
        [--peer ADDR]...           SIGTERM; prints "listening on HOST:PORT"
  follow KEY [--name NAME]         add a remote feed (a sparse replica)
  clone KEY --peer ADDR...         download and verify every block of a
        [--name NAME]              remote feed
  mount MOUNTPOINT                 serve the feeds as files until SIGINT or
        [--fetch-timeout DUR]      SIGTERM: MOUNTPOINT/FEED/{data,blocks/I,info};
        [--allow-other]            reads wait DUR (20s) for missing blocks;
        [--listen ADDR]            replicates like serve, and looking up
        [--peer ADDR]...           MOUNTPOINT/KEY follows that feed; as root
        [--verify]                 (Linux 6.9+) reads of local feeds whose
        [--no-passthrough]         blocks were hashed (--verify: at start)
                                   pass through to the data file
  unmount MOUNTPOINT [--lazy]      unmount a hyperfs mount
  version                          print the version
  help [COMMAND]                   show this help, or a command's

FEED is a name, a 64-hex-digit key, or a path containing '/' to a
hypercore 9 directory. Flags may follow the arguments; every command
also takes --home DIR.

The home is --home DIR, else $HYPERFS_HOME, else $XDG_DATA_HOME/hyperfs,
else ~/.local/share/hyperfs. Feeds live in HOME/feeds/KEY, each name
also in HOME/feeds/KEY/hyperfs.json; HOME/index indexes feeds and names
and is rebuilt from HOME/feeds if deleted.

Exit status: 0 success, 1 failure (or invalid blocks found by audit),
2 usage error.
`

func runHelp(c *cli, cmd *command, args []string) error {
	fs := c.flags(cmd)
	pos, err := c.parse(cmd, fs, args, 0, 1)
	if err != nil {
		return err
	}
	if len(pos) == 0 {
		fmt.Fprint(c.stdout, usage)
		return nil
	}
	target := lookup(pos[0])
	if target == nil {
		return usagef(cmd, "help: unknown command %q", pos[0])
	}
	// Running the command with -h prints its flags.
	return target.run(c, target, []string{"-h"})
}

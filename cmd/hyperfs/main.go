package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"

	"github.com/hyperfs/hyperfs/index"
)

// command is one subcommand: its synopsis for the help text and its run
// function, which gets the arguments after the subcommand name.
type command struct {
	name    string
	args    string // synopsis after the name
	summary string
	run     func(c *cli, cmd *command, args []string) error
}

// commands in the order the usage text lists them.
var commands []*command

func init() {
	commands = []*command{
		{"create", "NAME", "create a writable feed, print its key", runCreate},
		{"append", "FEED [FILE...] [--block-size N | --lines]", "append FILEs (or stdin) as blocks", runAppend},
		{"cat", "FEED [--start I] [--end J] [--peer ADDR]... [--follow]", "write blocks I..J-1 to stdout", runCat},
		{"get", "FEED INDEX", "write one block to stdout", runGet},
		{"info", "FEED [--json]", "show a feed's key, length and size", runInfo},
		{"list", "[--json]", "list the feeds in the home", runList},
		{"audit", "FEED", "re-hash every block; exit 1 if any is invalid", runAudit},
		{"import", "DIR [--name NAME]", "copy a hypercore 9 directory into the home", runImport},
		{"serve", "[--listen ADDR] [--peer ADDR]...", "replicate every feed with peers until SIGINT/SIGTERM", runServe},
		{"follow", "KEY [--name NAME]", "add a remote feed to the home (a sparse replica)", runFollow},
		{"clone", "KEY --peer ADDR... [--name NAME]", "download every block of a remote feed", runClone},
		{"mount", "MOUNTPOINT [--fetch-timeout DUR] [--allow-other] [--listen ADDR] [--peer ADDR]... [--verify] [--no-passthrough]", "serve the home's feeds as files until SIGINT/SIGTERM", runMount},
		{"unmount", "MOUNTPOINT [--lazy]", "unmount a hyperfs mount", runUnmount},
		{"version", "", "print the version", runVersion},
		{"help", "[COMMAND]", "show this help, or a command's", runHelp},
	}
}

// cli is what every command sees: the streams and the --home flag, and,
// for a command run inside the home's owner (daemon.go), that owner.
type cli struct {
	stdin          io.Reader
	stdout, stderr io.Writer
	homeFlag       string // --home, global or per command; "" if unset
	indexWarned    bool   // the index could not be used, and the log said so

	// viaOwner is set for commands that run inside the home's owner
	// when one is alive; home() then returns *delegated.
	viaOwner  bool
	delegated *delegated

	// own, cwd and ctx are set when the command runs inside the owner:
	// the feeds it holds, the client's working directory (relative paths
	// are the client's), and a context that ends when the client hangs up.
	own *owner
	cwd string
	ctx context.Context
	ran string // the command's name, once dispatched

	// db is the home's index when the home's owner holds it open for its
	// lifetime (the owner's command and those it runs for clients): the
	// registry, and the offsets and tree nodes of the feeds it opens.
	db *index.DB
}

func main() {
	stop := startProfile()
	code := run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// run parses the global flags, dispatches to the subcommand and turns its
// error into a message and an exit code.
func run(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	c := &cli{stdin: stdin, stdout: stdout, stderr: stderr}
	err := c.dispatch(args)
	var d *delegated
	if errors.As(err, &d) {
		return c.forward(d.conn, args)
	}
	c.report(err)
	return exitCode(err)
}

// exec runs a command sent to the home's owner through its socket.
func (c *cli) exec(args []string) ownerStatus {
	err := c.dispatch(args)
	if errors.Is(err, syscall.EPIPE) {
		return ownerStatus{Code: exitError, Pipe: true}
	}
	c.report(err)
	return ownerStatus{Code: exitCode(err)}
}

// report prints a command's error, and its usage if that was the problem.
func (c *cli) report(err error) {
	stderr := c.stderr
	if err != nil && !errors.Is(err, errHelp) {
		if msg := err.Error(); msg != "" {
			fmt.Fprintf(stderr, "hyperfs: %s\n", msg)
		}
		var ue *usageError
		if errors.As(err, &ue) {
			if ue.cmd != nil {
				fmt.Fprintf(stderr, "usage: hyperfs %s\nRun 'hyperfs help %s' for details.\n", synopsis(ue.cmd), ue.cmd.name)
			} else {
				fmt.Fprint(stderr, usage)
			}
		}
	}
}

// context is what a waiting command waits on: without an owner, until
// SIGINT or SIGTERM; inside it, until the client hangs up.
func (c *cli) context() (context.Context, context.CancelFunc) {
	if c.ctx != nil {
		return c.ctx, func() {}
	}
	return signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
}

// path makes a path argument relative to the client's working directory
// when the command runs inside the owner.
func (c *cli) path(p string) string {
	if c.cwd == "" || filepath.IsAbs(p) {
		return p
	}
	return filepath.Join(c.cwd, p)
}

func (c *cli) dispatch(args []string) error {
	fs := flag.NewFlagSet("hyperfs", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.StringVar(&c.homeFlag, "home", "", "")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fmt.Fprint(c.stdout, usage)
			return errHelp
		}
		return usagef(nil, "%v", err)
	}
	if fs.NArg() == 0 {
		return usagef(nil, "no command given")
	}
	cmd := lookup(fs.Arg(0))
	if cmd == nil {
		return usagef(nil, "unknown command %q", fs.Arg(0))
	}
	c.ran = cmd.name
	c.viaOwner = viaOwner[cmd.name] && c.own == nil
	return cmd.run(c, cmd, fs.Args()[1:])
}

func lookup(name string) *command {
	for _, cmd := range commands {
		if cmd.name == name {
			return cmd
		}
	}
	return nil
}

func synopsis(cmd *command) string {
	if cmd.args == "" {
		return cmd.name
	}
	return cmd.name + " " + cmd.args
}

// flags returns a FlagSet for cmd that also accepts --home.
func (c *cli) flags(cmd *command) *flag.FlagSet {
	fs := flag.NewFlagSet(cmd.name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.StringVar(&c.homeFlag, "home", c.homeFlag, "use `DIR` as the home")
	return fs
}

// parse parses flags and positional arguments in any order and checks
// that there are between lo and hi positionals (hi < 0: no limit). A
// "--" ends the flags.
func (c *cli) parse(cmd *command, fs *flag.FlagSet, args []string, lo, hi int) ([]string, error) {
	var pos []string
	for len(args) > 0 {
		if args[0] == "--" {
			pos = append(pos, args[1:]...)
			break
		}
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				c.commandHelp(cmd, fs)
				return nil, errHelp
			}
			return nil, usagef(cmd, "%s: %v", cmd.name, err)
		}
		rest := fs.Args()
		if n := len(args) - len(rest); n > 0 && args[n-1] == "--" {
			pos = append(pos, rest...)
			break
		}
		if len(rest) == 0 {
			break
		}
		pos = append(pos, rest[0])
		args = rest[1:]
	}
	switch {
	case len(pos) < lo:
		return nil, usagef(cmd, "%s: missing arguments", cmd.name)
	case hi >= 0 && len(pos) > hi:
		return nil, usagef(cmd, "%s: too many arguments", cmd.name)
	}
	return pos, nil
}

// commandHelp prints cmd's synopsis and flags to stdout.
func (c *cli) commandHelp(cmd *command, fs *flag.FlagSet) {
	fmt.Fprintf(c.stdout, "usage: hyperfs %s\n\n%s.\n\nFlags:\n", synopsis(cmd), cmd.summary)
	fs.SetOutput(c.stdout)
	fs.PrintDefaults()
	fs.SetOutput(io.Discard)
}

package main

import (
	"fmt"
	"runtime/debug"
)

// runVersion prints "hyperfs VERSION", the module version the binary was
// built from, or "devel".
func runVersion(c *cli, cmd *command, args []string) error {
	fs := c.flags(cmd)
	if _, err := c.parse(cmd, fs, args, 0, 0); err != nil {
		return err
	}
	fmt.Fprintf(c.stdout, "hyperfs %s\n", version())
	return nil
}

func version() string {
	bi, ok := debug.ReadBuildInfo()
	if !ok || bi.Main.Version == "" || bi.Main.Version == "(devel)" {
		return "devel"
	}
	return bi.Main.Version
}

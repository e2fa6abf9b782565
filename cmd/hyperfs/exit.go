package main

import (
	"errors"
	"fmt"
)

// Exit codes. Scripts may rely on them; the usage text lists them.
const (
	exitOK    = 0 // success
	exitError = 1 // the command failed, or audit found invalid blocks
	exitUsage = 2 // bad arguments or flags
)

// errHelp reports that a command printed its help on request (exit 0).
var errHelp = errors.New("help requested")

// usageError is a mistake in the command line: exit 2 with the command's
// synopsis.
type usageError struct {
	cmd *command // nil for the top level
	msg string
}

func (e *usageError) Error() string { return e.msg }

func usagef(cmd *command, format string, args ...any) error {
	return &usageError{cmd: cmd, msg: fmt.Sprintf(format, args...)}
}

// exitCode is the process status for the error a command returned.
func exitCode(err error) int {
	var ue *usageError
	switch {
	case err == nil, errors.Is(err, errHelp):
		return exitOK
	case errors.As(err, &ue):
		return exitUsage
	default:
		return exitError
	}
}

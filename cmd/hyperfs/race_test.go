//go:build race

package main

// Under go test -race the serve the tests run is built with -race too,
// so that the goroutines running commands for clients are checked.
func init() { ownerFlags = append(ownerFlags, "-race") }

// Package layout holds no code: its test checks the repository's shape,
// the import directions between our packages (STYLE.md 2.1) and the ban
// on panics and fatal logging outside cmd/ (STYLE.md 2.13).
package layout

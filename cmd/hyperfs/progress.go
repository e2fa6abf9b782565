package main

import (
	"fmt"
	"os"
	"time"

	"github.com/schollz/progressbar/v3"
	"golang.org/x/term"
)

// progress reports a download: a bar when stderr is a terminal, otherwise
// one plain line per second at most and one at the end, so logs stay
// readable.
type progress struct {
	c     *cli
	label string
	bar   *progressbar.ProgressBar // nil when stderr is not a terminal
	last  time.Time
	have  uint64
	total uint64
}

func newProgress(c *cli, label string) *progress {
	p := &progress{c: c, label: label}
	if f, ok := c.stderr.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		p.bar = progressbar.NewOptions64(-1,
			progressbar.OptionSetWriter(c.stderr),
			progressbar.OptionSetDescription("clone "+label),
			progressbar.OptionShowCount(),
			progressbar.OptionSetItsString("blocks"),
			progressbar.OptionShowIts(),
			progressbar.OptionThrottle(100*time.Millisecond),
		)
	}
	return p
}

func (p *progress) update(have, total uint64) {
	if have == p.have && total == p.total {
		return
	}
	p.have, p.total = have, total
	if p.bar != nil {
		if total > 0 {
			p.bar.ChangeMax64(int64(total))
		}
		_ = p.bar.Set64(int64(have))
		return
	}
	if time.Since(p.last) >= time.Second {
		p.last = time.Now()
		p.line()
	}
}

func (p *progress) line() {
	fmt.Fprintf(p.c.stderr, "clone %s: %d/%d blocks\n", p.label, p.have, p.total)
}

func (p *progress) finish() {
	if p.bar != nil {
		_ = p.bar.Finish()
		fmt.Fprintln(p.c.stderr)
		return
	}
	p.line()
}

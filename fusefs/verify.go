package fusefs

import "fmt"

// verifyAll is the Options.VerifyOnMount pass: it hashes the stored blocks
// of every feed mounted at the start, one feed after another, so that
// their data passes through to the kernel without a first full read
// through the daemon. One goroutine, owned by the FS: start starts it,
// Close stops it (fsys.ctx) and waits. It closes fsys.verified when done.
// Feeds added later are left to their readers.
func (fsys *FS) verifyAll() {
	defer close(fsys.verified)
	for _, name := range fsys.names() {
		m := fsys.feed(name)
		if m == nil {
			continue
		}
		bad, err := m.f.HashStored(fsys.ctx)
		if fsys.ctx.Err() != nil {
			return
		}
		if err != nil {
			fsys.log.Error("fusefs: verifying a feed", "feed", m.tag, "err", err)
			continue
		}
		if len(bad) > 0 {
			fsys.log.Error("fusefs: stored blocks fail their hash; `hyperfs audit` forgets them", "feed", m.tag, "blocks", fmt.Sprint(bad))
		}
	}
}

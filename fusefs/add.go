package fusefs

import (
	"context"
	"fmt"
	"io/fs"
)

// Add mounts a feed that appeared in the home while mounted by another
// route than the mount itself (a `hyperfs create` or `follow` that the
// mounting process ran for a client). The name must be free. It is not
// called from a request handler, so it attaches the directory itself; the
// kernel sees it at the next lookup or readdir of the root, which are
// never cached negatively.
func (fsys *FS) Add(e Entry) error {
	m, ok := fsys.add(e)
	if !ok {
		return fmt.Errorf("mount feed %s: %w", e.Name, fs.ErrExist)
	}
	fsys.root.AddChild(m.name, fsys.root.attach(context.Background(), m), false)
	fsys.watchAdded(m)
	return nil
}

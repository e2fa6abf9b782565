package fusefs

import "github.com/hanwen/go-fuse/v2/fs"

// What each node type implements. Every mutating operation is listed
// explicitly (go-fuse's defaults are not the errnos hyperfs promises);
// the EPERM ones come from noDirChanges, noXattrChanges and setattr.

var _ = []any{
	// rootNode: MOUNTPOINT.
	fs.NodeOnAdder(&rootNode{}), fs.NodeGetattrer(&rootNode{}), fs.NodeSetattrer(&rootNode{}),
	fs.NodeLookuper(&rootNode{}), fs.NodeReaddirer(&rootNode{}), fs.NodeStatfser(&rootNode{}),
	fs.NodeMkdirer(&rootNode{}), // creates a feed
	fs.NodeCreater(&rootNode{}), fs.NodeTmpfiler(&rootNode{}), fs.NodeMknoder(&rootNode{}),
	fs.NodeLinker(&rootNode{}), fs.NodeSymlinker(&rootNode{}), fs.NodeUnlinker(&rootNode{}),
	fs.NodeRmdirer(&rootNode{}), fs.NodeRenamer(&rootNode{}),
	fs.NodeGetxattrer(&rootNode{}), fs.NodeListxattrer(&rootNode{}),
	fs.NodeSetxattrer(&rootNode{}), fs.NodeRemovexattrer(&rootNode{}),

	// feedDir: MOUNTPOINT/<feed>.
	fs.NodeOnAdder(&feedDir{}), fs.NodeGetattrer(&feedDir{}), fs.NodeSetattrer(&feedDir{}),
	fs.NodeLookuper(&feedDir{}), fs.NodeReaddirer(&feedDir{}),
	fs.NodeCreater(&feedDir{}), fs.NodeTmpfiler(&feedDir{}), fs.NodeMkdirer(&feedDir{}),
	fs.NodeMknoder(&feedDir{}), fs.NodeLinker(&feedDir{}), fs.NodeSymlinker(&feedDir{}),
	fs.NodeUnlinker(&feedDir{}), fs.NodeRmdirer(&feedDir{}), fs.NodeRenamer(&feedDir{}),
	fs.NodeGetxattrer(&feedDir{}), fs.NodeListxattrer(&feedDir{}),
	fs.NodeSetxattrer(&feedDir{}), fs.NodeRemovexattrer(&feedDir{}),

	// dataNode: <feed>/data.
	fs.NodeGetattrer(&dataNode{}), fs.NodeSetattrer(&dataNode{}), fs.NodeOpener(&dataNode{}),
	fs.NodeReader(&dataNode{}), fs.NodeWriter(&dataNode{}), fs.NodeFsyncer(&dataNode{}),
	fs.NodeFlusher(&dataNode{}), fs.NodeReleaser(&dataNode{}), fs.NodeAllocater(&dataNode{}),
	fs.NodeGetxattrer(&dataNode{}), fs.NodeListxattrer(&dataNode{}),
	fs.NodeSetxattrer(&dataNode{}), fs.NodeRemovexattrer(&dataNode{}),
	// Its handles: *dataHandle, served by the daemon, and *ptHandle,
	// which offers the kernel the data file (passthrough.go).
	fs.FilePassthroughFder(&ptHandle{}),

	// blocksDir: <feed>/blocks.
	fs.NodeGetattrer(&blocksDir{}), fs.NodeSetattrer(&blocksDir{}),
	fs.NodeLookuper(&blocksDir{}), fs.NodeReaddirer(&blocksDir{}),
	fs.NodeCreater(&blocksDir{}), fs.NodeTmpfiler(&blocksDir{}), fs.NodeMkdirer(&blocksDir{}),
	fs.NodeMknoder(&blocksDir{}), fs.NodeLinker(&blocksDir{}), fs.NodeSymlinker(&blocksDir{}),
	fs.NodeUnlinker(&blocksDir{}), fs.NodeRmdirer(&blocksDir{}), fs.NodeRenamer(&blocksDir{}),
	fs.NodeGetxattrer(&blocksDir{}), fs.NodeListxattrer(&blocksDir{}),
	fs.NodeSetxattrer(&blocksDir{}), fs.NodeRemovexattrer(&blocksDir{}),

	// blockNode: <feed>/blocks/<i>.
	fs.NodeGetattrer(&blockNode{}), fs.NodeSetattrer(&blockNode{}), fs.NodeOpener(&blockNode{}),
	fs.NodeReader(&blockNode{}), fs.NodeWriter(&blockNode{}), fs.NodeFsyncer(&blockNode{}),
	fs.NodeAllocater(&blockNode{}),
	fs.NodeGetxattrer(&blockNode{}), fs.NodeListxattrer(&blockNode{}),
	fs.NodeSetxattrer(&blockNode{}), fs.NodeRemovexattrer(&blockNode{}),

	// infoNode: <feed>/info.
	fs.NodeGetattrer(&infoNode{}), fs.NodeSetattrer(&infoNode{}), fs.NodeOpener(&infoNode{}),
	fs.NodeReader(&infoNode{}), fs.NodeWriter(&infoNode{}), fs.NodeFsyncer(&infoNode{}),
	fs.NodeAllocater(&infoNode{}),
	fs.NodeGetxattrer(&infoNode{}), fs.NodeListxattrer(&infoNode{}),
	fs.NodeSetxattrer(&infoNode{}), fs.NodeRemovexattrer(&infoNode{}),
}

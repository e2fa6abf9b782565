package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"runtime/debug"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// The control socket. While serve or mount owns a home (owner.go), the
// commands that open the home's feeds run inside that process instead of
// their own: a command that finds a live socket at HOME/daemon.sock sends
// it its arguments, its working directory and its three standard file
// descriptors (SCM_RIGHTS), and the owner runs the same code on them with
// the feeds it holds open. Output therefore goes straight to the client's
// stdout and stderr, byte for byte what the command prints without a
// daemon; the owner then sends back the exit status, and the client exits
// with it. Closing its end of the connection (on SIGINT or SIGTERM, or by
// dying) cancels the command, as the signal would without a daemon.
//
// Wire format, client to owner: a 4-byte big-endian length and a JSON
// request, with the descriptors attached to the first byte. Owner to
// client: one JSON status line. The socket is mode 0600, so only its user
// (and root) can connect; it is made in a private directory and renamed
// into place so it is never reachable with looser permissions.
//
// A socket left by a crashed owner refuses connections; commands then
// open the home directly, and the next owner, which holds the home's lock
// and so knows no other owner lives, removes it.

// viaOwner lists the commands that run inside the home's owner when one
// runs: every command that opens the home's feeds.
var viaOwner = map[string]bool{
	"create": true, "append": true, "cat": true, "get": true, "info": true, "list": true,
	"audit": true, "import": true, "follow": true, "clone": true,
}

// registers lists the commands that may add a feed to the home, after
// which the owner opens it, replicates it and shows it in the mount.
var registers = map[string]bool{"create": true, "import": true, "follow": true, "clone": true, "cat": true}

// interruptGrace is how long an interrupted client waits for the owner to
// end its command before it exits anyway; shutdownGrace how long a
// stopping owner waits for its clients' commands.
const (
	interruptGrace = 2 * time.Second
	shutdownGrace  = 5 * time.Second
)

// maxRequest bounds a request: arguments and a working directory.
const maxRequest = 1 << 20

// ownerRequest is what a client sends.
type ownerRequest struct {
	Args []string `json:"args"`
	Cwd  string   `json:"cwd"`
}

// ownerStatus is what the owner answers when the command is done.
type ownerStatus struct {
	Code int `json:"code"`
	// Pipe is set when the command stopped because its stdout was a
	// closed pipe: the client then dies of SIGPIPE, as the command would
	// have, so `hyperfs cat f | head` stays quiet.
	Pipe bool `json:"pipe,omitempty"`
}

// delegated is returned by cli.home when a live owner holds the home: the
// command stops before touching anything and runs in the owner instead.
type delegated struct{ conn *net.UnixConn }

func (d *delegated) Error() string { return "the home's owner runs this command" }

// socketPath is HOME/daemon.sock, unless that is longer than a Unix
// socket address allows; then a name in the temporary directory derived
// from the home's absolute path, which client and owner compute alike.
func (h home) socketPath() string {
	abs, err := filepath.Abs(h.dir)
	if err != nil {
		abs = h.dir
	}
	p := filepath.Join(abs, "daemon.sock")
	if len(p) < 90 {
		return p
	}
	sum := sha256.Sum256([]byte(abs))
	return filepath.Join(os.TempDir(), "hyperfs-"+hex.EncodeToString(sum[:8])+".sock")
}

// dialOwner connects to the owner of h, if one is alive.
func dialOwner(h home) *net.UnixConn {
	conn, err := net.DialUnix("unix", nil, &net.UnixAddr{Name: h.socketPath(), Net: "unix"})
	if err != nil {
		return nil // none, or a stale socket (ECONNREFUSED)
	}
	return conn
}

// ownerServer accepts the control connections of an owner.
type ownerServer struct {
	o    *owner
	ln   *net.UnixListener
	path string
	ctx  context.Context
	stop context.CancelFunc
	wg   sync.WaitGroup // the accept loop and every request
}

// listen opens the owner's control socket and serves requests until
// close. The owner holds the home's lock, so a socket already there is
// stale and is replaced.
func (o *owner) listen() (*ownerServer, error) {
	path := o.h.socketPath()
	if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("remove stale socket: %w", err)
	}
	tmp, err := os.MkdirTemp(filepath.Dir(path), ".hyperfs-sock-*") // mode 0700
	if err != nil {
		return nil, fmt.Errorf("control socket: %w", err)
	}
	defer os.RemoveAll(tmp)
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: filepath.Join(tmp, "s"), Net: "unix"})
	if err != nil {
		return nil, fmt.Errorf("control socket: %w", err)
	}
	ln.SetUnlinkOnClose(false) // it is renamed; close removes it by its final name
	err = os.Chmod(filepath.Join(tmp, "s"), 0o600)
	if err == nil {
		err = os.Rename(filepath.Join(tmp, "s"), path)
	}
	if err != nil {
		ln.Close()
		return nil, fmt.Errorf("control socket: %w", err)
	}
	s := &ownerServer{o: o, ln: ln, path: path}
	s.ctx, s.stop = context.WithCancel(context.Background())
	s.wg.Add(1)
	go s.accept()
	return s, nil
}

func (s *ownerServer) accept() {
	defer s.wg.Done()
	for {
		conn, err := s.ln.AcceptUnix()
		if err != nil {
			if s.ctx.Err() == nil {
				newLogger(s.o.c).Warn("control socket stopped accepting", "err", err)
			}
			return
		}
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			s.handle(conn)
		}()
	}
}

// close stops accepting, cancels the commands running and waits for
// them, up to shutdownGrace: a command blocked on its client's terminal or
// on a pipe nobody reads cannot see the cancellation, and must not keep a
// serve or mount from exiting. Such a command is left behind and ends
// with the process; the feeds it holds answer ErrClosed from then on.
func (s *ownerServer) close() {
	s.stop()
	s.ln.Close()
	os.Remove(s.path)
	done := make(chan struct{})
	go func() {
		s.wg.Wait()
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(shutdownGrace):
		newLogger(s.o.c).Warn("leaving commands that are blocked on their clients' input or output", "after", shutdownGrace)
	}
}

// handle runs one client's command on its descriptors.
func (s *ownerServer) handle(conn *net.UnixConn) {
	defer conn.Close()
	req, files, err := readRequest(conn)
	defer func() {
		for _, f := range files {
			f.Close()
		}
	}()
	if err != nil {
		newLogger(s.o.c).Warn("bad control request", "err", err)
		return
	}
	ctx, cancel := context.WithCancel(s.ctx)
	defer cancel()
	// The client says nothing more: any read ending means it hung up or
	// was interrupted.
	hungUp := make(chan struct{})
	go func() {
		defer close(hungUp)
		io.Copy(io.Discard, conn)
		cancel()
	}()
	c := &cli{stdin: files[0], stdout: files[1], stderr: files[2], own: s.o, cwd: req.Cwd, ctx: ctx, db: s.o.c.db}
	st := s.run(c, req.Args)
	if registers[c.ran] {
		s.o.refresh()
	}
	b, _ := json.Marshal(st)
	conn.Write(append(b, '\n'))
	conn.CloseWrite()
	cancel()
	conn.SetReadDeadline(time.Now()) // ends the reader if the client lingers
	<-hungUp
}

// run runs a client's command. A bug that panics in it fails that
// command, logged with its stack, rather than taking the serve or mount
// (and every other client and peer) down with it.
func (s *ownerServer) run(c *cli, args []string) (st ownerStatus) {
	defer func() {
		if r := recover(); r != nil {
			newLogger(s.o.c).Error("command failed with a panic", "args", args, "panic", r, "stack", string(debug.Stack()))
			fmt.Fprintf(c.stderr, "hyperfs: internal error: %v\n", r)
			st = ownerStatus{Code: exitError}
		}
	}()
	return c.exec(args)
}

// readRequest reads a request and the three descriptors sent with it.
func readRequest(conn *net.UnixConn) (ownerRequest, []*os.File, error) {
	var req ownerRequest
	conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	defer conn.SetReadDeadline(time.Time{})
	buf := make([]byte, 4096)
	oob := make([]byte, unix.CmsgSpace(3*4))
	n, oobn, _, _, err := conn.ReadMsgUnix(buf, oob)
	if err != nil {
		return req, nil, err
	}
	var files []*os.File
	msgs, err := unix.ParseSocketControlMessage(oob[:oobn])
	if err != nil {
		return req, nil, fmt.Errorf("control message: %w", err)
	}
	for _, m := range msgs {
		fds, err := unix.ParseUnixRights(&m)
		if err != nil {
			continue
		}
		for _, fd := range fds {
			files = append(files, os.NewFile(uintptr(fd), fmt.Sprintf("client fd %d", len(files))))
		}
	}
	if len(files) != 3 {
		return req, files, fmt.Errorf("got %d descriptors, want 3", len(files))
	}
	r := io.MultiReader(bytes.NewReader(buf[:n]), conn)
	var hdr [4]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		return req, files, fmt.Errorf("read request: %w", err)
	}
	size := binary.BigEndian.Uint32(hdr[:])
	if size > maxRequest {
		return req, files, fmt.Errorf("request of %d bytes", size)
	}
	body := make([]byte, size)
	if _, err := io.ReadFull(r, body); err != nil {
		return req, files, fmt.Errorf("read request: %w", err)
	}
	if err := json.Unmarshal(body, &req); err != nil || len(req.Args) == 0 {
		return req, files, fmt.Errorf("decode request: %v", err)
	}
	return req, files, nil
}

// forward runs args in the owner reached by conn and returns the exit
// status it reports. Streams that are not files (tests) are passed as
// pipes and copied.
func (c *cli) forward(conn *net.UnixConn, args []string) int {
	defer conn.Close()
	var copies sync.WaitGroup
	defer copies.Wait()
	var sent []*os.File // our copies of what was sent, closed once sent
	fdOf := func(s any, in bool) (*os.File, error) {
		if f, ok := s.(*os.File); ok {
			return f, nil
		}
		r, w, err := os.Pipe()
		if err != nil {
			return nil, err
		}
		copies.Add(1)
		if in {
			sent = append(sent, r)
			go func() {
				defer copies.Done()
				io.Copy(w, s.(io.Reader))
				w.Close()
			}()
			return r, nil
		}
		sent = append(sent, w)
		go func() {
			defer copies.Done()
			io.Copy(s.(io.Writer), r)
			r.Close()
		}()
		return w, nil
	}
	var fds []int
	for i, s := range []any{c.stdin, c.stdout, c.stderr} {
		f, err := fdOf(s, i == 0)
		if err != nil {
			fmt.Fprintf(c.stderr, "hyperfs: %v\n", err)
			return exitError
		}
		fds = append(fds, int(f.Fd()))
	}
	cwd, _ := os.Getwd()
	body, _ := json.Marshal(ownerRequest{Args: args, Cwd: cwd})
	msg := binary.BigEndian.AppendUint32(nil, uint32(len(body)))
	msg = append(msg, body...)
	_, _, err := conn.WriteMsgUnix(msg, unix.UnixRights(fds...), nil)
	for _, f := range sent {
		f.Close() // the owner has its own copies now
	}
	if err != nil {
		fmt.Fprintf(c.stderr, "hyperfs: send the command to the home's owner: %v\n", err)
		return exitError
	}
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	defer signal.Stop(sigs)
	status := make(chan ownerStatus, 1)
	go func() {
		var st ownerStatus
		line, err := bufio.NewReader(conn).ReadBytes('\n')
		if err != nil || json.Unmarshal(line, &st) != nil {
			st.Code = -1
		}
		status <- st
	}()
	var st ownerStatus
	select {
	case st = <-status:
	case sig := <-sigs:
		conn.CloseWrite() // the owner cancels the command
		// A command that waits on a context ends at once; one stuck
		// reading this terminal cannot notice. Do not hold the user:
		// give up after a moment or at a second signal, with the status
		// of a process killed by the signal. conn's close ends the reader.
		t := time.NewTimer(interruptGrace)
		defer t.Stop()
		select {
		case st = <-status:
		case <-sigs:
			return 128 + int(sig.(syscall.Signal))
		case <-t.C:
			return 128 + int(sig.(syscall.Signal))
		}
	}
	switch {
	case st.Code < 0:
		fmt.Fprintln(c.stderr, "hyperfs: the serve or mount owning the home went away during the command")
		return exitError
	case st.Pipe && c.stdout == os.Stdout:
		// The Go runtime dies of SIGPIPE on a write to a closed pipe on
		// fd 1, as the command did in the owner's stead.
		os.Stdout.Write([]byte{'\n'})
	}
	return st.Code
}

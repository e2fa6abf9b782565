package peer

// ackLog remembers the Data sent on a channel whose remote we asked for
// acks (spec 4.8.8), so that an ack is reported only for a block we sent
// and not yet acknowledged: a remote cannot make us count a block it was
// never sent, or count one twice. A remote that never acks costs a
// bounded amount: the log keeps the last maxUnacked sends, and a block
// pushed out before its ack is forgotten (its ack is then dropped).
//
// Each send gets a sequence number. pending maps a block to the number
// of its latest unacknowledged send; ring holds the last sends in order,
// so the oldest can be forgotten. A block sent again before its ack
// stays one entry: one ack settles it.
type ackLog struct {
	pending map[uint64]uint64 // block -> seq of its latest unacked send
	ring    []ackSend         // the last sends, at most maxUnacked
	next    int               // where the next send goes once ring is full
	seq     uint64
}

type ackSend struct{ block, seq uint64 }

// sent records that block i went out.
func (l *ackLog) sent(i uint64) {
	if l.pending == nil {
		l.pending = map[uint64]uint64{}
	}
	l.seq++
	e := ackSend{i, l.seq}
	if len(l.ring) < maxUnacked {
		l.ring = append(l.ring, e)
	} else {
		old := l.ring[l.next]
		if l.pending[old.block] == old.seq {
			delete(l.pending, old.block) // never acked: forget it
		}
		l.ring[l.next] = e
		l.next = (l.next + 1) % maxUnacked
	}
	l.pending[i] = l.seq
}

// acked settles block i and reports whether it was waiting for an ack.
func (l *ackLog) acked(i uint64) bool {
	if _, ok := l.pending[i]; !ok {
		return false
	}
	delete(l.pending, i)
	return true
}

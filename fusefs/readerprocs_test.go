package fusefs

import "testing"

func TestReaderProcs(t *testing.T) {
	for _, tc := range []struct{ procs, want int }{
		// go-fuse keeps at least 2 readers; one more than its limit
		// may park.
		{1, 3},
		{2, 3},
		{8, 9},
		{16, 17},
		{64, 17}, // its limit stops at 16
	} {
		if got := ReaderProcs(tc.procs); got != tc.want {
			t.Errorf("ReaderProcs(%d) = %d, want %d", tc.procs, got, tc.want)
		}
	}
}

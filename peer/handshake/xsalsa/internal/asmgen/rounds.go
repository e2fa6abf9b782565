package main

// The quarter-rounds of a column round and of a row round, each as the
// words (a, b, c, d) of b ^= (a+d)<<<7, c ^= (b+a)<<<9, d ^= (c+b)<<<13,
// a ^= (d+c)<<<18 (Salsa20 specification).
var (
	columnRound = [4][4]int{{0, 4, 8, 12}, {5, 9, 13, 1}, {10, 14, 2, 6}, {15, 3, 7, 11}}
	rowRound    = [4][4]int{{0, 1, 2, 3}, {5, 6, 7, 4}, {10, 11, 8, 9}, {15, 12, 13, 14}}
	rotations   = [4]int{7, 9, 13, 18}
)

// step is one line of a quarter-round: target ^= (x+y) <<< rot.
type step struct{ target, x, y, rot int }

// halfRound lists the steps of a column or row round, the four
// quarter-rounds interleaved step by step: they are independent, so the
// CPU overlaps them, and renaming lets them share the temporaries.
func halfRound(qrs [4][4]int) []step {
	var steps []step
	for s := range 4 {
		for _, q := range qrs {
			a, b, c, d := q[0], q[1], q[2], q[3]
			switch s {
			case 0:
				steps = append(steps, step{b, a, d, rotations[0]})
			case 1:
				steps = append(steps, step{c, b, a, rotations[1]})
			case 2:
				steps = append(steps, step{d, c, b, rotations[2]})
			case 3:
				steps = append(steps, step{a, d, c, rotations[3]})
			}
		}
	}
	return steps
}

// spilledFirst moves the step right after one that writes a spilled word
// up to follow it, when that step reads the word (the next step of the same
// quarter-round always does).
func spilledFirst(steps []step, spill map[int]int) []step {
	var out []step
	moved := map[int]bool{}
	for i, s := range steps {
		if moved[i] {
			continue
		}
		out = append(out, s)
		if _, ok := spill[s.target]; !ok {
			continue
		}
		for j := i + 1; j < len(steps); j++ {
			if n := steps[j]; n.x == s.target || n.y == s.target {
				out = append(out, n)
				moved[j] = true
				break
			}
		}
	}
	return out
}

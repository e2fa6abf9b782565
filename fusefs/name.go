package fusefs

// maxName is the longest name a lookup accepts; longer ones are
// ENAMETOOLONG, as on local file systems.
const maxName = 255

// parseBlockName reads name as the index of a block of a feed of the given
// length. Only canonical decimal is accepted: "0", or digits not starting
// with 0; no sign, exponent, spaces or overflow, and the index must be
// below length. So every block has exactly one name.
func parseBlockName(name string, length uint64) (uint64, bool) {
	if name == "" || len(name) > 20 || (name[0] == '0' && len(name) > 1) {
		return 0, false
	}
	var i uint64
	for k := 0; k < len(name); k++ {
		c := name[k]
		if c < '0' || c > '9' {
			return 0, false
		}
		d := uint64(c - '0')
		if i > (^uint64(0)-d)/10 {
			return 0, false
		}
		i = i*10 + d
	}
	return i, i < length
}

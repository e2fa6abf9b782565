package blake2bx

// impl names a compression of several lanes at once.
type impl int

const (
	implNone     impl = iota // one message at a time through x/crypto
	implGeneric4             // plain Go, four lanes; tests only
	implGeneric8             // plain Go, eight lanes; tests only
	implAVX2                 // four lanes in ymm
	implAVX512x4             // four lanes in ymm, 32 registers, VPRORQ
	implAVX512x8             // eight lanes in zmm
)

func (k impl) lanes() int {
	switch k {
	case implGeneric4, implAVX2, implAVX512x4:
		return 4
	case implGeneric8, implAVX512x8:
		return 8
	}
	return 0
}

// tail is the implementation for the few messages left over once full
// batches are done.
func (k impl) tail() impl {
	switch k {
	case implGeneric8:
		return implGeneric4
	case implAVX512x8:
		return implAVX512x4
	}
	return k
}

func (k impl) String() string {
	return [...]string{"xcrypto", "generic4", "generic8", "avx2", "avx512x4", "avx512x8"}[k]
}

// active is the implementation Sum256Prefixed uses, chosen at init from
// the CPU's features; tests switch it.
var active = best()

package blake2bx

import "unsafe"

func sizeofStep(s *step) uintptr { return unsafe.Sizeof(*s) }

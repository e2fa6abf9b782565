package feed

// AheadHeld is the bytes of verify-ahead windows all feeds hold.
func AheadHeld() int64 { return aheadHeld.Load() }

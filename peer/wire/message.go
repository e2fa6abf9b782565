package wire

// Type is the 4-bit message type in a frame header (spec 4.4, 4.6).
type Type uint8

// Message types. 11-14 are unassigned and ignored by receivers.
const (
	TypeOpen      Type = 0
	TypeOptions   Type = 1
	TypeStatus    Type = 2
	TypeHave      Type = 3
	TypeUnhave    Type = 4
	TypeWant      Type = 5
	TypeUnwant    Type = 6
	TypeRequest   Type = 7
	TypeCancel    Type = 8
	TypeData      Type = 9
	TypeClose     Type = 10
	TypeExtension Type = 15
)

// Message is one decoded frame body. The concrete types are the structs
// below; Decode returns pointers to them, AppendFrame takes either.
type Message interface {
	Type() Type
	// AppendBody appends the body's encoding (protobuf, or the raw
	// extension layout) to b.
	AppendBody(b []byte) []byte
}

// Open asks to replicate the feed named by DiscoveryKey on the sender's
// channel. Capability is nil when absent (unencrypted streams).
type Open struct {
	DiscoveryKey []byte
	Capability   []byte
}

// Options lists the sender's extension names (sorted) and whether it
// wants acks. Ack is always emitted.
type Options struct {
	Extensions []string
	Ack        bool
}

// Status announces whether the sender uploads and downloads; both fields
// are always emitted and decode as false when absent.
type Status struct {
	Uploading   bool
	Downloading bool
}

// Have announces blocks [Start, Start+Length). Length decodes as 1 when
// absent and is emitted unless it is 1 on a plain announcement (no
// bitfield, no ack), as JS does. Bitfield is bitfield-RLE data; nil means
// absent, an empty non-nil slice is present and empty. Ack is emitted
// only when true.
type Have struct {
	Start    uint64
	Length   uint64
	Bitfield []byte
	Ack      bool
}

// Unhave withdraws blocks [Start, Start+Length). Length decodes as 1 when
// absent and is emitted unless it is 1.
type Unhave struct {
	Start  uint64
	Length uint64
}

// Want asks for Have announcements of [Start, Start+Length). Length
// decodes as 0 ("the whole feed", legacy) when absent; it is always
// emitted.
type Want struct {
	Start  uint64
	Length uint64
}

// Unwant is never sent by hypercore 9 and is ignored on receipt; it is
// decoded so that it can be validated.
type Unwant struct {
	Start  uint64
	Length uint64
}

// Request asks for block Index (or, with Bytes > 0, the block holding
// that byte offset). Hash asks for the block's hash only. Nodes is the
// requester's proof digest (spec 4.8.4). Every field is always emitted.
type Request struct {
	Index uint64
	Bytes uint64
	Hash  bool
	Nodes uint64
}

// Cancel is never sent by hypercore 9 and is ignored on receipt.
type Cancel struct {
	Index uint64
	Bytes uint64
	Hash  bool
}

// Node is one merkle tree node in a Data proof. Hash is whatever length
// the peer sent; verification rejects anything but 32 bytes.
type Node struct {
	Index uint64
	Hash  []byte
	Size  uint64
}

// Data carries block Index with its proof. Value is nil when absent (a
// hash-only reply) and an empty non-nil slice for an empty block.
// Signature is nil when absent.
type Data struct {
	Index     uint64
	Value     []byte
	Nodes     []Node
	Signature []byte
}

// Close closes the sender's channel; with DiscoveryKey set (non-nil) it
// rejects a channel the sender never opened.
type Close struct {
	DiscoveryKey []byte
}

// Extension is a type-15 frame: ID is the position of the extension name
// in the sender's sorted Options list.
type Extension struct {
	ID      uint64
	Payload []byte
}

func (Open) Type() Type      { return TypeOpen }
func (Options) Type() Type   { return TypeOptions }
func (Status) Type() Type    { return TypeStatus }
func (Have) Type() Type      { return TypeHave }
func (Unhave) Type() Type    { return TypeUnhave }
func (Want) Type() Type      { return TypeWant }
func (Unwant) Type() Type    { return TypeUnwant }
func (Request) Type() Type   { return TypeRequest }
func (Cancel) Type() Type    { return TypeCancel }
func (Data) Type() Type      { return TypeData }
func (Close) Type() Type     { return TypeClose }
func (Extension) Type() Type { return TypeExtension }

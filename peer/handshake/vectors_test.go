package handshake

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/hyperfs/hyperfs/internal/testvectors"
)

// side is one peer of a wire transcript (../shared/vectors/wire).
type side struct {
	StaticSeed      string `json:"staticSeed"`
	StaticPublicKey string `json:"staticPublicKey"`
	StaticSecretKey string `json:"staticSecretKey"`
	Ephemeral       struct {
		PublicKey string `json:"publicKey"`
		SecretKey string `json:"secretKey"`
	} `json:"ephemeral"`
	PayloadNonce   string `json:"payloadNonce"`
	AfterHandshake struct {
		PublicKey       string `json:"publicKey"`
		RemotePublicKey string `json:"remotePublicKey"`
		HandshakeHash   string `json:"handshakeHash"`
		SplitTx         string `json:"splitTx"`
		SplitRx         string `json:"splitRx"`
		LocalNonce      string `json:"localNonce"`
		RemoteNonce     string `json:"remoteNonce"`
	} `json:"afterHandshake"`
	PlaintextFramesSent []string `json:"plaintextFramesSent"`
}

type transcript struct {
	Name          string `json:"name"`
	FeedPublicKey string `json:"feedPublicKey"`
	Initiator     side   `json:"initiator"`
	Responder     side   `json:"responder"`
	Capability    struct {
		InitiatorSends string `json:"initiatorSends"`
		ResponderSends string `json:"responderSends"`
	} `json:"capability"`
	Chunks []struct {
		From string `json:"from"`
		Hex  string `json:"hex"`
	} `json:"chunks"`
}

// role returns the transcript's side for the initiator or the responder
// and the name its chunks are tagged with.
func (tr *transcript) role(initiator bool) (*side, string) {
	if initiator {
		return &tr.Initiator, "initiator"
	}
	return &tr.Responder, "responder"
}

// chunks returns the raw writes of one side: its handshake messages
// first, then its encrypted transport writes.
func (tr *transcript) chunks(t testing.TB, from string) (handshake, transport [][]byte) {
	t.Helper()
	hsCount := 2 // the initiator sends msg 1 and 3
	if from == "responder" {
		hsCount = 1
	}
	for _, c := range tr.Chunks {
		if c.From != from {
			continue
		}
		b := testvectors.Hex(t, c.Hex)
		if len(handshake) < hsCount {
			handshake = append(handshake, b)
		} else {
			transport = append(transport, b)
		}
	}
	return handshake, transport
}

// plaintext is everything s sent after the handshake, decrypted.
func (s *side) plaintext(t testing.TB) []byte {
	t.Helper()
	var b []byte
	for _, f := range s.PlaintextFramesSent {
		b = append(b, testvectors.Hex(t, f)...)
	}
	return b
}

// config is the Config that reproduces s's handshake: the Rand reader
// yields the payload nonce, then the ephemeral secret (NewHandshake reads
// the nonce, flynn/noise the ephemeral key when the first message is
// written).
func (s *side) config(t testing.TB, initiator bool) Config {
	t.Helper()
	var kp KeyPair
	copy(kp.Private[:], testvectors.Hex(t, s.StaticSecretKey))
	copy(kp.Public[:], testvectors.Hex(t, s.StaticPublicKey))
	return Config{Initiator: initiator, Static: kp, Rand: bytes.NewReader(s.random(t))}
}

// random is what Rand must yield to reproduce s's handshake.
func (s *side) random(t testing.TB) []byte {
	t.Helper()
	return append(testvectors.Hex(t, s.PayloadNonce), testvectors.Hex(t, s.Ephemeral.SecretKey)...)
}

func loadTranscripts(t testing.TB) []*transcript {
	t.Helper()
	var out []*transcript
	for _, name := range []string{"full-download", "sparse-get5"} {
		b, err := os.ReadFile(filepath.Join(testvectors.SharedDir(t), "vectors", "wire", name+".json"))
		if err != nil {
			t.Fatal(err)
		}
		tr := new(transcript)
		if err := json.Unmarshal(b, tr); err != nil {
			t.Fatalf("parse %s: %v", name, err)
		}
		out = append(out, tr)
	}
	return out
}

type transportCipher struct {
	Key32                 string   `json:"key32"`
	Nonce24               string   `json:"nonce24"`
	PlaintextChunkLengths []int    `json:"plaintextChunkLengths"`
	CiphertextChunks      []string `json:"ciphertextChunks"`
}

type cryptoVectors struct {
	NoiseKeyPairFromSeed struct {
		Seed      string `json:"seed"`
		PublicKey string `json:"publicKey"`
		SecretKey string `json:"secretKey"`
	} `json:"noiseKeyPairFromSeed"`
}

// loadVectors reads the parts of vectors.json testvectors does not
// cover.
func loadVectors(t testing.TB) (transportCipher, cryptoVectors) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(testvectors.SharedDir(t), "vectors", "vectors.json"))
	if err != nil {
		t.Fatal(err)
	}
	var v struct {
		TransportCipher transportCipher `json:"transportCipher"`
		Crypto          cryptoVectors   `json:"crypto"`
	}
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatalf("parse vectors.json: %v", err)
	}
	return v.TransportCipher, v.Crypto
}

func hex32(t testing.TB, s string) [32]byte {
	t.Helper()
	var a [32]byte
	b := testvectors.Hex(t, s)
	if len(b) < 32 {
		t.Fatalf("%q is shorter than 32 bytes", s)
	}
	copy(a[:], b)
	return a
}

func hex24(t testing.TB, s string) [NonceSize]byte {
	t.Helper()
	var a [NonceSize]byte
	b := testvectors.Hex(t, s)
	if len(b) != NonceSize {
		t.Fatalf("%q is not %d bytes", s, NonceSize)
	}
	copy(a[:], b)
	return a
}

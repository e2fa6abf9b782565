package handshake

import (
	"crypto/ecdh"
	"crypto/rand"
	"fmt"
	"io"

	"golang.org/x/crypto/blake2b"
)

// KeyPair is an X25519 key pair: the static Noise key of one side of a
// connection (spec 1.6). It is unrelated to a feed's Ed25519 signing key;
// hypercore makes a fresh one per stream and never checks the remote's.
type KeyPair struct {
	Public  [32]byte
	Private [32]byte
}

// GenerateKeyPair draws a private key from rnd (crypto/rand when nil), as
// libsodium crypto_kx_keypair does: 32 random bytes, kept unclamped, and
// the public key X25519(private, basepoint).
func GenerateKeyPair(rnd io.Reader) (KeyPair, error) {
	if rnd == nil {
		rnd = rand.Reader
	}
	var kp KeyPair
	if _, err := io.ReadFull(rnd, kp.Private[:]); err != nil {
		return KeyPair{}, fmt.Errorf("handshake: generate key pair: %w", err)
	}
	kp.Public = publicKey(&kp.Private)
	return kp, nil
}

// SeedKeyPair derives a key pair from a seed as libsodium
// crypto_kx_seed_keypair does: private = BLAKE2b-256(seed), public =
// X25519(private, basepoint). Same seed, same key pair as JS.
func SeedKeyPair(seed [32]byte) KeyPair {
	kp := KeyPair{Private: blake2b.Sum256(seed[:])}
	kp.Public = publicKey(&kp.Private)
	return kp
}

// publicKey computes X25519(priv, basepoint); clamping happens inside, as
// in libsodium. crypto/ecdh rejects only private keys that are not 32
// bytes long, which an array cannot be, so the error is impossible.
func publicKey(priv *[32]byte) [32]byte {
	var pub [32]byte
	k, err := ecdh.X25519().NewPrivateKey(priv[:])
	if err == nil {
		copy(pub[:], k.PublicKey().Bytes())
	}
	return pub
}

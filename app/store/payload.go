package store

import (
	"bytes"
	"fmt"
	"sync"

	"github.com/klauspost/compress/zstd"
)

// Delivery payloads are stored zstd-compressed. A webhook body is JSON
// that compresses about six times (GitHub's issue_comment example: 16 KB
// to 2.6 KB), and at 2,000 deliveries a second moving it uncompressed cost
// more CPU than compressing it: pgx copies each bound parameter into two
// growing buffers, Postgres compressed it again with pglz (and SQLite wrote
// it to four pages). Measured per delivery, stored with its job in batches
// of 64 on Postgres (load ~7 on 2 cores): 330 µs of gatehouse's CPU and
// 270 µs of Postgres' raw, 100 µs and 115 µs compressed; the compression
// itself (zstd's fastest level) is 30 µs, spent in the request's
// goroutine (PackPayload).
//
// Rows stored before are raw JSON. A zstd frame starts with its magic
// number, which no JSON text does, so a read tells the two apart.

// zstdMagic starts every zstd frame.
var zstdMagic = []byte{0x28, 0xb5, 0x2f, 0xfd}

// maxPayload bounds a payload decompressed from the store, as a guard
// against a damaged row: GitHub caps payloads at 25 MB.
const maxPayload = 64 << 20

// The encoder and decoder are safe for concurrent use and hold no state
// between calls; they are built once, on first use.
var (
	payloadEncoder = sync.OnceValue(func() *zstd.Encoder {
		e, err := zstd.NewWriter(nil, zstd.WithEncoderLevel(zstd.SpeedFastest))
		if err != nil {
			panic(err) // only for invalid options
		}
		return e
	})
	payloadDecoder = sync.OnceValue(func() *zstd.Decoder {
		d, err := zstd.NewReader(nil, zstd.WithDecoderConcurrency(0), zstd.WithDecoderMaxMemory(maxPayload))
		if err != nil {
			panic(err) // only for invalid options
		}
		return d
	})
)

// PackPayload compresses d's payload as it is stored, so that the insert
// does not have to: the intake calls it in each request's goroutine, off
// its writer's path. An insert packs a delivery that was not packed. Pack
// again after changing Payload.
func (d *Delivery) PackPayload() {
	d.packed = packPayload(d.Payload)
}

// storedPayload is d's payload as stored.
func (d *Delivery) storedPayload() []byte {
	if d.packed != nil {
		return d.packed
	}
	return packPayload(d.Payload)
}

func packPayload(p []byte) []byte {
	return payloadEncoder().EncodeAll(p, make([]byte, 0, len(p)/4+64))
}

// unpackPayload returns a stored payload as it was received.
func unpackPayload(b []byte) ([]byte, error) {
	if !bytes.HasPrefix(b, zstdMagic) {
		return b, nil // stored before payloads were compressed
	}
	p, err := payloadDecoder().DecodeAll(b, nil)
	if err != nil {
		return nil, fmt.Errorf("decompress payload: %w", err)
	}
	return p, nil
}

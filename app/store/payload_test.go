package store_test

import (
	"bytes"
	"context"
	"testing"

	"github.com/gatehouse/gatehouse/app/store"
	"github.com/gatehouse/gatehouse/app/store/storetest"
	"github.com/gatehouse/gatehouse/internal/githubtest"
)

// Payloads are stored compressed, whichever way they are inserted (packed
// by the intake beforehand or not), and read back as received; a payload
// stored raw by an earlier version reads back as it is.
func TestPayloadStoredCompressed(t *testing.T) {
	storetest.Run(t, func(t *testing.T, driver string) {
		ctx := context.Background()
		s := storetest.Open(t, driver)
		body := githubtest.LoadWebhook(t, "issue_comment.created")
		one := store.Delivery{ID: "one", Event: "issue_comment", Action: "created", InstallationID: 1, Payload: body}
		packed := one
		packed.ID = "packed"
		packed.PackPayload()
		plain := one
		plain.ID = "batch"
		if _, err := s.InsertDelivery(ctx, one); err != nil {
			t.Fatal(err)
		}
		if _, err := s.InsertDeliveries(ctx, []store.Delivery{packed, plain}); err != nil {
			t.Fatal(err)
		}
		for _, id := range []string{"one", "packed", "batch"} {
			raw, err := store.StoredPayload(ctx, s, id)
			if err != nil {
				t.Fatal(err)
			}
			if len(raw)*3 > len(body) {
				t.Errorf("%s: %d bytes stored for a payload of %d, want it compressed", id, len(raw), len(body))
			}
			d, err := s.GetDelivery(ctx, id)
			if err != nil || !bytes.Equal(d.Payload, body) {
				t.Errorf("%s: read back %d bytes (%v), want the %d received", id, len(d.Payload), err, len(body))
			}
		}
		if err := store.RawPayloadInsert(ctx, s, "raw", body); err != nil {
			t.Fatal(err)
		}
		if d, err := s.GetDelivery(ctx, "raw"); err != nil || !bytes.Equal(d.Payload, body) {
			t.Errorf("raw payload of an earlier version: read back %d bytes (%v), want %d", len(d.Payload), err, len(body))
		}
	})
}

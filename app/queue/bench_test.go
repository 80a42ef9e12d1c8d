package queue_test

import (
	"context"
	"strconv"
	"testing"

	"github.com/gatehouse/gatehouse/app/queue"
	"github.com/gatehouse/gatehouse/app/store/storetest"
	"github.com/gatehouse/gatehouse/internal/githubtest"
)

// BenchmarkAcceptDelivery measures the webhook's durable step: store a
// delivery (GitHub's 16 KB issue_comment example) and enqueue its job, one
// transaction each.
func BenchmarkAcceptDelivery(b *testing.B) {
	payload := githubtest.LoadWebhook(b, "issue_comment.created")
	for _, driver := range storetest.Drivers() {
		b.Run(driver, func(b *testing.B) {
			ctx := context.Background()
			s := storetest.Open(b, driver)
			q, err := queue.New(s, queue.Config{Logger: storetest.Logger(b)})
			if err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				i++
				d := delivery("bench-" + strconv.Itoa(i))
				d.Payload = payload
				inserted, err := q.AcceptDelivery(ctx, d, "plan", planArgs{DeliveryID: d.ID, Repo: d.Repo})
				if err != nil || !inserted {
					b.Fatalf("AcceptDelivery = %v, %v", inserted, err)
				}
			}
		})
	}
}

// BenchmarkAcceptDeliveries measures the intake's group commit: batches of
// deliveries (the 16 KB issue_comment example) stored with their jobs in
// one transaction;
// ns/op is per batch, so divide by the batch size for a delivery's share.
func BenchmarkAcceptDeliveries(b *testing.B) {
	payload := githubtest.LoadWebhook(b, "issue_comment.created")
	for _, driver := range storetest.Drivers() {
		for _, size := range []int{1, 16, 128} {
			b.Run(driver+"/batch="+strconv.Itoa(size), func(b *testing.B) {
				ctx := context.Background()
				s := storetest.Open(b, driver)
				q, err := queue.New(s, queue.Config{Logger: storetest.Logger(b)})
				if err != nil {
					b.Fatal(err)
				}
				b.ReportAllocs()
				i := 0
				for b.Loop() {
					as := make([]queue.Accept, size)
					for j := range as {
						i++
						d := delivery("bench-" + strconv.Itoa(i))
						d.Payload = payload
						as[j] = queue.Accept{Delivery: d, Kind: "plan", Args: planArgs{DeliveryID: d.ID, Repo: d.Repo}}
					}
					if _, err := q.AcceptDeliveries(ctx, as); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}

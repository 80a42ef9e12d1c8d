package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/gatehouse/gatehouse/app/ghclient"
	"github.com/gatehouse/gatehouse/app/jobs"
	"github.com/gatehouse/gatehouse/app/planner"
	"github.com/gatehouse/gatehouse/app/queue"
	"github.com/gatehouse/gatehouse/app/store"
	"github.com/gatehouse/gatehouse/app/webhook"
)

func (s *Server) registerJobs(q *queue.Queue) {
	s.metrics.InitKinds(jobs.KindDelivery, jobs.KindScan, jobs.KindApproval, jobs.KindDeployment)
	q.Register(jobs.KindDelivery, func(ctx context.Context, j *queue.Job) error {
		var a jobs.Delivery
		if err := json.Unmarshal(j.Args, &a); err != nil {
			return queue.Cancel(fmt.Errorf("decode delivery job: %w", err))
		}
		err := s.timed(jobs.KindDelivery, func() error { return s.planner.Plan(ctx, a.DeliveryID) })
		if errors.Is(ghclient.Gone(err), ghclient.ErrInstallationGone) {
			return queue.Cancel(err) // uninstalled: stop, do not retry
		}
		if wait := rateLimited(err); wait > 0 {
			s.metrics.JobsSnoozed.WithLabelValues(jobs.KindDelivery, "rate_limit").Inc()
			return queue.Snooze(wait)
		}
		return err
	}, queue.KindOptions{MaxAttempts: s.cfg.MaxAttempts, Timeout: min(2*time.Minute, s.cfg.ScanTimeout)})
	q.Register(jobs.KindScan, func(ctx context.Context, j *queue.Job) error {
		var a jobs.Scan
		if err := json.Unmarshal(j.Args, &a); err != nil {
			return queue.Cancel(fmt.Errorf("decode scan job: %w", err))
		}
		if wait, reason := s.admit(ctx, j, a.InstallationID); wait > 0 {
			s.metrics.JobsSnoozed.WithLabelValues(jobs.KindScan, reason).Inc()
			return queue.Snooze(wait)
		}
		defer s.limits.Release(ctx, a.InstallationID, slotHolder(j))
		// The verdict's evidence commits with the job's completion.
		complete := func(ctx context.Context, fn func(tx *store.Tx) error) error { return j.CompleteTx(ctx, s.store, fn) }
		err := s.timed(jobs.KindScan, func() error { return s.worker.Scan(ctx, a, complete) })
		if errors.Is(ghclient.Gone(err), ghclient.ErrInstallationGone) {
			return queue.Cancel(err) // uninstalled: stop, do not retry
		}
		if wait := rateLimited(err); wait > 0 {
			s.metrics.JobsSnoozed.WithLabelValues(jobs.KindScan, "rate_limit").Inc()
			return queue.Snooze(wait) // GitHub said when: not a failed attempt
		}
		return err
	}, queue.KindOptions{MaxAttempts: s.cfg.MaxAttempts, Timeout: s.cfg.ScanTimeout})
	q.Register(jobs.KindApproval, func(ctx context.Context, j *queue.Job) error {
		var a jobs.Approval
		if err := json.Unmarshal(j.Args, &a); err != nil {
			return queue.Cancel(fmt.Errorf("decode approval job: %w", err))
		}
		complete := func(ctx context.Context, fn func(tx *store.Tx) error) error { return j.CompleteTx(ctx, s.store, fn) }
		err := s.timed(jobs.KindApproval, func() error { return s.worker.Approve(ctx, a, complete) })
		if errors.Is(ghclient.Gone(err), ghclient.ErrInstallationGone) {
			return queue.Cancel(err)
		}
		if wait := rateLimited(err); wait > 0 {
			s.metrics.JobsSnoozed.WithLabelValues(jobs.KindApproval, "rate_limit").Inc()
			return queue.Snooze(wait)
		}
		return err
	}, queue.KindOptions{MaxAttempts: s.cfg.MaxAttempts, Timeout: min(2*time.Minute, s.cfg.ScanTimeout)})
	q.Register(jobs.KindDeployment, func(ctx context.Context, j *queue.Job) error {
		var a jobs.Deployment
		if err := json.Unmarshal(j.Args, &a); err != nil {
			return queue.Cancel(fmt.Errorf("decode deployment job: %w", err))
		}
		complete := func(ctx context.Context, fn func(tx *store.Tx) error) error { return j.CompleteTx(ctx, s.store, fn) }
		err := s.timed(jobs.KindDeployment, func() error { return s.worker.Deploy(ctx, a, complete) })
		if errors.Is(ghclient.Gone(err), ghclient.ErrInstallationGone) {
			return queue.Cancel(err)
		}
		if wait := rateLimited(err); wait > 0 {
			s.metrics.JobsSnoozed.WithLabelValues(jobs.KindDeployment, "rate_limit").Inc()
			return queue.Snooze(wait)
		}
		return err
	}, queue.KindOptions{MaxAttempts: s.cfg.MaxAttempts, Timeout: s.cfg.ScanTimeout}) // a commit never scanned is scanned first
}

func (s *Server) timed(kind string, fn func() error) error {
	start := time.Now()
	running := s.metrics.JobsRunning.WithLabelValues(kind)
	running.Inc()
	defer running.Dec()
	err := fn()
	outcome := "ok"
	if err != nil {
		outcome = "error"
	}
	s.metrics.JobDuration.WithLabelValues(kind, outcome).Observe(time.Since(start).Seconds())
	return err
}

// onDiscard runs when a job used its last attempt: its check runs must not
// stay queued or in progress forever.
func (s *Server) onDiscard(ctx context.Context, j *queue.Job, cause error) {
	log := s.log.With(slog.String("kind", j.Kind), slog.Int64("job", j.ID))
	log.Error("job dead-lettered", slog.String("error", cause.Error()))
	if s.worker == nil {
		return
	}
	if j.Kind == jobs.KindDeployment {
		var d jobs.Deployment
		if err := json.Unmarshal(j.Args, &d); err != nil {
			return
		}
		if err := s.worker.FailDeployment(ctx, d, cause); err != nil {
			log.Error("could not reject the deployment", slog.String("repo", d.Repo), slog.String("sha", d.SHA), slog.String("error", err.Error()))
		}
		return
	}
	if j.Kind != jobs.KindScan {
		return
	}
	var a jobs.Scan
	if err := json.Unmarshal(j.Args, &a); err != nil {
		return
	}
	if err := s.worker.Fail(ctx, a, cause); err != nil {
		log.Error("could not mark check runs failed", slog.String("repo", a.Repo), slog.String("sha", a.HeadSHA), slog.String("error", err.Error()))
	}
}

// deliverySink stores a delivery and enqueues its planning job in one
// transaction, grouped with the deliveries arriving with it (webhook.Sink).
type deliverySink struct{ in *queue.Intake }

func (d deliverySink) Accept(ctx context.Context, w webhook.Delivery) (bool, error) {
	inserted, err := d.in.Accept(ctx, queue.Accept{
		Delivery: store.Delivery{
			ID: w.ID, Event: w.Event, Action: w.Action, InstallationID: w.InstallationID,
			Repo: w.Repo, Payload: w.Payload, ReceivedAt: w.ReceivedAt,
		},
		Kind: jobs.KindDelivery, Args: jobs.Delivery{DeliveryID: w.ID},
	})
	if errors.Is(err, queue.ErrOverloaded) || errors.Is(err, queue.ErrIntakeClosed) {
		return false, fmt.Errorf("%w: %w", webhook.ErrBusy, err)
	}
	return inserted, err
}

// deliverySource reads stored deliveries (planner.DeliverySource).
type deliverySource struct{ st *store.Store }

func (d deliverySource) Delivery(ctx context.Context, id string) (planner.Delivery, error) {
	del, err := d.st.GetDelivery(ctx, id)
	if err != nil {
		return planner.Delivery{}, err
	}
	return planner.Delivery{ID: del.ID, Event: del.Event, Payload: del.Payload, ReceivedAt: del.ReceivedAt}, nil
}

// scanQueue enqueues scans (planner.Enqueuer): one job per delivery and
// commit, so a retried planner does not enqueue twice.
type scanQueue struct {
	q           *queue.Queue
	maxAttempts int
}

func (sq scanQueue) EnqueueScan(ctx context.Context, a jobs.Scan, at time.Time) error {
	return sq.q.Enqueue(ctx, jobs.KindScan, a, queue.EnqueueOpts{
		UniqueKey: "scan:" + a.DeliveryID + ":" + a.Repo + ":" + a.HeadSHA, MaxAttempts: sq.maxAttempts, ScheduledAt: at,
	})
}

// EnqueueApproval enqueues the decision on an approving review, once per
// delivery.
func (sq scanQueue) EnqueueApproval(ctx context.Context, a jobs.Approval) error {
	return sq.q.Enqueue(ctx, jobs.KindApproval, a, queue.EnqueueOpts{UniqueKey: "approval:" + a.DeliveryID, MaxAttempts: sq.maxAttempts})
}

// EnqueueDeployment enqueues the answer to a deployment protection rule,
// once per delivery.
func (sq scanQueue) EnqueueDeployment(ctx context.Context, d jobs.Deployment) error {
	return sq.q.Enqueue(ctx, jobs.KindDeployment, d, queue.EnqueueOpts{UniqueKey: "deployment:" + d.DeliveryID, MaxAttempts: sq.maxAttempts})
}

// family is a bounded label for a GitHub API route.
func family(r *http.Request) string {
	if r == nil {
		return "unknown"
	}
	p := r.URL.Path
	for _, f := range []string{"check-runs", "access_tokens", "pulls", "issues", "contents", "collaborators", "compare", "tarball", "code-scanning", "deployment_protection_rule", "installation"} {
		if strings.Contains(p, "/"+f) {
			return f
		}
	}
	if strings.HasSuffix(p, ".git/info/refs") || strings.HasSuffix(p, "git-upload-pack") {
		return "git"
	}
	return "other"
}

package githubtest

import (
	"bytes"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/tidwall/gjson"
)

// HookDelivery is one attempt in the app's webhook delivery log, as GitHub
// keeps it (GET /app/hook/deliveries): a first delivery or a redelivery of
// the same GUID, with the status the receiver answered (0 when it could
// not be reached).
type HookDelivery struct {
	ID             int64
	GUID           string
	DeliveredAt    time.Time
	Redelivery     bool
	StatusCode     int
	Status         string
	Event          string
	Action         string
	InstallationID int64
	RepositoryID   int64

	payload []byte
}

// SetWebhook sets where the app's webhook deliveries go and the secret
// they are signed with (the app's webhook configuration on GitHub).
func (s *Server) SetWebhook(target string, secret []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.hookURL, s.hookSecret = target, secret
}

// SendWebhook delivers an event to the configured webhook URL as GitHub
// does, signed, with a new delivery GUID, and records the attempt in the
// delivery log whatever the outcome (the receiver down, a 503…). GitHub
// does not retry a failed delivery on its own; neither does this.
func (s *Server) SendWebhook(event string, payload []byte) HookDelivery {
	guid := newGUID()
	return s.deliver(guid, event, payload, false)
}

// HookDeliveries returns the delivery log, oldest first.
func (s *Server) HookDeliveries() []HookDelivery {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]HookDelivery, len(s.hookLog))
	for i, d := range s.hookLog {
		out[i] = *d
	}
	return out
}

// deliver posts one attempt and logs it.
func (s *Server) deliver(guid, event string, payload []byte, redelivery bool) HookDelivery {
	s.mu.Lock()
	target, secret := s.hookURL, s.hookSecret
	s.mu.Unlock()
	d := &HookDelivery{
		GUID: guid, Redelivery: redelivery, Event: event, DeliveredAt: s.now().UTC().Truncate(time.Second),
		Action:         gjson.GetBytes(payload, "action").String(),
		InstallationID: gjson.GetBytes(payload, "installation.id").Int(),
		RepositoryID:   gjson.GetBytes(payload, "repository.id").Int(),
		payload:        payload,
	}
	d.StatusCode, d.Status = post(target, secret, guid, event, payload)
	d.ID = s.newID()
	s.mu.Lock()
	s.hookLog = append(s.hookLog, d)
	s.mu.Unlock()
	return *d
}

// post sends one signed delivery and returns GitHub's view of the answer.
func post(target string, secret []byte, guid, event string, payload []byte) (int, string) {
	if target == "" {
		return 0, "no webhook URL configured"
	}
	req, err := http.NewRequest(http.MethodPost, target, bytes.NewReader(payload))
	if err != nil {
		return 0, "invalid URL"
	}
	mac := hmac.New(sha256.New, secret)
	mac.Write(payload)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "GitHub-Hookshot/fake")
	req.Header.Set("X-GitHub-Event", event)
	req.Header.Set("X-GitHub-Delivery", guid)
	req.Header.Set("X-Hub-Signature-256", "sha256="+hex.EncodeToString(mac.Sum(nil)))
	client := &http.Client{Timeout: 10 * time.Second} // GitHub's limit
	resp, err := client.Do(req)
	if err != nil {
		return 0, "failed to connect to host"
	}
	resp.Body.Close()
	if resp.StatusCode >= 200 && resp.StatusCode < 400 {
		return resp.StatusCode, "OK"
	}
	return resp.StatusCode, "Invalid HTTP Response: " + strconv.Itoa(resp.StatusCode)
}

func newGUID() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:])
}

// hookDeliveryJSON is an entry of the delivery log as the API shows it.
func hookDeliveryJSON(d *HookDelivery) obj {
	var action any
	if d.Action != "" {
		action = d.Action
	}
	var inst, repo any
	if d.InstallationID != 0 {
		inst = d.InstallationID
	}
	if d.RepositoryID != 0 {
		repo = d.RepositoryID
	}
	return obj{
		"id": d.ID, "guid": d.GUID, "delivered_at": d.DeliveredAt.Format(time.RFC3339), "redelivery": d.Redelivery,
		"duration": 0.01, "status": d.Status, "status_code": d.StatusCode, "event": d.Event, "action": action,
		"installation_id": inst, "repository_id": repo,
	}
}

// listHookDeliveries answers GET /app/hook/deliveries: newest first, cursor
// pagination (the cursor is the id of the first entry of the next page),
// optionally only successes (status_code 200-399) or failures (400-599).
func (c *call) listHookDeliveries() {
	q := c.r.URL.Query()
	perPage, err := strconv.Atoi(q.Get("per_page"))
	if err != nil || perPage <= 0 {
		perPage = defaultPerPage
	}
	perPage = min(perPage, maxPerPage)
	var cursor int64
	if v := q.Get("cursor"); v != "" {
		if cursor, err = strconv.ParseInt(v, 10, 64); err != nil {
			c.fail(http.StatusBadRequest, "Invalid cursor")
			return
		}
	}
	status := q.Get("status")
	c.s.mu.Lock()
	var all []*HookDelivery
	for i := len(c.s.hookLog) - 1; i >= 0; i-- {
		d := c.s.hookLog[i]
		ok := d.StatusCode >= 200 && d.StatusCode < 400
		if (status == "success" && !ok) || (status == "failure" && (d.StatusCode < 400 || d.StatusCode > 599)) {
			continue
		}
		if cursor != 0 && d.ID > cursor {
			continue
		}
		all = append(all, d)
	}
	out := []any{}
	for _, d := range all[:min(len(all), perPage)] {
		out = append(out, hookDeliveryJSON(d))
	}
	if len(all) > perPage {
		q.Set("cursor", strconv.FormatInt(all[perPage].ID, 10))
		q.Set("per_page", strconv.Itoa(perPage))
		u := url.URL{Path: c.r.URL.Path, RawQuery: q.Encode()}
		c.w.Header().Set("Link", fmt.Sprintf(`<%s%s>; rel="next"`, c.s.srv.URL, u.String()))
	}
	c.s.mu.Unlock()
	c.respond(http.StatusOK, out)
}

// redeliverHookDelivery answers POST /app/hook/deliveries/{id}/attempts:
// the delivery is sent again with its GUID (before answering, so that a
// test sees its effect at once) and the new attempt is logged.
func (c *call) redeliverHookDelivery() {
	id := c.intParam("delivery_id")
	c.s.mu.Lock()
	var d *HookDelivery
	for _, x := range c.s.hookLog {
		if x.ID == id {
			d = x
		}
	}
	c.s.mu.Unlock()
	if d == nil {
		c.fail(http.StatusNotFound, "Not Found")
		return
	}
	c.s.deliver(d.GUID, d.Event, d.payload, true)
	c.respond(http.StatusAccepted, obj{})
}

package githubtest

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
)

// call is one REST API request being answered.
type call struct {
	s      *Server
	w      http.ResponseWriter
	r      *http.Request
	req    *Request
	route  *route
	params map[string]string
	body   []byte
	in     *openapi3filter.RequestValidationInput
	auth   authInfo
	repo   *Repo // the repository of a /repos route, once authorized
}

// handler answers one operation, keyed by the description's operationId.
type handler func(c *call)

func (s *Server) handlers() map[string]handler {
	return map[string]handler{
		"apps/get-authenticated":                     (*call).getApp,
		"apps/list-installations":                    (*call).listInstallations,
		"apps/create-installation-access-token":      (*call).createInstallationToken,
		"apps/list-repos-accessible-to-installation": (*call).listInstallationRepos,
		"apps/create-from-manifest":                  (*call).createFromManifest,
		"apps/list-webhook-deliveries":               (*call).listHookDeliveries,
		"apps/redeliver-webhook-delivery":            (*call).redeliverHookDelivery,
		"checks/create":                              (*call).createCheckRun,
		"checks/update":                              (*call).updateCheckRun,
		"checks/list-for-ref":                        (*call).listCheckRunsForRef,
		"checks/list-annotations":                    (*call).listAnnotations,
		"repos/get":                                  (*call).getRepo,
		"repos/get-content":                          (*call).getContent,
		"repos/download-tarball-archive":             (*call).downloadTarball,
		"repos/compare-commits-with-basehead":        (*call).compare,
		"repos/get-collaborator-permission-level":    (*call).getPermission,
		"pulls/get":                                  (*call).getPull,
		"pulls/list-files":                           (*call).listPullFiles,
		"pulls/create-review":                        (*call).createReview,
		"pulls/list-review-comments":                 (*call).listReviewComments,
		"pulls/create-reply-for-review-comment":      (*call).createReply,
		"pulls/update-review-comment":                (*call).updateReviewComment,
		"issues/list-comments":                       (*call).listIssueComments,
		"issues/create-comment":                      (*call).createIssueComment,
		"issues/update-comment":                      (*call).updateIssueComment,
		"reactions/create-for-issue-comment":         (*call).createReaction,
		"code-scanning/upload-sarif":                 (*call).uploadSARIF,
		"actions/review-custom-gates-for-run":        (*call).reviewCustomGates,
	}
}

// serveAPI routes, validates, authenticates and dispatches a REST request.
func (s *Server) serveAPI(w http.ResponseWriter, r *http.Request, path string, body []byte, req *Request) {
	c := &call{s: s, w: w, r: r, req: req, body: body}
	if r.Header.Get("User-Agent") == "" {
		c.violation(http.StatusForbidden, "missing User-Agent header",
			"Request forbidden by administrative rules. Please make sure your request has a User-Agent header (https://docs.github.com/en/rest/overview/resources-in-the-rest-api#user-agent-required). Check https://developer.github.com for other possible causes.")
		return
	}
	rt, params, err := s.spec.find(r.Method, path)
	if err != nil {
		c.violation(http.StatusNotFound, err.Error(), "Not Found")
		return
	}
	c.route, c.params = rt, params
	req.OperationID = rt.operationID()
	if !c.validate() {
		return
	}
	h := s.handlers()[rt.operationID()]
	if h == nil {
		s.tb.Errorf("githubtest: %s %s: operation %s is in the description but the fake has no handler", r.Method, r.URL.Path, rt.operationID())
		c.fail(http.StatusNotImplemented, "Not implemented by githubtest")
		return
	}
	if !c.authorize() {
		return
	}
	c.setRateHeaders()
	h(c)
}

// validate checks the request against the description and answers as
// GitHub would when it does not match.
func (c *call) validate() bool {
	vr := c.r.Clone(c.r.Context())
	body := c.body
	if rb := c.route.op.RequestBody; string(bytes.TrimSpace(body)) == "null" && (rb == nil || rb.Value == nil || !rb.Value.Required) {
		// GitHub reads a JSON null as no parameters where the body is
		// optional (go-github sends one for nil options).
		body = nil
	}
	vr.Body = io.NopCloser(bytes.NewReader(body))
	vr.ContentLength = int64(len(body))
	vr.URL.Path = c.r.URL.Path
	if len(body) > 0 && vr.Header.Get("Content-Type") == "" {
		// GitHub reads a body without Content-Type as JSON.
		vr.Header.Set("Content-Type", "application/json")
	}
	c.in = &openapi3filter.RequestValidationInput{
		Request:    vr,
		PathParams: c.params,
		Route:      c.route.kinRoute(),
		Options: &openapi3filter.Options{
			AuthenticationFunc:  openapi3filter.NoopAuthenticationFunc,
			SkipSettingDefaults: true,
			MultiError:          true,
		},
	}
	err := openapi3filter.ValidateRequest(c.r.Context(), c.in)
	if err == nil {
		return true
	}
	status, message := http.StatusUnprocessableEntity, "Invalid request.\n\n"+err.Error()
	var reqErr *openapi3filter.RequestError
	if errors.As(err, &reqErr) {
		switch {
		case reqErr.Parameter != nil && reqErr.Parameter.In == openapi3.ParameterInPath:
			status, message = http.StatusNotFound, "Not Found"
		case reqErr.RequestBody != nil && !json.Valid(c.body):
			status, message = http.StatusBadRequest, "Problems parsing JSON"
		}
	}
	c.violationErr(status, err.Error(), message, nil)
	return false
}

// param returns a path parameter.
func (c *call) param(name string) string { return c.params[name] }

// intParam returns a numeric path parameter (validated by the description).
func (c *call) intParam(name string) int64 {
	n, _ := strconv.ParseInt(c.params[name], 10, 64)
	return n
}

// decode reads the JSON body into v. The body has been validated already.
func (c *call) decode(v any) bool {
	if len(c.body) == 0 {
		return true
	}
	if err := json.Unmarshal(c.body, v); err != nil {
		c.violation(http.StatusBadRequest, "body is not JSON: "+err.Error(), "Problems parsing JSON")
		return false
	}
	return true
}

// violation answers a request that breaks GitHub's rules and fails the test
// unless the server allows rejections.
func (c *call) violation(status int, reason, message string) {
	c.violationErr(status, reason, message, nil)
}

// violationErr is violation with GitHub's "errors" list.
func (c *call) violationErr(status int, reason, message string, errs []any) {
	c.req.Violation = reason
	if !c.s.allowRejections {
		c.s.tb.Errorf("githubtest: %s %s rejected with %d: %s", c.r.Method, c.r.URL.Path, status, reason)
	}
	writeErrorList(c.w, status, message, c.docURL(), errs)
}

// fail answers with a GitHub error that is not a client mistake (404 for a
// missing file, 401 for an expired token): the test is not failed.
func (c *call) fail(status int, message string) {
	writeError(c.w, status, message, c.docURL())
}

func (c *call) docURL() string {
	if c.route != nil && c.route.op.ExternalDocs != nil {
		return c.route.op.ExternalDocs.URL
	}
	return "https://docs.github.com/rest"
}

// writeError writes GitHub's JSON error body.
func writeError(w http.ResponseWriter, status int, message, docURL string) {
	writeErrorList(w, status, message, docURL, nil)
}

func writeErrorList(w http.ResponseWriter, status int, message, docURL string, errs []any) {
	if docURL == "" {
		docURL = "https://docs.github.com/rest"
	}
	body := obj{"message": message, "documentation_url": docURL, "status": strconv.Itoa(status)}
	if len(errs) > 0 {
		body["errors"] = errs
	}
	data, _ := json.Marshal(body)
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write(data)
}

// respond completes v to the operation's response schema for status, checks
// the result against the description (a mismatch is a bug in the fake and
// fails the test) and writes it.
func (c *call) respond(status int, v any) {
	if schema := c.route.responseSchema(status); schema != nil {
		v = shape(schema, v)
	}
	data, err := json.Marshal(v)
	if err != nil {
		c.s.tb.Errorf("githubtest: encode %s response: %v", c.route.operationID(), err)
		c.fail(http.StatusInternalServerError, "Server Error")
		return
	}
	c.w.Header().Set("Content-Type", "application/json; charset=utf-8")
	c.checkResponse(status, data)
	c.w.WriteHeader(status)
	_, _ = c.w.Write(data)
}

// checkResponse validates the fake's own answer against the description.
func (c *call) checkResponse(status int, data []byte) {
	if c.route.op.Responses.Status(status) == nil {
		c.s.tb.Errorf("githubtest: %s answers %d, which the description does not list", c.route.operationID(), status)
		return
	}
	in := &openapi3filter.ResponseValidationInput{
		RequestValidationInput: c.in,
		Status:                 status,
		Header:                 c.w.Header(),
		Body:                   io.NopCloser(bytes.NewReader(data)),
		Options:                &openapi3filter.Options{MultiError: true},
	}
	if err := openapi3filter.ValidateResponse(c.r.Context(), in); err != nil {
		c.s.tb.Errorf("githubtest: the fake's %d answer to %s does not match the description: %v", status, c.route.operationID(), err)
	}
}

// apiURL is an absolute API URL on this server for a path like "repos/o/r".
func (c *call) apiURL(format string, args ...any) string {
	return c.s.srv.URL + "/" + strings.TrimPrefix(fmt.Sprintf(format, args...), "/")
}

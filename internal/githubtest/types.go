package githubtest

import "time"

// Token is an installation access token the server issued.
type Token struct {
	Token          string
	InstallationID int64
	IssuedAt       time.Time
	ExpiresAt      time.Time
	// Repositories narrows the token to these "owner/name" repositories;
	// nil means every repository of the installation.
	Repositories []string
	Permissions  map[string]string

	revoked bool
}

// Request is one HTTP request the server received.
type Request struct {
	Method string
	Path   string // as received, without the query
	Query  string
	Body   []byte
	Status int
	// OperationID is the description's operation ("checks/create"), or "git",
	// "codeload", "settings/apps/new"; empty for an unknown route.
	OperationID string
	// Auth is how the request authenticated: "none", "jwt", "token", "basic".
	Auth           string
	InstallationID int64
	// Violation says which GitHub rule the request broke, if any.
	Violation string
	// Fault is set when the answer came from FailNext.
	Fault bool
	// At is when the request arrived; Took how long the fake took to
	// answer it (its own validation included).
	At   time.Time
	Took time.Duration
}

// PullRequest describes a pull request. AddPullRequest fills the fields left
// empty.
type PullRequest struct {
	Number int
	Title  string
	Body   string
	User   string // author login (default "octocat")
	// HeadRepo is the "owner/name" the head branch lives in; empty means the
	// base repository. A fork added with AddFork may be left out of every
	// installation.
	HeadRepo string
	HeadRef  string // branch in HeadRepo
	HeadSHA  string // default: tip of HeadRef
	BaseRef  string // default: the repository's default branch
	BaseSHA  string // default: tip of BaseRef
	State    string // "open" (default) or "closed"
	Draft    bool
}

// CheckRunOutput is a check run's output.
type CheckRunOutput struct {
	Title   string
	Summary string
	Text    string
}

// Annotation is one check-run annotation as the app sent it.
type Annotation struct {
	Path            string
	StartLine       int
	EndLine         int
	StartColumn     int // 0 when not sent
	EndColumn       int // 0 when not sent
	AnnotationLevel string
	Message         string
	Title           string
	RawDetails      string
}

// Transition is one state a check run was put in by a create or update.
type Transition struct {
	Status     string
	Conclusion string
}

// CheckRun is a check run and its history.
type CheckRun struct {
	ID          int64
	Repo        string // "owner/name"
	Name        string
	HeadSHA     string
	ExternalID  string
	DetailsURL  string
	Status      string
	Conclusion  string
	StartedAt   string
	CompletedAt string
	Output      CheckRunOutput
	// Annotations holds every annotation sent, appended across updates.
	Annotations []Annotation
	// Transitions lists the status and conclusion after each create or
	// update request, in order.
	Transitions []Transition
	// Requests counts the create and update requests for this run.
	Requests int
}

// Review is a pull request review.
type Review struct {
	ID         int64
	Repo       string
	PullNumber int
	User       string
	CommitID   string
	Body       string
	Event      string // as sent: APPROVE, REQUEST_CHANGES, COMMENT or ""
	State      string // APPROVED, CHANGES_REQUESTED, COMMENTED, PENDING
	CommentIDs []int64
}

// ReviewComment is a pull request review comment.
type ReviewComment struct {
	ID         int64
	Repo       string
	PullNumber int
	ReviewID   int64
	InReplyTo  int64
	User       string
	CommitID   string
	Path       string
	Line       int
	StartLine  int
	Side       string
	StartSide  string
	Position   int
	// SubjectType is "line" or "file".
	SubjectType string
	DiffHunk    string
	Body        string
	// Edits counts updates of the body.
	Edits int
}

// IssueComment is a comment on an issue or pull request conversation.
type IssueComment struct {
	ID          int64
	Repo        string
	IssueNumber int
	User        string
	Body        string
	Edits       int
}

// Reaction is a reaction to an issue comment.
type Reaction struct {
	ID        int64
	Repo      string
	CommentID int64
	User      string
	Content   string
}

// SARIFUpload is an uploaded code-scanning analysis.
type SARIFUpload struct {
	ID        string
	Repo      string
	CommitSHA string
	Ref       string
	ToolName  string
	// SARIF is the decoded (base64, then gunzip) document.
	SARIF []byte
}

// Manifest is a GitHub App manifest posted to the app-creation form.
type Manifest struct {
	Code     string
	State    string
	Org      string // empty for a user-owned app
	Manifest map[string]any
	// Converted is set once the code was exchanged for credentials.
	Converted bool
	// WebhookSecret is the secret handed out by the conversion.
	WebhookSecret string
}

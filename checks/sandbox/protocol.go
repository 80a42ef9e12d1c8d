package sandbox

import (
	"github.com/gatehouse/gatehouse/checks"
)

// The parent and the child speak JSON over the child's stdin and stdout:
//
//	parent → child   childConfig  (one JSON value, right after start)
//	child  → parent  readyMsg     (one line, once hardened and the engines are loaded)
//	parent → child   jobMsg       (one JSON value; then stdin is closed)
//	child  → parent  resultMsg    (the rest of stdout, capped by Limits.MaxOutput)
//
// The child then exits: one job per process.

// childConfig is what the parent decided about the child. It comes from
// the parent, so the child trusts it.
type childConfig struct {
	Mode Mode `json:"mode"`
	// DetectOnly asks the child to apply its start-up layers, report them
	// and exit without loading the engines (layer detection at start-up).
	DetectOnly bool   `json:"detect_only,omitempty"`
	DataDir    string `json:"data_dir"`
	DBDir      string `json:"db_dir"`
	Scratch    string `json:"scratch"`
	// ReadPaths may be read (and, for ExecPaths, executed) once Landlock
	// is on, besides the checkout, the DB and the scratch directory.
	ReadPaths []string `json:"read_paths,omitempty"`
	ExecPaths []string `json:"exec_paths,omitempty"`
	Limits    Limits   `json:"limits"`
	LogLevel  string   `json:"log_level,omitempty"`
}

// readyMsg is the child's first line: the layers it applied at start-up
// and whether its engines loaded.
type readyMsg struct {
	Layers     []Layer `json:"layers"`
	LoadMillis int64   `json:"load_ms"`
	Err        string  `json:"error,omitempty"`
}

// jobMsg is the one job a child serves.
type jobMsg struct {
	Request checks.Request `json:"request"`
}

// resultMsg is the child's answer. SBOMs carries Result.SBOM, which
// checks.Result keeps out of its own JSON.
type resultMsg struct {
	Response *checks.Response  `json:"response,omitempty"`
	SBOMs    map[string][]byte `json:"sboms,omitempty"`
	// Layers are the layers applied for the job (Landlock is applied only
	// once the checkout is known).
	Layers []Layer `json:"layers,omitempty"`
	Err    string  `json:"error,omitempty"`
}

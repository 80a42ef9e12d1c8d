package sandbox

import (
	"fmt"
	"slices"
	"strings"
)

// Layer is one isolation layer and whether it is in force.
type Layer struct {
	Name   string `json:"name"`
	Active bool   `json:"active"`
	// Detail says what the layer does, or why it is unavailable.
	Detail string `json:"detail,omitempty"`
}

// Names of the layers, in the order they are reported.
const (
	LayerUserNS       = "user-namespace"
	LayerMountNS      = "mount-namespace"
	LayerPIDNS        = "pid-namespace"
	LayerNetNS        = "network-namespace"
	LayerIPCNS        = "ipc-namespace"
	LayerUTSNS        = "uts-namespace"
	LayerUnprivileged = "unprivileged-user"
	LayerNoNewPrivs   = "no-new-privs"
	LayerSeccomp      = "seccomp"
	LayerLandlock     = "landlock"
	LayerRlimits      = "rlimits"
	LayerTimeout      = "timeout"
	LayerEnv          = "scrubbed-env"
)

// layerOrder lists every layer strict mode requires.
var layerOrder = []string{
	LayerUserNS, LayerMountNS, LayerPIDNS, LayerNetNS, LayerIPCNS, LayerUTSNS,
	LayerUnprivileged, LayerNoNewPrivs, LayerSeccomp, LayerLandlock, LayerRlimits,
	LayerTimeout, LayerEnv,
}

// Status is what /readyz and the start-up log show about the sandbox.
type Status struct {
	Mode   Mode    `json:"mode"`
	Layers []Layer `json:"layers"`
	// Missing names the layers that are not active.
	Missing []string `json:"missing,omitempty"`
	// Warm is how many children are ready for a job right now.
	Warm int `json:"warm"`
	// LastStartError is why the last child failed to start, if it did.
	LastStartError string `json:"last_start_error,omitempty"`
}

// OK reports whether the sandbox can scan: in strict mode every layer must
// be active; in auto and off mode scanning always proceeds.
func (s Status) OK() bool {
	return s.Mode != ModeStrict || len(s.Missing) == 0
}

// String is a one-line summary for logs: "auto: 12 active, missing: landlock (...)".
func (s Status) String() string {
	active := 0
	var missing []string
	for _, l := range s.Layers {
		if l.Active {
			active++
		} else {
			missing = append(missing, fmt.Sprintf("%s (%s)", l.Name, l.Detail))
		}
	}
	out := fmt.Sprintf("%s: %d of %d layers active", s.Mode, active, len(s.Layers))
	if len(missing) > 0 {
		out += "; missing: " + strings.Join(missing, "; ")
	}
	return out
}

// mergeLayers combines the parent's view with a child's report: the
// child's entry wins for a layer it reports (it applied it), and every
// required layer appears, unavailable when nobody reported it.
func mergeLayers(parent, child []Layer) []Layer {
	byName := map[string]Layer{}
	for _, l := range parent {
		byName[l.Name] = l
	}
	for _, l := range child {
		byName[l.Name] = l
	}
	out := make([]Layer, 0, len(byName))
	for _, name := range layerOrder {
		l, ok := byName[name]
		if !ok {
			l = Layer{Name: name, Detail: "not reported by the child"}
		}
		out = append(out, l)
		delete(byName, name)
	}
	extra := make([]string, 0, len(byName))
	for name := range byName {
		extra = append(extra, name)
	}
	slices.Sort(extra)
	for _, name := range extra {
		out = append(out, byName[name])
	}
	return out
}

// missing names the inactive layers.
func missing(layers []Layer) []string {
	var out []string
	for _, l := range layers {
		if !l.Active {
			out = append(out, l.Name)
		}
	}
	return out
}

// offLayers is the report of ModeOff: nothing but the parent's own limits.
func offLayers() []Layer {
	var out []Layer
	for _, name := range layerOrder {
		switch name {
		case LayerTimeout, LayerEnv:
			continue
		}
		out = append(out, Layer{Name: name, Detail: "sandbox mode off"})
	}
	return out
}

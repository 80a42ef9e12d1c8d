//go:build !linux

package sandbox

import (
	"os"
	"syscall"
)

// Outside Linux there are no namespaces, Landlock or seccomp: auto mode
// reports every layer unavailable, strict mode refuses, off mode works.

type nsVariant struct {
	name  string
	flags uintptr
}

func variants(Mode) []nsVariant { return []nsVariant{{name: "none"}} }

func sysProcAttr(nsVariant, Mode, int, int) *syscall.SysProcAttr { return nil }

func namespaceLayers(_ nsVariant, _ Mode, _ string) []Layer {
	var out []Layer
	for _, name := range []string{LayerUserNS, LayerMountNS, LayerPIDNS, LayerNetNS, LayerIPCNS, LayerUTSNS} {
		out = append(out, Layer{Name: name, Detail: "needs Linux"})
	}
	return out
}

func killGroup(p *os.Process) {
	if p != nil {
		_ = p.Kill()
	}
}

func hardenStart(childConfig) []Layer {
	var out []Layer
	for _, name := range []string{LayerNoNewPrivs, LayerSeccomp, LayerRlimits, LayerUnprivileged, LayerLandlock} {
		out = append(out, Layer{Name: name, Detail: "needs Linux"})
	}
	return out
}

func setCPULimit(int) error { return nil }

func applyLandlock(childConfig, string) Layer {
	return Layer{Name: LayerLandlock, Detail: "needs Linux"}
}

func protocolOut() (*os.File, error) { return os.Stdout, nil }

func runInit() (bool, error) { return false, nil }

func sharesTrees(nsVariant, Mode) bool { return false }

func shareTree(string) (*os.File, error) { return nil, nil }

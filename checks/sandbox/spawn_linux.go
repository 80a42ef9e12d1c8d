//go:build linux

package sandbox

import (
	"fmt"
	"os"
	"syscall"
)

// nsVariant is one way of creating the child's namespaces. New tries them
// in order and keeps the first one the host allows.
type nsVariant struct {
	name  string
	flags uintptr
}

var namespaceFlags = []struct {
	layer string
	flag  uintptr
}{
	{LayerUserNS, syscall.CLONE_NEWUSER},
	{LayerMountNS, syscall.CLONE_NEWNS},
	{LayerPIDNS, syscall.CLONE_NEWPID},
	{LayerNetNS, syscall.CLONE_NEWNET},
	{LayerIPCNS, syscall.CLONE_NEWIPC},
	{LayerUTSNS, syscall.CLONE_NEWUTS},
}

const allNamespaces = syscall.CLONE_NEWUSER | syscall.CLONE_NEWNS | syscall.CLONE_NEWPID |
	syscall.CLONE_NEWNET | syscall.CLONE_NEWIPC | syscall.CLONE_NEWUTS

// variants lists what to try: every namespace, then none at all.
func variants(mode Mode) []nsVariant {
	switch mode {
	case ModeOff:
		return []nsVariant{{name: "none"}}
	case ModeStrict:
		return []nsVariant{{name: "all", flags: allNamespaces}}
	}
	return []nsVariant{{name: "all", flags: allNamespaces}, {name: "none"}}
}

// sysProcAttr starts the child in its own process group (the timeout kills
// the group), with SIGKILL when the parent dies, in the variant's
// namespaces.
//
// In a user namespace, the namespace's root is mapped to uid:gid on the
// host and nothing else is mapped: host root does not exist inside. The
// child starts as process 1 of its PID namespace with capabilities over
// its own namespaces only; it uses them to mount its own /proc and drops
// them all before the real child starts (runInit). Without namespaces, a
// root parent starts the child directly as uid:gid.
func sysProcAttr(v nsVariant, mode Mode, uid, gid int) *syscall.SysProcAttr {
	attr := &syscall.SysProcAttr{
		Setpgid:    true,
		Pdeathsig:  syscall.SIGKILL,
		Cloneflags: v.flags,
	}
	switch {
	case mode == ModeOff:
	case v.flags&syscall.CLONE_NEWUSER != 0:
		attr.UidMappings = []syscall.SysProcIDMap{{ContainerID: 0, HostID: uid, Size: 1}}
		attr.GidMappings = []syscall.SysProcIDMap{{ContainerID: 0, HostID: gid, Size: 1}}
		attr.GidMappingsEnableSetgroups = false
		// Become the namespace's root (uid:gid on the host) before exec,
		// or exec would drop the namespace capabilities init needs.
		attr.Credential = &syscall.Credential{Uid: 0, Gid: 0, NoSetGroups: true}
	case os.Geteuid() == 0:
		attr.Credential = &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid), Groups: []uint32{}}
	}
	return attr
}

// namespaceLayers reports the namespaces a variant gives the child; why
// names the failure of the richer variants tried before it.
func namespaceLayers(v nsVariant, mode Mode, why string) []Layer {
	var out []Layer
	for _, ns := range namespaceFlags {
		l := Layer{Name: ns.layer}
		switch {
		case mode == ModeOff:
			l.Detail = "sandbox mode off"
		case v.flags&ns.flag != 0:
			l.Active = true
			l.Detail = namespaceDetail(ns.layer)
		default:
			l.Detail = fmt.Sprintf("unavailable on this host: %s", why)
		}
		out = append(out, l)
	}
	return out
}

func namespaceDetail(layer string) string {
	switch layer {
	case LayerUserNS:
		return "only the sandbox user is mapped; host root does not exist inside"
	case LayerMountNS:
		return "mount changes stay private"
	case LayerPIDNS:
		return "the child sees only its own processes; its exit kills them all"
	case LayerNetNS:
		return "no network interface but a downed loopback: no network at all"
	case LayerIPCNS:
		return "no shared memory or message queues with the host"
	case LayerUTSNS:
		return "private host name"
	}
	return ""
}

// killGroup kills the child's process group. In a PID namespace, killing
// the child (its init) kills every process of the namespace as well.
func killGroup(p *os.Process) {
	if p == nil {
		return
	}
	_ = syscall.Kill(-p.Pid, syscall.SIGKILL)
	_ = p.Kill()
}

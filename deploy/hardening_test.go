package deploy

import (
	"slices"
	"strconv"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// TestPodsAreHardened checks every Deployment of every values set: non-root
// with a read-only root filesystem and writable emptyDir or claim volumes
// only where gatehouse writes, no privilege escalation, no capabilities,
// the runtime's seccomp profile, no service account token, probes on the
// right endpoints and resources bounded.
func TestPodsAreHardened(t *testing.T) {
	for name, vals := range map[string]map[string]any{
		"defaults":          nil,
		"scaled":            valuesFile(t, "values-scaled.yaml"),
		"sqlite, ephemeral": {"all": map[string]any{"persistence": map[string]any{"enabled": false}}},
	} {
		t.Run(name, func(t *testing.T) {
			for _, d := range all[*appsv1.Deployment](decodeAll(t, mustRender(t, vals))) {
				t.Run(d.Name, func(t *testing.T) { checkPod(t, d) })
			}
		})
	}
}

func checkPod(t *testing.T, d *appsv1.Deployment) {
	pod := d.Spec.Template.Spec
	if !selects(d.Spec.Selector.MatchLabels, d.Spec.Template.Labels) {
		t.Errorf("selector %v does not match the pod labels %v", d.Spec.Selector.MatchLabels, d.Spec.Template.Labels)
	}
	if pod.AutomountServiceAccountToken == nil || *pod.AutomountServiceAccountToken {
		t.Error("the service account token is mounted; gatehouse never calls the Kubernetes API")
	}
	if psc := pod.SecurityContext; psc == nil || !isTrue(psc.RunAsNonRoot) || !runtimeDefault(psc.SeccompProfile) {
		t.Errorf("pod securityContext %+v: want runAsNonRoot and seccomp RuntimeDefault", psc)
	}
	if len(pod.Containers) != 1 || len(pod.InitContainers) != 0 {
		t.Errorf("%d containers and %d init containers, want the gatehouse container alone",
			len(pod.Containers), len(pod.InitContainers))
	}
	c := container(t, d)
	checkSecurityContext(t, c.SecurityContext)
	checkWritableMounts(t, d, c)
	checkProbes(t, c)
	checkResources(t, c.Resources)

	keyPath := envValue(c, "GATEHOUSE_PRIVATE_KEY_PATH")
	mounted := false
	for _, m := range c.VolumeMounts {
		if m.Name == "secret" {
			mounted = m.ReadOnly && m.MountPath+"/private-key" == keyPath
		}
	}
	sec := volume(t, d, "secret").Secret
	if !mounted || sec == nil || sec.DefaultMode == nil || *sec.DefaultMode&0o007 != 0 {
		t.Errorf("private key: want a read-only secret mount at %s, not world-readable (volume %+v)", keyPath, sec)
	}
}

func checkSecurityContext(t *testing.T, sc *corev1.SecurityContext) {
	t.Helper()
	switch {
	case sc == nil:
		t.Fatal("container has no securityContext")
	case !isTrue(sc.RunAsNonRoot) || sc.RunAsUser == nil || *sc.RunAsUser == 0:
		t.Errorf("runAsNonRoot %v runAsUser %v: want a non-root numeric user", sc.RunAsNonRoot, sc.RunAsUser)
	case !isTrue(sc.ReadOnlyRootFilesystem):
		t.Error("root filesystem is writable")
	case sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation:
		t.Error("privilege escalation is allowed")
	case isTrue(sc.Privileged):
		t.Error("container is privileged")
	case sc.Capabilities == nil || !slices.Contains(sc.Capabilities.Drop, "ALL") || len(sc.Capabilities.Add) > 0:
		t.Errorf("capabilities %+v: want drop ALL, add none", sc.Capabilities)
	case !runtimeDefault(sc.SeccompProfile):
		t.Errorf("seccomp %+v: want RuntimeDefault", sc.SeccompProfile)
	}
}

// checkWritableMounts: with a read-only root, /tmp and the data directory
// must be volumes, bounded emptyDirs or a claim, never a host path.
func checkWritableMounts(t *testing.T, d *appsv1.Deployment, c corev1.Container) {
	t.Helper()
	dataDir := envValue(c, "GATEHOUSE_DATA_DIR")
	for _, dir := range []string{"/tmp", dataDir} {
		var mount *corev1.VolumeMount
		for i, m := range c.VolumeMounts {
			if m.MountPath == dir {
				mount = &c.VolumeMounts[i]
			}
		}
		if mount == nil || mount.ReadOnly {
			t.Errorf("%s is not a writable volume mount", dir)
			continue
		}
		v := volume(t, d, mount.Name)
		switch {
		case v.EmptyDir != nil && v.EmptyDir.SizeLimit != nil && !v.EmptyDir.SizeLimit.IsZero():
		case v.PersistentVolumeClaim != nil:
		default:
			t.Errorf("%s: volume %s is %+v, want a size-limited emptyDir or a claim", dir, v.Name, v.VolumeSource)
		}
	}
	if tmp := envValue(c, "TMPDIR"); tmp != "/tmp" {
		t.Errorf("TMPDIR = %q, want the /tmp volume", tmp)
	}
}

// checkProbes: liveness and start-up on /healthz, readiness on /readyz,
// all on the named port gatehouse listens on.
func checkProbes(t *testing.T, c corev1.Container) {
	t.Helper()
	var port *corev1.ContainerPort
	for i, p := range c.Ports {
		if p.Name == "http" {
			port = &c.Ports[i]
		}
	}
	if port == nil || envValue(c, "GATEHOUSE_ADDR") != ":"+itoa(port.ContainerPort) {
		t.Fatalf("GATEHOUSE_ADDR %q does not match the http container port %+v", envValue(c, "GATEHOUSE_ADDR"), port)
	}
	for name, tc := range map[string]struct {
		probe *corev1.Probe
		path  string
	}{
		"liveness":  {c.LivenessProbe, "/healthz"},
		"readiness": {c.ReadinessProbe, "/readyz"},
		"startup":   {c.StartupProbe, "/healthz"},
	} {
		if tc.probe == nil || tc.probe.HTTPGet == nil {
			t.Errorf("%s probe: want an HTTP GET of %s", name, tc.path)
			continue
		}
		g := tc.probe.HTTPGet
		if g.Path != tc.path || g.Port != intstr.FromString("http") {
			t.Errorf("%s probe GETs %s on %s, want %s on http", name, g.Path, g.Port.String(), tc.path)
		}
	}
}

// checkResources: CPU and memory requested and limited, requests within
// limits.
func checkResources(t *testing.T, r corev1.ResourceRequirements) {
	t.Helper()
	for _, res := range []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory} {
		req, okReq := r.Requests[res]
		lim, okLim := r.Limits[res]
		if !okReq || !okLim || req.IsZero() || lim.IsZero() {
			t.Errorf("%s: request %v and limit %v, want both", res, r.Requests, r.Limits)
			continue
		}
		if req.Cmp(lim) > 0 {
			t.Errorf("%s request %s above its limit %s", res, req.String(), lim.String())
		}
	}
}

func runtimeDefault(p *corev1.SeccompProfile) bool {
	return p != nil && p.Type == corev1.SeccompProfileTypeRuntimeDefault
}

func isTrue(b *bool) bool { return b != nil && *b }

func itoa(n int32) string { return strconv.Itoa(int(n)) }

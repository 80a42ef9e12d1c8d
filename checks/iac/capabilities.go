package iac

import (
	"maps"
	"slices"

	"github.com/open-policy-agent/opa/v1/ast"
)

// RefusedBuiltins are the Rego builtins custom checks may not call, and why.
// trivy v0.72 compiles checks with OPA's full capabilities, so gatehouse
// compiles every custom check itself first, with these withheld, and a
// module that calls one is rejected before trivy sees it. The sandbox's
// empty network namespace is the second wall.
//
// The line drawn: a check may compute anything from its input, but it may
// not reach outside the process (network, environment), and its answer may
// not change from one run to the next (randomness), so the head and base of
// a pull request, a re-run and the evidence see the same verdict for the
// same code. time.now_ns stays: trivy's own library (lib.cloud.datetime,
// used by its certificate and key expiry checks) calls it, so the built-in
// rules already depend on the date, and a custom check could reach it
// through that library anyway. Pure builtins that merely could be
// expensive (numbers.range, regex, crypto parsing) stay: evaluation is
// bounded by the time budget and the sandbox's memory limit instead.
// net.cidr_expand is the exception: it turns one short string into
// billions of addresses and no IaC rule needs it (net.cidr_contains and
// net.cidr_intersects answer the real questions).
var RefusedBuiltins = map[string]string{
	"http.send":          "network access",
	"net.lookup_ip_addr": "network access (DNS)",
	"opa.runtime":        "exposes the process environment and configuration",
	"rand.intn":          "randomness makes a verdict change from run to run",
	"uuid.rfc4122":       "randomness makes a verdict change from run to run",
	"net.cidr_expand":    "can expand one string into billions of addresses",
}

// customCapabilities is OPA's capabilities for this version (trivy's own
// builtins such as result.new included, as they are registered globally)
// minus RefusedBuiltins.
func customCapabilities() *ast.Capabilities {
	c := ast.CapabilitiesForThisVersion()
	c.Builtins = slices.DeleteFunc(c.Builtins, func(b *ast.Builtin) bool {
		_, refused := RefusedBuiltins[b.Name]
		return refused
	})
	return c
}

// RefusedBuiltinNames lists RefusedBuiltins sorted, for documentation and
// messages.
func RefusedBuiltinNames() []string { return slices.Sorted(maps.Keys(RefusedBuiltins)) }

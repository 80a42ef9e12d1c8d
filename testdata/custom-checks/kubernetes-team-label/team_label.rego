# METADATA
# title: Deployment names its owning team
# description: Every Deployment carries a team label, so an alert or an incident reaches the people who run it.
# scope: package
# schemas:
#   - input: schema["kubernetes"]
# related_resources:
#   - https://wiki.example.com/platform/ownership
# custom:
#   id: ORG-K8S-001
#   severity: HIGH
#   recommended_actions: "Add metadata.labels.team with the owning team's name, for example team: payments."
#   input:
#     selector:
#       - type: kubernetes
package user.kubernetes.team_label

import rego.v1

deny contains res if {
	input.kind == "Deployment"
	not input.metadata.labels.team
	res := result.new(
		sprintf("Deployment '%s' has no team label", [input.metadata.name]),
		input.metadata,
	)
}

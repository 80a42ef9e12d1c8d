package user.kubernetes.team_label_test

import rego.v1

import data.user.kubernetes.team_label as check

test_deployment_without_team_label_is_denied if {
	res := check.deny with input as {
		"apiVersion": "apps/v1",
		"kind": "Deployment",
		"metadata": {"name": "web", "labels": {"app": "web"}},
	}
	count(res) == 1
}

test_deployment_with_team_label_passes if {
	res := check.deny with input as {
		"apiVersion": "apps/v1",
		"kind": "Deployment",
		"metadata": {"name": "web", "labels": {"app": "web", "team": "payments"}},
	}
	count(res) == 0
}

test_other_kinds_are_not_checked if {
	res := check.deny with input as {
		"apiVersion": "v1",
		"kind": "ConfigMap",
		"metadata": {"name": "settings"},
	}
	count(res) == 0
}

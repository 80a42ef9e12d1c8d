package user.terraform.cost_centre_test

import rego.v1

import data.user.terraform.cost_centre as check

bucket(attributes) := {"modules": [{"blocks": [{
	"kind": "resource",
	"type": "aws_s3_bucket",
	"name": "logs",
	"attributes": attributes,
}]}]}

test_untagged_bucket_is_denied if {
	count(check.deny) == 1 with input as bucket({})
}

test_bucket_without_cost_centre_is_denied if {
	count(check.deny) == 1 with input as bucket({"tags": {"value": {"team": "data"}}})
}

test_bucket_with_cost_centre_passes if {
	count(check.deny) == 0 with input as bucket({"tags": {"value": {"cost-centre": "cc-1234"}}})
}

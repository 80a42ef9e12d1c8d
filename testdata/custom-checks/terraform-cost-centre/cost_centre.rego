# METADATA
# title: Resource carries a cost-centre tag
# description: Every taggable resource names the cost centre that pays for it, so the bill can be split by team.
# scope: package
# schemas:
#   - input: schema["terraform-raw"]
# custom:
#   id: ORG-TF-001
#   severity: MEDIUM
#   recommended_actions: "Add a cost-centre tag to the resource, or set it once in the provider's default_tags."
#   input:
#     selector:
#       - type: terraform-raw
package user.terraform.cost_centre

import rego.v1

# The resource types that must carry the tag.
taggable := {"aws_instance", "aws_s3_bucket", "aws_db_instance", "aws_lb"}

resources contains block if {
	some module in input.modules
	some block in module.blocks
	block.kind == "resource"
	block.type in taggable
}

deny contains res if {
	some block in resources
	not block.attributes.tags
	res := result.new(sprintf("%s.%s has no tags, so no cost-centre tag", [block.type, block.name]), block)
}

deny contains res if {
	some block in resources
	tags := block.attributes.tags
	not tags.value["cost-centre"]
	res := result.new(sprintf("%s.%s has no cost-centre tag", [block.type, block.name]), tags)
}

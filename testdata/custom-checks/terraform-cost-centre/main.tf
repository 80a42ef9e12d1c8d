resource "aws_s3_bucket" "logs" {
  bucket = "example-logs"
  tags = {
    team = "data"
  }
}

resource "aws_s3_bucket" "billing" {
  bucket = "example-billing"
  tags = {
    team          = "finance"
    "cost-centre" = "cc-1234"
  }
}

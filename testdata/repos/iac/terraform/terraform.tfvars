ssh_cidr    = "0.0.0.0/0"
bucket_name = "gatehouse-fixture-assets"
bucket_acl  = "public-read"

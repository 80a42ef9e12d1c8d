variable "ssh_cidr" {
  description = "CIDR allowed to reach SSH"
  type        = string
  default     = "10.0.0.0/8"
}

variable "bucket_name" {
  description = "Name of the public assets bucket"
  type        = string
}

variable "bucket_acl" {
  description = "Canned ACL of the assets bucket"
  type        = string
  default     = "private"
}

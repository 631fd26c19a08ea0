# One environment of the Genonaut stack on ECS Fargate. The values that must
# match stack.yaml come from `geno render --env ENV --format tfvars`
# (environments/ENV.tfvars.json); geno owns the task definitions.
terraform {
  required_version = ">= 1.5"
  required_providers {
    # 6.21: the ECS service's blue/green, canary and linear deployments.
    aws = {
      source  = "hashicorp/aws"
      version = ">= 6.21, < 7.0"
    }
  }
}

provider "aws" {
  region              = var.region
  allowed_account_ids = [var.account_id]
  default_tags {
    tags = {
      stack       = var.stack
      environment = var.environment
      managed-by  = "terraform"
    }
  }
}

output "url" {
  description = "The load balancer: environments.ENV.aws.url in stack.yaml, for geno smoke --env ENV."
  value       = "http://${aws_lb.main.dns_name}"
}

output "repositories" {
  value = { for k, r in aws_ecr_repository.main : k => r.repository_url }
}

output "database_endpoint" {
  value = aws_db_instance.main.endpoint
}

output "redis_endpoint" {
  value = aws_elasticache_replication_group.main.primary_endpoint_address
}

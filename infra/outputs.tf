output "url" {
  description = "The load balancer: environments.ENV.aws.url in stack.yaml, for geno smoke --env ENV."
  value       = "http://${aws_lb.main.dns_name}"
}

output "repositories" {
  description = "Each service's repository URL (services may share one)."
  value       = { for k, s in var.services : k => local.repository_urls[s.repository] if s.repository != null }
}

output "database_endpoint" {
  value = aws_db_instance.main.endpoint
}

output "redis_endpoint" {
  value = aws_elasticache_replication_group.main.primary_endpoint_address
}

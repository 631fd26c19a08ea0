resource "aws_ecs_cluster" "main" {
  name = var.cluster_name
  setting {
    name  = "containerInsights"
    value = "enabled"
  }
  service_connect_defaults {
    namespace = aws_service_discovery_private_dns_namespace.main.arn
  }
}

resource "aws_cloudwatch_log_group" "main" {
  name              = var.log_group
  retention_in_days = 30
}

# The groups services name for themselves (`ecs.log_group`).
resource "aws_cloudwatch_log_group" "service" {
  for_each          = toset(var.service_log_groups)
  name              = each.value
  retention_in_days = 30
}

# A first revision per family so the service can be created; `geno promote`
# registers every real revision (pinned by digest) and points the service at it.
resource "aws_ecs_task_definition" "bootstrap" {
  for_each                 = var.services
  family                   = each.value.task_family
  requires_compatibilities = ["FARGATE"]
  network_mode             = "awsvpc"
  cpu                      = tostring(each.value.cpu)
  memory                   = tostring(each.value.memory)
  execution_role_arn       = aws_iam_role.execution.arn
  task_role_arn            = aws_iam_role.task.arn
  container_definitions = jsonencode([{
    name         = each.value.container_name
    image        = "${local.repository_urls[each.value.repository]}:bootstrap"
    essential    = true
    portMappings = each.value.container_port == null ? [] : [{ containerPort = each.value.container_port, protocol = "tcp" }]
  }])
}

resource "aws_ecs_service" "main" {
  for_each                           = var.services
  name                               = each.value.ecs_service
  cluster                            = aws_ecs_cluster.main.id
  task_definition                    = aws_ecs_task_definition.bootstrap[each.key].arn
  launch_type                        = "FARGATE"
  desired_count                      = 0
  deployment_minimum_healthy_percent = each.value.min_healthy_percent
  deployment_maximum_percent         = each.value.max_percent
  health_check_grace_period_seconds  = each.value.target_group == null ? null : each.value.health_check_grace_period
  enable_execute_command             = true

  deployment_circuit_breaker {
    enable   = each.value.circuit_breaker_enable
    rollback = each.value.circuit_breaker_rollback
  }

  network_configuration {
    subnets          = aws_subnet.private[*].id
    security_groups  = [aws_security_group.tasks.id]
    assign_public_ip = false
  }

  # Every target group that routes to the service, each on its own port.
  dynamic "load_balancer" {
    for_each = each.value.target_groups
    content {
      target_group_arn = aws_lb_target_group.main[load_balancer.value].arn
      container_name   = each.value.container_name
      container_port   = var.target_groups[load_balancer.value].port
    }
  }

  # Every service is a client of the namespace from the start; geno sets
  # the aliases each one answers at (its stack.yaml name and ports) with the
  # task definition whose named ports they refer to.
  service_connect_configuration {
    enabled   = var.service_connect
    namespace = aws_service_discovery_private_dns_namespace.main.arn
  }

  # geno owns task definitions, desired counts and Service Connect aliases
  # (UpdateService on promote).
  lifecycle {
    ignore_changes = [task_definition, desired_count, service_connect_configuration]
  }

  depends_on = [aws_lb_listener.http]
}

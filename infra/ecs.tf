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

# FARGATE_SPOT is there for the services whose `ecs.capacity` names it.
resource "aws_ecs_cluster_capacity_providers" "main" {
  cluster_name       = aws_ecs_cluster.main.name
  capacity_providers = ["FARGATE", "FARGATE_SPOT"]
}

# The subnets and security groups services choose by tag (`ecs.network`).
data "aws_subnets" "chosen" {
  for_each = { for k, s in var.services : k => s.network.subnet_tags if s.network != null && length(try(s.network.subnet_tags, {})) > 0 }
  filter {
    name   = "vpc-id"
    values = [aws_vpc.main.id]
  }
  dynamic "filter" {
    for_each = each.value
    content {
      name   = "tag:${filter.key}"
      values = [filter.value]
    }
  }
}

data "aws_security_groups" "chosen" {
  for_each = { for k, s in var.services : k => s.network.security_group_tags if s.network != null && length(try(s.network.security_group_tags, {})) > 0 }
  filter {
    name   = "vpc-id"
    values = [aws_vpc.main.id]
  }
  dynamic "filter" {
    for_each = each.value
    content {
      name   = "tag:${filter.key}"
      values = [filter.value]
    }
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
    name = each.value.container_name
    # An external image without a repository is pulled from where it came from.
    image        = each.value.repository == null ? each.value.image : "${local.repository_urls[each.value.repository]}:bootstrap"
    essential    = true
    portMappings = each.value.container_port == null ? [] : [{ containerPort = each.value.container_port, protocol = "tcp" }]
  }])
}

resource "aws_ecs_service" "main" {
  for_each                           = var.services
  name                               = each.value.ecs_service
  cluster                            = aws_ecs_cluster.main.id
  task_definition                    = aws_ecs_task_definition.bootstrap[each.key].arn
  launch_type                        = length(each.value.capacity) == 0 ? "FARGATE" : null
  desired_count                      = 0
  deployment_minimum_healthy_percent = each.value.min_healthy_percent
  deployment_maximum_percent         = each.value.max_percent
  health_check_grace_period_seconds  = each.value.target_group == null ? null : each.value.health_check_grace_period
  enable_execute_command             = true

  deployment_circuit_breaker {
    enable   = each.value.circuit_breaker_enable
    rollback = each.value.circuit_breaker_rollback
  }

  dynamic "capacity_provider_strategy" {
    for_each = each.value.capacity
    content {
      capacity_provider = capacity_provider_strategy.value.provider
      weight            = capacity_provider_strategy.value.weight
      base              = capacity_provider_strategy.value.base
    }
  }

  # stack.yaml's placement when it gives one (by ID or by tag), else the
  # private subnets and the tasks' security group.
  network_configuration {
    subnets = each.value.network == null ? aws_subnet.private[*].id : (
      length(each.value.network.subnet_ids) > 0 ? each.value.network.subnet_ids : data.aws_subnets.chosen[each.key].ids
    )
    security_groups = each.value.network == null ? [aws_security_group.tasks.id] : (
      length(each.value.network.security_group_ids) > 0 ? each.value.network.security_group_ids : data.aws_security_groups.chosen[each.key].ids
    )
    assign_public_ip = each.value.network == null ? false : each.value.network.public_ip
  }

  # Every target group that routes to the service, each on its own port.
  dynamic "load_balancer" {
    for_each = each.value.target_groups
    content {
      target_group_arn = aws_lb_target_group.main[load_balancer.value].arn
      container_name   = each.value.container_name
      container_port   = var.target_groups[load_balancer.value].port
      # The alternate group and the rule whose weights ECS moves.
      dynamic "advanced_configuration" {
        for_each = var.target_groups[load_balancer.value].alternate == null ? [] : [1]
        content {
          alternate_target_group_arn = aws_lb_target_group.main["${load_balancer.value}/alternate"].arn
          production_listener_rule   = aws_lb_listener_rule.shifted[each.value.production_rule].arn
          role_arn                   = aws_iam_role.load_balancers[0].arn
        }
      }
    }
  }

  # ECS's blue/green, canary or linear deployments, as stack.yaml says;
  # geno applies later changes with the rest of the deployment settings.
  dynamic "deployment_configuration" {
    for_each = each.value.deployment == null ? [] : [each.value.deployment]
    content {
      strategy             = deployment_configuration.value.strategy
      bake_time_in_minutes = deployment_configuration.value.bake_time_in_minutes
      dynamic "canary_configuration" {
        for_each = deployment_configuration.value.canary == null ? [] : [deployment_configuration.value.canary]
        content {
          canary_percent              = canary_configuration.value.percent
          canary_bake_time_in_minutes = canary_configuration.value.bake_time_in_minutes
        }
      }
      dynamic "linear_configuration" {
        for_each = deployment_configuration.value.linear == null ? [] : [deployment_configuration.value.linear]
        content {
          step_percent              = linear_configuration.value.percent
          step_bake_time_in_minutes = linear_configuration.value.bake_time_in_minutes
        }
      }
    }
  }

  # Every service is a client of the namespace from the start; geno sets
  # the aliases each one answers at (its stack.yaml name and ports) with the
  # task definition whose named ports they refer to.
  service_connect_configuration {
    enabled   = var.service_connect
    namespace = aws_service_discovery_private_dns_namespace.main.arn
  }

  # geno owns task definitions, desired counts, Service Connect aliases and,
  # after creation, placement and capacity providers (UpdateService on
  # promote, compared by `geno diff`).
  lifecycle {
    ignore_changes = [task_definition, desired_count, service_connect_configuration, network_configuration, capacity_provider_strategy, launch_type]
  }

  depends_on = [aws_lb_listener.main, aws_ecs_cluster_capacity_providers.main]
}

# Written by `geno render --env ENV --format tfvars`: do not edit by hand.
variable "stack" { type = string }
variable "environment" { type = string }
variable "region" { type = string }
variable "account_id" { type = string }
variable "cluster_name" { type = string }
variable "log_group" { type = string }
variable "service_log_groups" { type = list(string) }
variable "repositories" { type = map(string) }
variable "namespace" { type = string }
variable "service_connect" { type = bool }
variable "execution_role_name" { type = string }
variable "task_role_name" { type = string }
variable "load_balancer_name" { type = string }
variable "idle_timeout" { type = number }

variable "services" {
  type = map(object({
    ecs_service               = string
    repository                = optional(string)
    image                     = optional(string)
    task_family               = string
    container_name            = string
    container_port            = optional(number)
    desired_count             = number
    cpu                       = number
    memory                    = number
    min_healthy_percent       = number
    max_percent               = number
    circuit_breaker_enable    = bool
    circuit_breaker_rollback  = bool
    health_check_grace_period = optional(number)
    target_group              = optional(string)
    target_groups             = list(string)
    # stack.yaml's `ecs.network` (null: the private subnets and the tasks'
    # group) and `ecs.capacity` (empty: launch type FARGATE).
    network = optional(object({
      public_ip           = bool
      subnet_ids          = list(string)
      subnet_tags         = map(string)
      security_group_ids  = list(string)
      security_group_tags = map(string)
    }))
    capacity = list(object({
      provider = string
      weight   = number
      base     = number
    }))
    # ECS's blue/green, canary or linear deployments (null: rolling), and
    # the key of the listener rule whose weights ECS moves.
    deployment = optional(object({
      strategy             = string
      bake_time_in_minutes = number
      canary = optional(object({
        percent              = number
        bake_time_in_minutes = number
      }))
      linear = optional(object({
        percent              = number
        bake_time_in_minutes = number
      }))
    }))
    production_rule = optional(string)
  }))
}

variable "target_groups" {
  type = map(object({
    name                 = string
    port                 = number
    deregistration_delay = number
    health_check = object({
      path                = string
      port                = string
      interval            = number
      timeout             = number
      healthy_threshold   = number
      unhealthy_threshold = number
      matcher             = string
    })
    # The name of its alternate, when ECS shifts its traffic.
    alternate = optional(string)
  }))
}

# The ALB's listeners by port: protocol, certificate and TLS policy (HTTPS),
# and the default action.
variable "listeners" {
  type = map(object({
    port            = number
    protocol        = string
    certificate_arn = optional(string)
    ssl_policy      = optional(string)
    default_action = object({
      type         = string
      target_group = optional(string)
      fixed_response = optional(object({
        status_code  = string
        content_type = string
        message_body = string
      }))
      redirect = optional(object({
        protocol    = string
        port        = string
        host        = string
        path        = string
        query       = string
        status_code = string
      }))
    })
  }))
}

variable "listener_rules" {
  type = list(object({
    listener      = string
    priority      = number
    path_patterns = list(string)
    host_headers  = list(string)
    methods       = list(string)
    shifted       = optional(bool, false)
    type          = string
    target_group  = optional(string)
    fixed_response = optional(object({
      status_code  = string
      content_type = string
      message_body = string
    }))
    redirect = optional(object({
      protocol    = string
      port        = string
      host        = string
      path        = string
      query       = string
      status_code = string
    }))
  }))
}

variable "ssm_parameters" { type = list(string) }

# What each role must allow: the execution role's from the secrets
# stack.yaml declares, the task role's from the services' `iam` statements.
variable "execution_role_statements" {
  type = list(object({
    actions   = list(string)
    resources = list(string)
  }))
}

variable "task_role_statements" {
  type = list(object({
    actions   = list(string)
    resources = list(string)
  }))
}

# Not from stack.yaml: choices of this infrastructure.
variable "vpc_cidr" {
  type    = string
  default = "10.40.0.0/16"
}

variable "db_instance_class" {
  type    = string
  default = "db.t4g.micro"
}

variable "cache_node_type" {
  type    = string
  default = "cache.t4g.micro"
}

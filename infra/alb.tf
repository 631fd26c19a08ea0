resource "aws_lb" "main" {
  name               = var.load_balancer_name
  load_balancer_type = "application"
  subnets            = aws_subnet.public[*].id
  security_groups    = [aws_security_group.alb.id]
  idle_timeout       = var.idle_timeout
}

# Each group stack.yaml routes to, and beside each group ECS shifts traffic
# from (a service deployed blue/green, canary or linear) its alternate,
# `KEY/alternate`: the same port and health check. ECS puts the new tasks in
# whichever of the two is not serving.
resource "aws_lb_target_group" "main" {
  for_each             = merge(var.target_groups, { for k, g in var.target_groups : "${k}/alternate" => merge(g, { name = g.alternate }) if g.alternate != null })
  name                 = each.value.name
  port                 = each.value.port
  protocol             = "HTTP"
  target_type          = "ip"
  vpc_id               = aws_vpc.main.id
  deregistration_delay = each.value.deregistration_delay
  health_check {
    protocol            = "HTTP"
    path                = each.value.health_check.path
    port                = each.value.health_check.port
    interval            = each.value.health_check.interval
    timeout             = each.value.health_check.timeout
    healthy_threshold   = each.value.health_check.healthy_threshold
    unhealthy_threshold = each.value.health_check.unhealthy_threshold
    matcher             = each.value.health_check.matcher
  }
}

# One listener per port stack.yaml's listeners take on the ALB (HTTP on 80
# and HTTPS on 443 unless `alb_port` says), each with its default action.
resource "aws_lb_listener" "main" {
  for_each          = var.listeners
  load_balancer_arn = aws_lb.main.arn
  port              = each.value.port
  protocol          = each.value.protocol
  certificate_arn   = each.value.certificate_arn
  ssl_policy        = each.value.ssl_policy
  default_action {
    type             = each.value.default_action.type
    target_group_arn = each.value.default_action.type == "forward" ? aws_lb_target_group.main[each.value.default_action.target_group].arn : null
    dynamic "fixed_response" {
      for_each = each.value.default_action.type == "fixed-response" ? [each.value.default_action.fixed_response] : []
      content {
        status_code  = fixed_response.value.status_code
        content_type = fixed_response.value.content_type
        message_body = fixed_response.value.message_body
      }
    }
    dynamic "redirect" {
      for_each = each.value.default_action.type == "redirect" ? [each.value.default_action.redirect] : []
      content {
        protocol    = redirect.value.protocol
        port        = redirect.value.port
        host        = redirect.value.host
        path        = redirect.value.path
        query       = redirect.value.query
        status_code = redirect.value.status_code
      }
    }
  }
}

# The port-80 listener's rules keep the addresses they had when it was the
# only listener (their priority), so an environment created before HTTPS
# keeps its rules instead of replacing them; the others are LISTENER-PRIORITY.
resource "aws_lb_listener_rule" "main" {
  for_each     = { for r in var.listener_rules : (r.listener == "80" ? tostring(r.priority) : "${r.listener}-${r.priority}") => r if !r.shifted }
  listener_arn = aws_lb_listener.main[each.value.listener].arn
  priority     = each.value.priority
  action {
    type             = each.value.type
    target_group_arn = each.value.type == "forward" ? aws_lb_target_group.main[each.value.target_group].arn : null
    dynamic "fixed_response" {
      for_each = each.value.type == "fixed-response" ? [each.value.fixed_response] : []
      content {
        status_code  = fixed_response.value.status_code
        content_type = fixed_response.value.content_type
        message_body = fixed_response.value.message_body
      }
    }
    dynamic "redirect" {
      for_each = each.value.type == "redirect" ? [each.value.redirect] : []
      content {
        protocol    = redirect.value.protocol
        port        = redirect.value.port
        host        = redirect.value.host
        path        = redirect.value.path
        query       = redirect.value.query
        status_code = redirect.value.status_code
      }
    }
  }
  dynamic "condition" {
    for_each = length(each.value.path_patterns) > 0 ? [each.value.path_patterns] : []
    content {
      path_pattern {
        values = condition.value
      }
    }
  }
  dynamic "condition" {
    for_each = length(each.value.host_headers) > 0 ? [each.value.host_headers] : []
    content {
      host_header {
        values = condition.value
      }
    }
  }
  dynamic "condition" {
    for_each = length(each.value.methods) > 0 ? [each.value.methods] : []
    content {
      http_request_method {
        values = condition.value
      }
    }
  }
}

# The rule forwarding to a group ECS shifts traffic from: both groups,
# all weight on the first. ECS moves the weights during a deployment, so
# Terraform leaves the action as ECS last set it (geno's diff compares it).
resource "aws_lb_listener_rule" "shifted" {
  for_each     = { for r in var.listener_rules : (r.listener == "80" ? tostring(r.priority) : "${r.listener}-${r.priority}") => r if r.shifted }
  listener_arn = aws_lb_listener.main[each.value.listener].arn
  priority     = each.value.priority
  action {
    type = "forward"
    forward {
      target_group {
        arn    = aws_lb_target_group.main[each.value.target_group].arn
        weight = 100
      }
      target_group {
        arn    = aws_lb_target_group.main["${each.value.target_group}/alternate"].arn
        weight = 0
      }
    }
  }
  dynamic "condition" {
    for_each = length(each.value.path_patterns) > 0 ? [each.value.path_patterns] : []
    content {
      path_pattern {
        values = condition.value
      }
    }
  }
  dynamic "condition" {
    for_each = length(each.value.host_headers) > 0 ? [each.value.host_headers] : []
    content {
      host_header {
        values = condition.value
      }
    }
  }
  dynamic "condition" {
    for_each = length(each.value.methods) > 0 ? [each.value.methods] : []
    content {
      http_request_method {
        values = condition.value
      }
    }
  }
  lifecycle {
    ignore_changes = [action]
  }
}

# The one HTTP listener of environments created before listeners were a
# map: the same listener, not a new one (no moment without a listener).
moved {
  from = aws_lb_listener.http
  to   = aws_lb_listener.main["80"]
}

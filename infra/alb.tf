resource "aws_lb" "main" {
  name               = var.load_balancer_name
  load_balancer_type = "application"
  subnets            = aws_subnet.public[*].id
  security_groups    = [aws_security_group.alb.id]
  idle_timeout       = var.idle_timeout
}

resource "aws_lb_target_group" "main" {
  for_each             = var.target_groups
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

resource "aws_lb_listener" "http" {
  load_balancer_arn = aws_lb.main.arn
  port              = 80
  protocol          = "HTTP"
  default_action {
    type             = var.listener_default_action.type
    target_group_arn = var.listener_default_action.type == "forward" ? aws_lb_target_group.main[var.listener_default_action.target_group].arn : null
    dynamic "fixed_response" {
      for_each = var.listener_default_action.type == "fixed-response" ? [var.listener_default_action.fixed_response] : []
      content {
        status_code  = fixed_response.value.status_code
        content_type = fixed_response.value.content_type
        message_body = fixed_response.value.message_body
      }
    }
  }
}

resource "aws_lb_listener_rule" "main" {
  for_each     = { for r in var.listener_rules : tostring(r.priority) => r }
  listener_arn = aws_lb_listener.http.arn
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

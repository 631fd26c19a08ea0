data "aws_iam_policy_document" "ecs_tasks" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["ecs-tasks.amazonaws.com"]
    }
  }
}

resource "aws_iam_role" "execution" {
  name               = var.execution_role_name
  assume_role_policy = data.aws_iam_policy_document.ecs_tasks.json
}

resource "aws_iam_role_policy_attachment" "execution" {
  role       = aws_iam_role.execution.name
  policy_arn = "arn:aws:iam::aws:policy/service-role/AmazonECSTaskExecutionRolePolicy"
}

resource "aws_iam_role" "task" {
  name               = var.task_role_name
  assume_role_policy = data.aws_iam_policy_document.ecs_tasks.json
}

# ECS Exec (used by smoke's exec steps against a deployed environment).
data "aws_iam_policy_document" "exec" {
  statement {
    actions = [
      "ssmmessages:CreateControlChannel",
      "ssmmessages:CreateDataChannel",
      "ssmmessages:OpenControlChannel",
      "ssmmessages:OpenDataChannel",
    ]
    resources = ["*"]
  }
}

resource "aws_iam_role_policy" "exec" {
  name   = "ecs-exec"
  role   = aws_iam_role.task.id
  policy = data.aws_iam_policy_document.exec.json
}

# What each role must allow, from stack.yaml (geno renders the statements,
# preflight checks the roles grant them): the execution role reads exactly
# the secrets the task definitions declare (SSM parameters, Secrets Manager
# secrets, their KMS key when one is named); the task role does what the
# services' `iam` statements say. A role with nothing to allow gets no policy.
locals {
  role_statements = {
    for name, p in {
      read-secrets = { role = aws_iam_role.execution.id, statements = var.execution_role_statements }
      app          = { role = aws_iam_role.task.id, statements = var.task_role_statements }
    } : name => p if length(p.statements) > 0
  }
}

data "aws_iam_policy_document" "from_stack" {
  for_each = local.role_statements
  dynamic "statement" {
    for_each = each.value.statements
    content {
      actions   = statement.value.actions
      resources = statement.value.resources
    }
  }
}

resource "aws_iam_role_policy" "from_stack" {
  for_each   = local.role_statements
  name       = each.key
  role       = each.value.role
  policy     = data.aws_iam_policy_document.from_stack[each.key].json
  depends_on = [aws_ssm_parameter.main]
}

# The role ECS takes to move listener rule weights in blue/green, canary
# and linear deployments; only when a service is deployed that way.
data "aws_iam_policy_document" "ecs_service" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["ecs.amazonaws.com"]
    }
  }
}

resource "aws_iam_role" "load_balancers" {
  count              = anytrue([for s in var.services : s.deployment != null]) ? 1 : 0
  name               = "${var.stack}-${var.environment}-ecs-load-balancers"
  assume_role_policy = data.aws_iam_policy_document.ecs_service.json
}

resource "aws_iam_role_policy_attachment" "load_balancers" {
  count      = length(aws_iam_role.load_balancers)
  role       = aws_iam_role.load_balancers[0].name
  policy_arn = "arn:aws:iam::aws:policy/AmazonECSInfrastructureRolePolicyForLoadBalancers"
}

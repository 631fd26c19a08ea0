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

# The execution role reads exactly the secrets the task definitions declare
# (SSM parameters, Secrets Manager secrets, their KMS key when one is named):
# geno renders the statements from stack.yaml, and preflight checks them.
data "aws_iam_policy_document" "read_secrets" {
  count = length(var.execution_role_statements) > 0 ? 1 : 0
  dynamic "statement" {
    for_each = var.execution_role_statements
    content {
      actions   = statement.value.actions
      resources = statement.value.resources
    }
  }
}

resource "aws_iam_role_policy" "read_secrets" {
  count      = length(var.execution_role_statements) > 0 ? 1 : 0
  name       = "read-secrets"
  role       = aws_iam_role.execution.id
  policy     = data.aws_iam_policy_document.read_secrets[0].json
  depends_on = [aws_ssm_parameter.main]
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

# What the services' code does on AWS: each service's `iam` statements in
# stack.yaml, rendered by geno and checked by preflight.
data "aws_iam_policy_document" "app" {
  count = length(var.task_role_statements) > 0 ? 1 : 0
  dynamic "statement" {
    for_each = var.task_role_statements
    content {
      actions   = statement.value.actions
      resources = statement.value.resources
    }
  }
}

resource "aws_iam_role_policy" "app" {
  count  = length(var.task_role_statements) > 0 ? 1 : 0
  name   = "app"
  role   = aws_iam_role.task.id
  policy = data.aws_iam_policy_document.app[0].json
}

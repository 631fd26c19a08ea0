# One SecureString per secret stack.yaml reads from SSM. Terraform creates the
# names; operators put the values (`aws ssm put-parameter --overwrite`), so
# the values never pass through Terraform state after creation.
resource "aws_ssm_parameter" "main" {
  for_each = toset(var.ssm_parameters)
  name     = each.value
  type     = "SecureString"
  value    = "set-me"
  lifecycle {
    ignore_changes = [value]
  }
}

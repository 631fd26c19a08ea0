//! Permissions from the definition: what the execution role must allow so
//! ECS can read the secrets the task definitions declare (SSM parameters,
//! Secrets Manager secrets, the KMS key that encrypts them when one is
//! named), and what the task role must allow for the services' own `iam`
//! statements; and whether a role's policy documents allow an action on a
//! resource (Allow and Deny, `*` and `?` wildcards; conditions are not
//! evaluated). Pure.

use serde::Serialize;
use serde_json::Value;

use crate::stack::{AwsEnvironment, AwsSecret, Stack};

/// Actions on resources, as a policy statement and as tfvars carry it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Statement {
    pub actions: Vec<String>,
    pub resources: Vec<String>,
}

/// What ECS needs of the execution role to start the tasks of `env`: read
/// every secret a deployed service or job declares, and decrypt with the
/// environment's KMS key when one is named.
pub fn execution_statements(stack: &Stack, env: &str) -> Vec<Statement> {
    let Some(aws) = stack.environments.get(env).and_then(|e| e.aws.as_ref()) else {
        return Vec::new();
    };
    let (mut ssm, mut sm) = (Vec::new(), Vec::new());
    for (name, svc) in &stack.services {
        if !stack.deploys(name) {
            continue;
        }
        for secret in &svc.secrets {
            let Some(source) = stack.secrets.get(secret).and_then(|s| s.aws.as_ref()) else {
                continue;
            };
            let arn = value_from(aws, source);
            let (list, resource) = match source {
                AwsSecret::Ssm(_) => (&mut ssm, arn),
                AwsSecret::SecretsManager(_) => (&mut sm, secret_resource(&arn)),
            };
            if !list.contains(&resource) {
                list.push(resource);
            }
        }
    }
    let mut out = Vec::new();
    for (action, resources) in [
        ("ssm:GetParameters", ssm),
        ("secretsmanager:GetSecretValue", sm),
    ] {
        if !resources.is_empty() {
            out.push(Statement {
                actions: vec![action.to_string()],
                resources,
            });
        }
    }
    if let Some(key) = aws.kms_key_arn.as_ref().filter(|k| !k.is_empty())
        && !out.is_empty()
    {
        out.push(Statement {
            actions: vec!["kms:Decrypt".into()],
            resources: vec![key.clone()],
        });
    }
    out
}

/// The resource a Secrets Manager `valueFrom` reads: the secret's ARN
/// without a JSON key selector, and for a secret named without its
/// six-character suffix, the pattern IAM documents for it (`NAME-??????`).
fn secret_resource(value_from: &str) -> String {
    let parts: Vec<&str> = value_from.splitn(8, ':').collect();
    let arn = parts[..parts.len().min(7)].join(":");
    let name = parts.get(6).copied().unwrap_or_default();
    let suffixed = name
        .rsplit_once('-')
        .is_some_and(|(_, s)| s.len() == 6 && s.chars().all(|c| c.is_ascii_alphanumeric()));
    if suffixed {
        arn
    } else {
        format!("{arn}-??????")
    }
}

/// The services' own statements, for the task role, in stack.yaml's order
/// (the role is one per environment, so every deployed service's).
pub fn task_statements(stack: &Stack) -> Vec<Statement> {
    let mut out: Vec<Statement> = Vec::new();
    for (name, svc) in &stack.services {
        if !stack.deploys(name) {
            continue;
        }
        for st in &svc.iam {
            let st = Statement {
                actions: st.actions.clone(),
                resources: st.resources.clone(),
            };
            if !out.contains(&st) {
                out.push(st);
            }
        }
    }
    out
}

/// Every `(action, resource)` of `wanted` that `documents` do not allow.
pub fn not_allowed(documents: &[Value], wanted: &[Statement]) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for st in wanted {
        for action in &st.actions {
            for resource in &st.resources {
                if !allows(documents, action, resource) {
                    out.push((action.clone(), resource.clone()));
                }
            }
        }
    }
    out
}

/// Whether the policy documents allow `action` on `resource`: some Allow
/// statement matches and no Deny does.
pub fn allows(documents: &[Value], action: &str, resource: &str) -> bool {
    let mut allowed = false;
    for doc in documents {
        let statements = match &doc["Statement"] {
            Value::Array(list) => list.clone(),
            one @ Value::Object(_) => vec![one.clone()],
            _ => Vec::new(),
        };
        for st in &statements {
            let matches = strings(&st["Action"])
                .iter()
                .any(|a| glob(&a.to_ascii_lowercase(), &action.to_ascii_lowercase()))
                && strings(&st["Resource"]).iter().any(|r| glob(r, resource));
            match st["Effect"].as_str() {
                Some("Deny") if matches => return false,
                Some("Allow") if matches => allowed = true,
                _ => {}
            }
        }
    }
    allowed
}

fn strings(v: &Value) -> Vec<String> {
    match v {
        Value::String(s) => vec![s.clone()],
        Value::Array(list) => list
            .iter()
            .filter_map(|x| x.as_str().map(str::to_string))
            .collect(),
        _ => Vec::new(),
    }
}

/// `*` any run of characters, `?` one, as IAM matches ARNs and actions.
fn glob(pattern: &str, text: &str) -> bool {
    let (p, t): (Vec<char>, Vec<char>) = (pattern.chars().collect(), text.chars().collect());
    let (mut pi, mut ti) = (0, 0);
    let (mut star, mut mark) = (None, 0);
    while ti < t.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == t[ti]) {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some(pi);
            mark = ti;
            pi += 1;
        } else if let Some(s) = star {
            pi = s + 1;
            mark += 1;
            ti = mark;
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|c| *c == '*')
}

/// The ARN ECS reads a secret from.
pub fn value_from(aws: &AwsEnvironment, source: &AwsSecret) -> String {
    match source {
        AwsSecret::Ssm(name) if name.starts_with("arn:") => name.clone(),
        AwsSecret::Ssm(name) => format!(
            "arn:aws:ssm:{}:{}:parameter/{}",
            aws.region,
            aws.account_id,
            name.trim_start_matches('/')
        ),
        AwsSecret::SecretsManager(name) if name.starts_with("arn:") => name.clone(),
        AwsSecret::SecretsManager(name) => format!(
            "arn:aws:secretsmanager:{}:{}:secret:{name}",
            aws.region, aws.account_id
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn secrets_manager_names_become_the_pattern_iam_documents() {
        let base = "arn:aws:secretsmanager:us-east-1:123456789012:secret";
        assert_eq!(
            secret_resource(&format!("{base}:shop-demo-api-key")),
            format!("{base}:shop-demo-api-key-??????")
        );
        assert_eq!(
            secret_resource(&format!("{base}:shop/db:password::")),
            format!("{base}:shop/db-??????")
        );
        assert_eq!(
            secret_resource(&format!("{base}:shop-AbC123")),
            format!("{base}:shop-AbC123")
        );
    }

    #[test]
    fn allow_deny_and_wildcards() {
        let docs = [
            json!({"Version": "2012-10-17", "Statement": [
                {"Effect": "Allow", "Action": ["ssm:GetParameters", "s3:*"], "Resource": "arn:aws:ssm:us-east-1:1:parameter/shop/*"},
                {"Effect": "Allow", "Action": "s3:GetObject", "Resource": ["arn:aws:s3:::up-?/*"]},
            ]}),
            json!({"Statement": {"Effect": "Deny", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::up-1/secret/*"}}),
        ];
        assert!(allows(
            &docs,
            "ssm:GetParameters",
            "arn:aws:ssm:us-east-1:1:parameter/shop/demo/token"
        ));
        assert!(allows(
            &docs,
            "SSM:getparameters",
            "arn:aws:ssm:us-east-1:1:parameter/shop/x"
        ));
        assert!(!allows(
            &docs,
            "ssm:GetParameters",
            "arn:aws:ssm:us-east-1:1:parameter/other/x"
        ));
        assert!(allows(&docs, "s3:GetObject", "arn:aws:s3:::up-1/a.png"));
        assert!(!allows(&docs, "s3:GetObject", "arn:aws:s3:::up-12/a.png"));
        assert!(!allows(&docs, "s3:GetObject", "arn:aws:s3:::up-1/secret/k"));
        let wanted = [Statement {
            actions: vec!["s3:GetObject".into(), "s3:PutObject".into()],
            resources: vec!["arn:aws:s3:::up-1/a".into()],
        }];
        assert_eq!(
            not_allowed(&docs, &wanted),
            [(
                "s3:PutObject".to_string(),
                "arn:aws:s3:::up-1/a".to_string()
            )]
        );
    }
}

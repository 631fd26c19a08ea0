//! The AWS adapter: ECS, ECR, SSM, Secrets Manager, IAM and STS through the
//! SDK, with every failure turned into one line that says what to do.
//!
//! Endpoints, credentials and retries come from the standard AWS
//! configuration chain, so `AWS_ENDPOINT_URL` points geno at a stand-in
//! (moto) exactly as it points the AWS CLI.

mod adopt;
pub mod ec2;
mod operate;
pub mod scaling;
pub mod signed;
mod taskdef;

pub use operate::{ExecSession, LOG_PAGES};

use std::future::Future;

use aws_config::BehaviorVersion;
use aws_sdk_ecs::error::{ProvideErrorMetadata, SdkError};

use crate::deploy::connect::Namespace;
use crate::deploy::job::{ContainerExit, TaskStatus};
use crate::deploy::listener::{Found, Listener, ListenerRule, RuleAction, RuleCondition};
use crate::deploy::rollout::{Deployment, Event, RolloutState, ServiceStatus};
use crate::deploy::taskdef::{
    CircuitBreaker, DeploymentConfiguration, Matcher, ServiceUpdate, TargetGroup, TaskDefinition,
};

#[derive(Debug, thiserror::Error)]
pub enum AwsError {
    #[error(
        "cannot reach AWS {service} at {endpoint} ({operation}: {reason}); check the network, or AWS_ENDPOINT_URL when a stand-in serves the API"
    )]
    Unreachable {
        service: &'static str,
        operation: &'static str,
        endpoint: String,
        reason: String,
    },
    #[error(
        "no AWS credentials ({reason}); set AWS_PROFILE, or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY"
    )]
    NoCredentials { reason: String },
    #[error("{operation} at {endpoint}: {code}: {message}{}", hint(.code, .service, .operation))]
    Api {
        /// The IAM prefix of the call, as `err` knows it.
        service: &'static str,
        operation: &'static str,
        endpoint: String,
        code: String,
        message: String,
    },
    #[error("{operation}: {reason}")]
    Other {
        operation: &'static str,
        reason: String,
    },
}

/// What to do about the errors AWS answers most, by code; `service` is
/// the IAM prefix of the call (`ecs`, `ssm`, …).
fn hint(code: &str, service: &str, operation: &str) -> String {
    match code {
        "AccessDenied" | "AccessDeniedException" | "UnauthorizedOperation" => {
            format!(" (the credentials' IAM policy must allow {service}:{operation})")
        }
        "ThrottlingException"
        | "Throttling"
        | "TooManyRequestsException"
        | "RequestLimitExceeded" => {
            " (AWS is throttling this account: try again in a minute)".into()
        }
        "ExpiredToken"
        | "ExpiredTokenException"
        | "UnrecognizedClientException"
        | "InvalidClientTokenId" => {
            " (the credentials are not valid or have expired: sign in again, e.g. `aws sso login`)"
                .into()
        }
        _ => String::new(),
    }
}

impl AwsError {
    pub fn code(&self) -> Option<&str> {
        match self {
            AwsError::Api { code, .. } => Some(code),
            _ => None,
        }
    }
}

/// `Ok(None)` when the API answered with `not_found`: for a lookup, absence
/// is an answer, not an error.
pub fn found<T>(r: Result<T, AwsError>, not_found: &str) -> Result<Option<T>, AwsError> {
    match r {
        Ok(v) => Ok(Some(v)),
        Err(e) if e.code() == Some(not_found) => Ok(None),
        Err(e) => Err(e),
    }
}

/// The SDK clients for one region.
#[derive(Clone)]
pub struct Aws {
    pub region: String,
    endpoint: Option<String>,
    ecs: aws_sdk_ecs::Client,
    ecr: aws_sdk_ecr::Client,
    ssm: aws_sdk_ssm::Client,
    secrets: aws_sdk_secretsmanager::Client,
    iam: aws_sdk_iam::Client,
    sts: aws_sdk_sts::Client,
    elb: aws_sdk_elasticloadbalancingv2::Client,
    logs: aws_sdk_cloudwatchlogs::Client,
    discovery: aws_sdk_servicediscovery::Client,
    pub ec2: ec2::Ec2,
    /// Application Auto Scaling and CloudWatch, signed by hand.
    pub signed: signed::Signer,
}

/// Who geno acts as.
#[derive(Debug, Clone)]
pub struct Identity {
    pub account: String,
    pub arn: String,
}

/// Credentials for `docker push` to ECR.
#[derive(Debug, Clone)]
pub struct RegistryLogin {
    pub username: String,
    pub password: String,
    pub server: String,
}

impl Aws {
    pub async fn connect(region: &str) -> Aws {
        let config = aws_config::defaults(BehaviorVersion::latest())
            .region(aws_config::Region::new(region.to_string()))
            .load()
            .await;
        let signed =
            signed::Signer::new(region, config.endpoint_url(), config.credentials_provider());
        Aws {
            region: region.to_string(),
            endpoint: config.endpoint_url().map(str::to_string),
            ecs: aws_sdk_ecs::Client::new(&config),
            ecr: aws_sdk_ecr::Client::new(&config),
            ssm: aws_sdk_ssm::Client::new(&config),
            secrets: aws_sdk_secretsmanager::Client::new(&config),
            iam: aws_sdk_iam::Client::new(&config),
            sts: aws_sdk_sts::Client::new(&config),
            elb: aws_sdk_elasticloadbalancingv2::Client::new(&config),
            logs: aws_sdk_cloudwatchlogs::Client::new(&config),
            discovery: aws_sdk_servicediscovery::Client::new(&config),
            ec2: ec2::Ec2::new(signed.clone()),
            signed,
        }
    }

    /// The endpoint a service is reached at, for messages.
    pub fn endpoint(&self, service: &str) -> String {
        self.endpoint
            .clone()
            .unwrap_or_else(|| format!("https://{service}.{}.amazonaws.com", self.region))
    }

    fn err<E>(
        &self,
        service: &'static str,
        operation: &'static str,
        e: SdkError<E, aws_sdk_ecs::config::http::HttpResponse>,
    ) -> AwsError
    where
        E: ProvideErrorMetadata + std::error::Error + 'static,
    {
        let reason = crate::error::causes(&e).last().cloned().unwrap_or_default();
        match &e {
            // Before reachability: a missing credential surfaces as a
            // failed dispatch too (the provider chain could not sign).
            _ if crate::error::causes(&e)
                .iter()
                .any(|c| c.contains("credentials") || c.contains("Credentials")) =>
            {
                AwsError::NoCredentials { reason }
            }
            SdkError::DispatchFailure(d) if !d.is_user() => AwsError::Unreachable {
                service,
                operation,
                endpoint: self.endpoint(service),
                reason,
            },
            SdkError::TimeoutError(_) => AwsError::Unreachable {
                service,
                operation,
                endpoint: self.endpoint(service),
                reason: "timed out".into(),
            },
            // No error code: not an AWS error document (a proxy's or a
            // stand-in's crash page); the status says more than nothing.
            SdkError::ServiceError(s) if s.err().code().is_none() => AwsError::Other {
                operation,
                reason: format!(
                    "{} answered HTTP {} without an AWS error",
                    self.endpoint(service),
                    s.raw().status().as_u16()
                ),
            },
            SdkError::ServiceError(s) => AwsError::Api {
                service,
                operation,
                endpoint: self.endpoint(service),
                code: s.err().code().unwrap_or("Error").to_string(),
                message: s.err().message().unwrap_or_default().to_string(),
            },
            _ => AwsError::Other { operation, reason },
        }
    }

    pub async fn identity(&self) -> Result<Identity, AwsError> {
        let out = self
            .sts
            .get_caller_identity()
            .send()
            .await
            .map_err(|e| self.err("sts", "GetCallerIdentity", e))?;
        Ok(Identity {
            account: out.account().unwrap_or_default().to_string(),
            arn: out.arn().unwrap_or_default().to_string(),
        })
    }

    /// The cluster's status (`ACTIVE`, …), or `None` when there is none.
    pub async fn cluster_status(&self, cluster: &str) -> Result<Option<String>, AwsError> {
        let out = self
            .ecs
            .describe_clusters()
            .clusters(cluster)
            .send()
            .await
            .map_err(|e| self.err("ecs", "DescribeClusters", e))?;
        Ok(out
            .clusters()
            .first()
            .map(|c| c.status().unwrap_or_default().to_string()))
    }

    /// The named services; names ECS does not know are returned apart.
    pub async fn services(
        &self,
        cluster: &str,
        names: &[String],
    ) -> Result<(Vec<ServiceStatus>, Vec<String>), AwsError> {
        let (found, missing) = self.described_services(cluster, names).await?;
        Ok((found.iter().map(service_status).collect(), missing))
    }

    /// `DescribeServices` for `names` as the SDK answers, in calls of 10
    /// (its most); names ECS does not know, or only as INACTIVE (deleted
    /// services are described for a while), are returned apart.
    pub(crate) async fn described_services(
        &self,
        cluster: &str,
        names: &[String],
    ) -> Result<(Vec<aws_sdk_ecs::types::Service>, Vec<String>), AwsError> {
        let mut live = Vec::new();
        let mut missing = Vec::new();
        for chunk in names.chunks(10) {
            let out = self
                .ecs
                .describe_services()
                .cluster(cluster)
                .set_services(Some(chunk.to_vec()))
                .send()
                .await
                .map_err(|e| self.err("ecs", "DescribeServices", e))?;
            for f in out.failures() {
                let arn = f.arn().unwrap_or_default();
                missing.push(arn.rsplit('/').next().unwrap_or(arn).to_string());
            }
            for s in out.services() {
                if s.status() == Some("INACTIVE") {
                    missing.push(s.service_name().unwrap_or_default().to_string());
                } else {
                    live.push(s.clone());
                }
            }
        }
        Ok((live, missing))
    }

    pub async fn task_definition(&self, arn: &str) -> Result<TaskDefinition, AwsError> {
        let out = self
            .ecs
            .describe_task_definition()
            .task_definition(arn)
            .send()
            .await
            .map_err(|e| self.err("ecs", "DescribeTaskDefinition", e))?;
        let td = out.task_definition().ok_or_else(|| AwsError::Other {
            operation: "DescribeTaskDefinition",
            reason: format!("no task definition in the answer for {arn}"),
        })?;
        Ok(taskdef::project(td))
    }

    /// The latest ACTIVE revision of a family, if it has one.
    pub async fn latest_task_definition(
        &self,
        family: &str,
    ) -> Result<Option<(String, TaskDefinition)>, AwsError> {
        let out = self
            .ecs
            .describe_task_definition()
            .task_definition(family)
            .send()
            .await
            .map_err(|e| self.err("ecs", "DescribeTaskDefinition", e));
        // ECS answers a family without revisions with a ClientException.
        Ok(found(out, "ClientException")?.and_then(|out| {
            out.task_definition().map(|td| {
                (
                    td.task_definition_arn().unwrap_or_default().to_string(),
                    taskdef::project(td),
                )
            })
        }))
    }

    /// Registers a task definition; returns its ARN.
    pub async fn register(&self, td: &TaskDefinition) -> Result<String, AwsError> {
        let request = taskdef::register_request(self.ecs.register_task_definition(), td).map_err(
            |reason| AwsError::Other {
                operation: "RegisterTaskDefinition",
                reason,
            },
        )?;
        let out = request
            .send()
            .await
            .map_err(|e| self.err("ecs", "RegisterTaskDefinition", e))?;
        out.task_definition()
            .and_then(|t| t.task_definition_arn())
            .map(str::to_string)
            .ok_or_else(|| AwsError::Other {
                operation: "RegisterTaskDefinition",
                reason: "the answer named no task definition ARN".into(),
            })
    }

    /// The ECR repositories among `names` that do not exist.
    pub async fn missing_repositories(&self, names: &[String]) -> Result<Vec<String>, AwsError> {
        let mut missing = Vec::new();
        // One call per name: a single missing name fails a batched call.
        for name in names {
            let out = self
                .ecr
                .describe_repositories()
                .repository_names(name)
                .send()
                .await
                .map_err(|e| self.err("ecr", "DescribeRepositories", e));
            if found(out, "RepositoryNotFoundException")?.is_none() {
                missing.push(name.clone());
            }
        }
        Ok(missing)
    }

    /// The CloudWatch log groups among `names` that do not exist (one
    /// DescribeLogGroups by prefix per name; the exact name must be there).
    pub async fn missing_log_groups(&self, names: &[String]) -> Result<Vec<String>, AwsError> {
        let mut missing = Vec::new();
        for name in names {
            let out = self
                .logs
                .describe_log_groups()
                .log_group_name_prefix(name)
                .limit(50)
                .send()
                .await
                .map_err(|e| self.err("logs", "DescribeLogGroups", e))?;
            if !out
                .log_groups()
                .iter()
                .any(|g| g.log_group_name() == Some(name.as_str()))
            {
                missing.push(name.clone());
            }
        }
        Ok(missing)
    }

    /// The SSM parameters among `names` that do not exist. Reads names
    /// only (DescribeParameters), never values.
    pub async fn missing_parameters(&self, names: &[String]) -> Result<Vec<String>, AwsError> {
        let present = self.parameter_meta(names).await?;
        Ok(names
            .iter()
            .filter(|n| !present.contains_key(*n))
            .cloned()
            .collect())
    }

    /// The Secrets Manager secrets among `ids` (names or ARNs) that do not
    /// exist; metadata only.
    pub async fn missing_secrets(&self, ids: &[String]) -> Result<Vec<String>, AwsError> {
        let mut missing = Vec::new();
        for id in ids {
            if self.secret_meta(id).await?.is_none() {
                missing.push(id.clone());
            }
        }
        Ok(missing)
    }

    /// The IAM roles among `arns` that do not exist.
    pub async fn missing_roles(&self, arns: &[String]) -> Result<Vec<String>, AwsError> {
        let mut missing = Vec::new();
        for arn in arns {
            let name = arn.rsplit('/').next().unwrap_or(arn);
            let out = self
                .iam
                .get_role()
                .role_name(name)
                .send()
                .await
                .map_err(|e| self.err("iam", "GetRole", e));
            if found(out, "NoSuchEntity")?.is_none() {
                missing.push(arn.clone());
            }
        }
        Ok(missing)
    }

    /// The policy documents of role `arn` (inline and attached, as JSON);
    /// `None` when the role does not exist.
    pub async fn role_policies(
        &self,
        arn: &str,
    ) -> Result<Option<Vec<serde_json::Value>>, AwsError> {
        let name = arn.rsplit('/').next().unwrap_or(arn);
        let inline = self
            .iam
            .list_role_policies()
            .role_name(name)
            .send()
            .await
            .map_err(|e| self.err("iam", "ListRolePolicies", e));
        let Some(inline) = found(inline, "NoSuchEntity")? else {
            return Ok(None);
        };
        let mut docs = Vec::new();
        for policy in inline.policy_names() {
            let out = self
                .iam
                .get_role_policy()
                .role_name(name)
                .policy_name(policy)
                .send()
                .await
                .map_err(|e| self.err("iam", "GetRolePolicy", e))?;
            docs.extend(policy_document(out.policy_document()));
        }
        let attached = self
            .iam
            .list_attached_role_policies()
            .role_name(name)
            .send()
            .await
            .map_err(|e| self.err("iam", "ListAttachedRolePolicies", e))?;
        for policy in attached.attached_policies() {
            let Some(policy_arn) = policy.policy_arn() else {
                continue;
            };
            let got = self
                .iam
                .get_policy()
                .policy_arn(policy_arn)
                .send()
                .await
                .map_err(|e| self.err("iam", "GetPolicy", e))?;
            let Some(version) = got.policy().and_then(|p| p.default_version_id()) else {
                continue;
            };
            let out = self
                .iam
                .get_policy_version()
                .policy_arn(policy_arn)
                .version_id(version)
                .send()
                .await
                .map_err(|e| self.err("iam", "GetPolicyVersion", e))?;
            docs.extend(policy_document(
                out.policy_version()
                    .and_then(|v| v.document())
                    .unwrap_or_default(),
            ));
        }
        Ok(Some(docs))
    }

    /// Every Cloud Map namespace, page by page (at most 50 pages: an
    /// account holds far fewer).
    pub async fn namespaces(&self) -> Result<Vec<Namespace>, AwsError> {
        let mut out = Vec::new();
        let mut token = None;
        for _ in 0..50 {
            let page = self
                .discovery
                .list_namespaces()
                .set_next_token(token)
                .send()
                .await
                .map_err(|e| self.err("servicediscovery", "ListNamespaces", e))?;
            out.extend(page.namespaces().iter().map(|n| Namespace {
                name: n.name().unwrap_or_default().to_string(),
                arn: n.arn().unwrap_or_default().to_string(),
            }));
            token = page.next_token().map(str::to_string);
            if token.is_none() {
                break;
            }
        }
        Ok(out)
    }

    /// The listener on `port` of the ALB named `load_balancer`, its rules
    /// and their target groups by name.
    pub async fn listener(&self, load_balancer: &str, port: i32) -> Result<Found, AwsError> {
        let out = self
            .elb
            .describe_load_balancers()
            .names(load_balancer)
            .send()
            .await
            .map_err(|e| self.err("elasticloadbalancing", "DescribeLoadBalancers", e));
        let Some(lb_arn) = found(out, "LoadBalancerNotFound")?.and_then(|o| {
            o.load_balancers()
                .first()?
                .load_balancer_arn()
                .map(str::to_string)
        }) else {
            return Ok(Found::NoLoadBalancer);
        };
        let listeners = self
            .elb
            .describe_listeners()
            .load_balancer_arn(&lb_arn)
            .send()
            .await
            .map_err(|e| self.err("elasticloadbalancing", "DescribeListeners", e))?;
        let Some(l) = listeners
            .listeners()
            .iter()
            .find(|l| l.port() == Some(port))
        else {
            return Ok(Found::NoListener);
        };
        let rules = self
            .elb
            .describe_rules()
            .listener_arn(l.listener_arn().unwrap_or_default())
            .send()
            .await
            .map_err(|e| self.err("elasticloadbalancing", "DescribeRules", e))?;
        let mut arns: Vec<String> = l
            .default_actions()
            .iter()
            .chain(rules.rules().iter().flat_map(|r| r.actions()))
            .filter_map(|a| a.target_group_arn().map(str::to_string))
            .collect();
        arns.sort();
        arns.dedup();
        let mut names = std::collections::BTreeMap::new();
        if !arns.is_empty() {
            let groups = self
                .elb
                .describe_target_groups()
                .set_target_group_arns(Some(arns))
                .send()
                .await
                .map_err(|e| self.err("elasticloadbalancing", "DescribeTargetGroups", e))?;
            for g in groups.target_groups() {
                names.insert(
                    g.target_group_arn().unwrap_or_default().to_string(),
                    g.target_group_name().unwrap_or_default().to_string(),
                );
            }
        }
        let action = |actions: &[aws_sdk_elasticloadbalancingv2::types::Action]| {
            rule_action(actions.first(), &names)
        };
        let mut out = Vec::new();
        for r in rules.rules() {
            if r.is_default() == Some(true) {
                continue;
            }
            let conditions = r
                .conditions()
                .iter()
                .map(|c| RuleCondition {
                    field: c.field().unwrap_or_default().to_string(),
                    values: condition_values(c),
                })
                .collect();
            out.push(ListenerRule {
                priority: r
                    .priority()
                    .and_then(|p| p.parse().ok())
                    .unwrap_or_default(),
                conditions,
                action: action(r.actions()),
            });
        }
        out.sort_by_key(|r| r.priority);
        Ok(Found::Listener(Box::new(Listener {
            load_balancer: load_balancer.to_string(),
            port,
            protocol: l
                .protocol()
                .map(|p| p.as_str().to_string())
                .unwrap_or_else(|| "HTTP".into()),
            certificate: l
                .certificates()
                .first()
                .and_then(|c| c.certificate_arn())
                .map(str::to_string),
            ssl_policy: l.ssl_policy().map(str::to_string),
            rules: out,
            default_action: action(l.default_actions()),
        })))
    }

    /// The ALB target group named `name` as DescribeTargetGroups answers;
    /// `None` when there is none.
    pub(crate) async fn described_group(
        &self,
        name: &str,
    ) -> Result<Option<aws_sdk_elasticloadbalancingv2::types::TargetGroup>, AwsError> {
        let out = self
            .elb
            .describe_target_groups()
            .names(name)
            .send()
            .await
            .map_err(|e| self.err("elasticloadbalancing", "DescribeTargetGroups", e));
        Ok(found(out, "TargetGroupNotFound")?.and_then(|o| o.target_groups().first().cloned()))
    }

    /// A target group as the ALB has it, in the form stack.yaml renders;
    /// `None` when there is no group of that name. `container` is where
    /// services register into it (not an attribute of the group).
    pub async fn target_group(
        &self,
        name: &str,
        container: (&str, i32),
    ) -> Result<Option<TargetGroup>, AwsError> {
        let Some(g) = self.described_group(name).await? else {
            return Ok(None);
        };
        let g = &g;
        let arn = g.target_group_arn().unwrap_or_default();
        let attributes = self
            .elb
            .describe_target_group_attributes()
            .target_group_arn(arn)
            .send()
            .await
            .map_err(|e| self.err("elasticloadbalancing", "DescribeTargetGroupAttributes", e))?;
        let delay = attributes
            .attributes()
            .iter()
            .find(|a| a.key() == Some("deregistration_delay.timeout_seconds"))
            .and_then(|a| a.value())
            .and_then(|v| v.parse().ok())
            // The ALB's documented default.
            .unwrap_or(300);
        Ok(Some(TargetGroup {
            name: g.target_group_name().unwrap_or_default().to_string(),
            protocol: g
                .protocol()
                .map(|p| p.as_str().to_string())
                .unwrap_or_default(),
            port: g.port().unwrap_or_default(),
            target_type: g
                .target_type()
                .map(|t| t.as_str().to_string())
                .unwrap_or_default(),
            health_check_protocol: g
                .health_check_protocol()
                .map(|p| p.as_str().to_string())
                .unwrap_or_default(),
            health_check_path: g.health_check_path().unwrap_or_default().to_string(),
            health_check_port: g.health_check_port().unwrap_or_default().to_string(),
            health_check_interval_seconds: g.health_check_interval_seconds().unwrap_or_default(),
            health_check_timeout_seconds: g.health_check_timeout_seconds().unwrap_or_default(),
            healthy_threshold_count: g.healthy_threshold_count().unwrap_or_default(),
            unhealthy_threshold_count: g.unhealthy_threshold_count().unwrap_or_default(),
            matcher: Matcher {
                http_code: g
                    .matcher()
                    .and_then(|m| m.http_code())
                    .unwrap_or_default()
                    .to_string(),
            },
            deregistration_delay_seconds: delay,
            container_name: container.0.to_string(),
            container_port: container.1,
        }))
    }

    /// Registry credentials from an ECR authorization token.
    pub async fn ecr_login(&self) -> Result<RegistryLogin, AwsError> {
        let out = self
            .ecr
            .get_authorization_token()
            .send()
            .await
            .map_err(|e| self.err("ecr", "GetAuthorizationToken", e))?;
        let data = out
            .authorization_data()
            .first()
            .ok_or_else(|| AwsError::Other {
                operation: "GetAuthorizationToken",
                reason: "no authorization data in the answer".into(),
            })?;
        let token = data.authorization_token().unwrap_or_default();
        let decoded = aws_smithy_types::base64::decode(token)
            .ok()
            .and_then(|b| String::from_utf8(b).ok())
            .unwrap_or_default();
        let (username, password) = decoded.split_once(':').ok_or_else(|| AwsError::Other {
            operation: "GetAuthorizationToken",
            reason: "the token is not `user:password`".into(),
        })?;
        let server = data.proxy_endpoint().unwrap_or_default();
        Ok(RegistryLogin {
            username: username.into(),
            password: password.into(),
            server: server
                .trim_start_matches("https://")
                .trim_end_matches('/')
                .into(),
        })
    }
}

/// The name in a target group's ARN (`arn:…:targetgroup/NAME/ID`).
fn group_name(arn: &str) -> Option<&str> {
    arn.split_once(":targetgroup/")?.1.split('/').next()
}

/// A rule's action as stack.yaml would write it; target groups by name.
fn rule_action(
    action: Option<&aws_sdk_elasticloadbalancingv2::types::Action>,
    names: &std::collections::BTreeMap<String, String>,
) -> RuleAction {
    let Some(a) = action else {
        return RuleAction::Forward(String::new());
    };
    if let Some(r) = a.redirect_config() {
        let part = |v: Option<&str>| v.unwrap_or_default().to_string();
        return RuleAction::Redirect {
            protocol: part(r.protocol()),
            port: part(r.port()),
            host: part(r.host()),
            path: part(r.path()),
            query: part(r.query()),
            status_code: r
                .status_code()
                .map(|s| s.as_str().to_string())
                .unwrap_or_default(),
        };
    }
    match a.fixed_response_config() {
        Some(f) => RuleAction::FixedResponse {
            status_code: f.status_code().unwrap_or_default().to_string(),
            content_type: f.content_type().unwrap_or_default().to_string(),
            message_body: f.message_body().unwrap_or_default().to_string(),
        },
        None => {
            // A group not in `names` by its ARN's name.
            let name = |arn: &str| {
                names
                    .get(arn)
                    .cloned()
                    .or_else(|| group_name(arn).map(str::to_string))
                    .unwrap_or_else(|| arn.to_string())
            };
            let weighted: Vec<(String, i32)> = a
                .forward_config()
                .map(|f| f.target_groups())
                .unwrap_or_default()
                .iter()
                .filter_map(|t| Some((name(t.target_group_arn()?), t.weight().unwrap_or(1))))
                .collect();
            match a.target_group_arn() {
                Some(arn) => RuleAction::Forward(name(arn)),
                None => RuleAction::Forward(crate::deploy::listener::forwarded_to(&weighted)),
            }
        }
    }
}

/// A condition's values, from its typed configuration or (as older
/// clients and emulators write them) its plain `Values`.
fn condition_values(c: &aws_sdk_elasticloadbalancingv2::types::RuleCondition) -> Vec<String> {
    let typed = c
        .path_pattern_config()
        .map(|p| p.values())
        .or_else(|| c.host_header_config().map(|h| h.values()))
        .or_else(|| c.http_request_method_config().map(|m| m.values()))
        .filter(|v| !v.is_empty());
    typed.unwrap_or(c.values()).to_vec()
}

/// What the environment's resource kinds read from AWS to compare it with
/// stack.yaml; the SDK clients in production, a table in tests.
pub trait Live: Sync {
    /// Who the credentials are: without it nothing else is asked.
    fn identity(&self) -> impl Future<Output = Result<Identity, AwsError>> + Send;
    /// `ACTIVE`, another status, or `None` when the cluster does not exist.
    fn cluster_status(
        &self,
        cluster: &str,
    ) -> impl Future<Output = Result<Option<String>, AwsError>> + Send;
    /// The services found, and the names not found.
    fn services(
        &self,
        cluster: &str,
        names: &[String],
    ) -> impl Future<Output = Result<(Vec<ServiceStatus>, Vec<String>), AwsError>> + Send;
    fn task_definition(
        &self,
        arn: &str,
    ) -> impl Future<Output = Result<TaskDefinition, AwsError>> + Send;
    /// The family's newest revision and its ARN, if it has one.
    fn latest_task_definition(
        &self,
        family: &str,
    ) -> impl Future<Output = Result<Option<(String, TaskDefinition)>, AwsError>> + Send;
    fn missing_repositories(
        &self,
        names: &[String],
    ) -> impl Future<Output = Result<Vec<String>, AwsError>> + Send;
    fn missing_parameters(
        &self,
        names: &[String],
    ) -> impl Future<Output = Result<Vec<String>, AwsError>> + Send;
    fn missing_log_groups(
        &self,
        names: &[String],
    ) -> impl Future<Output = Result<Vec<String>, AwsError>> + Send;
    fn missing_secrets(
        &self,
        ids: &[String],
    ) -> impl Future<Output = Result<Vec<String>, AwsError>> + Send;
    fn missing_roles(
        &self,
        arns: &[String],
    ) -> impl Future<Output = Result<Vec<String>, AwsError>> + Send;
    /// The health of every target of the named target group; `None` when
    /// the group does not exist.
    fn target_health(
        &self,
        name: &str,
    ) -> impl Future<Output = Result<Option<Vec<crate::deploy::live::TargetHealth>>, AwsError>> + Send;
    /// The target group as stack.yaml would write it, for `container`;
    /// `None` when it does not exist.
    fn target_group(
        &self,
        name: &str,
        container: (&str, i32),
    ) -> impl Future<Output = Result<Option<TargetGroup>, AwsError>> + Send;
    /// The listener on `port` of the ALB `load_balancer`, with its rules.
    fn listener(
        &self,
        load_balancer: &str,
        port: i32,
    ) -> impl Future<Output = Result<Found, AwsError>> + Send;
    /// Every Cloud Map namespace of the account and region.
    fn namespaces(&self) -> impl Future<Output = Result<Vec<Namespace>, AwsError>> + Send;
    /// The IDs of the subnets `chosen` names or tags (those that exist).
    fn subnets(
        &self,
        chosen: &crate::deploy::taskdef::Selector,
    ) -> impl Future<Output = Result<Vec<String>, AwsError>> + Send;
    /// The IDs of the security groups `chosen` names or tags.
    fn security_groups(
        &self,
        chosen: &crate::deploy::taskdef::Selector,
    ) -> impl Future<Output = Result<Vec<String>, AwsError>> + Send;
    /// The policy documents of role `arn`, inline and attached; `None`
    /// when it does not exist.
    fn role_policies(
        &self,
        arn: &str,
    ) -> impl Future<Output = Result<Option<Vec<serde_json::Value>>, AwsError>> + Send;
    /// How the service `resource_id` scales, if it is a scalable target.
    fn scaling(
        &self,
        resource_id: &str,
    ) -> impl Future<Output = Result<Option<crate::deploy::scaling::Scaling>, AwsError>> + Send;
    /// The last scaling activities of the service `resource_id`, newest
    /// first (at most `n`).
    fn scaling_activities(
        &self,
        resource_id: &str,
        n: usize,
    ) -> impl Future<Output = Result<Vec<crate::deploy::scaling::Activity>, AwsError>> + Send;
    /// The alarms named `prefix…` whose description starts `managed_by`.
    fn managed_alarms(
        &self,
        prefix: &str,
        managed_by: &str,
    ) -> impl Future<Output = Result<Vec<crate::deploy::scaling::Alarm>, AwsError>> + Send;
    /// The states of the alarms named (those that exist).
    fn alarm_states(
        &self,
        names: &[String],
    ) -> impl Future<Output = Result<Vec<crate::deploy::scaling::AlarmState>, AwsError>> + Send;
    /// The CloudWatch dashboard `name`, if it exists.
    fn dashboard(
        &self,
        name: &str,
    ) -> impl Future<Output = Result<Option<crate::deploy::scaling::Dashboard>, AwsError>> + Send;
    /// The latest value of each GetMetricData query in the window.
    fn metric_data(
        &self,
        queries: &[serde_json::Value],
        start: i64,
        end: i64,
    ) -> impl Future<Output = Result<Vec<(String, Option<f64>)>, AwsError>> + Send;
    /// The ARNs of a target group and its load balancer, if it exists.
    fn group_and_balancer(
        &self,
        name: &str,
    ) -> impl Future<Output = Result<Option<(String, Option<String>)>, AwsError>> + Send;
}

impl Live for Aws {
    async fn identity(&self) -> Result<Identity, AwsError> {
        Aws::identity(self).await
    }
    async fn cluster_status(&self, cluster: &str) -> Result<Option<String>, AwsError> {
        Aws::cluster_status(self, cluster).await
    }
    async fn services(
        &self,
        cluster: &str,
        names: &[String],
    ) -> Result<(Vec<ServiceStatus>, Vec<String>), AwsError> {
        Aws::services(self, cluster, names).await
    }
    async fn task_definition(&self, arn: &str) -> Result<TaskDefinition, AwsError> {
        Aws::task_definition(self, arn).await
    }
    async fn latest_task_definition(
        &self,
        family: &str,
    ) -> Result<Option<(String, TaskDefinition)>, AwsError> {
        Aws::latest_task_definition(self, family).await
    }
    async fn missing_repositories(&self, names: &[String]) -> Result<Vec<String>, AwsError> {
        Aws::missing_repositories(self, names).await
    }
    async fn missing_parameters(&self, names: &[String]) -> Result<Vec<String>, AwsError> {
        Aws::missing_parameters(self, names).await
    }
    async fn missing_log_groups(&self, names: &[String]) -> Result<Vec<String>, AwsError> {
        Aws::missing_log_groups(self, names).await
    }
    async fn missing_secrets(&self, ids: &[String]) -> Result<Vec<String>, AwsError> {
        Aws::missing_secrets(self, ids).await
    }
    async fn missing_roles(&self, arns: &[String]) -> Result<Vec<String>, AwsError> {
        Aws::missing_roles(self, arns).await
    }
    async fn target_health(
        &self,
        name: &str,
    ) -> Result<Option<Vec<crate::deploy::live::TargetHealth>>, AwsError> {
        Aws::target_health(self, name).await
    }
    async fn target_group(
        &self,
        name: &str,
        container: (&str, i32),
    ) -> Result<Option<TargetGroup>, AwsError> {
        Aws::target_group(self, name, container).await
    }
    async fn listener(&self, load_balancer: &str, port: i32) -> Result<Found, AwsError> {
        Aws::listener(self, load_balancer, port).await
    }
    async fn namespaces(&self) -> Result<Vec<Namespace>, AwsError> {
        Aws::namespaces(self).await
    }
    async fn subnets(
        &self,
        chosen: &crate::deploy::taskdef::Selector,
    ) -> Result<Vec<String>, AwsError> {
        self.ec2.subnets(chosen).await
    }
    async fn security_groups(
        &self,
        chosen: &crate::deploy::taskdef::Selector,
    ) -> Result<Vec<String>, AwsError> {
        self.ec2.security_groups(chosen).await
    }
    async fn role_policies(&self, arn: &str) -> Result<Option<Vec<serde_json::Value>>, AwsError> {
        Aws::role_policies(self, arn).await
    }
    async fn scaling(
        &self,
        resource_id: &str,
    ) -> Result<Option<crate::deploy::scaling::Scaling>, AwsError> {
        Aws::scaling(self, resource_id).await
    }
    async fn scaling_activities(
        &self,
        resource_id: &str,
        n: usize,
    ) -> Result<Vec<crate::deploy::scaling::Activity>, AwsError> {
        Aws::scaling_activities(self, resource_id, n).await
    }
    async fn managed_alarms(
        &self,
        prefix: &str,
        managed_by: &str,
    ) -> Result<Vec<crate::deploy::scaling::Alarm>, AwsError> {
        Aws::managed_alarms(self, prefix, managed_by).await
    }
    async fn group_and_balancer(
        &self,
        name: &str,
    ) -> Result<Option<(String, Option<String>)>, AwsError> {
        Aws::group_and_balancer(self, name).await
    }
    async fn alarm_states(
        &self,
        names: &[String],
    ) -> Result<Vec<crate::deploy::scaling::AlarmState>, AwsError> {
        Aws::alarm_states(self, names).await
    }
    async fn metric_data(
        &self,
        queries: &[serde_json::Value],
        start: i64,
        end: i64,
    ) -> Result<Vec<(String, Option<f64>)>, AwsError> {
        Aws::metric_data(self, queries, start, end).await
    }
    async fn dashboard(
        &self,
        name: &str,
    ) -> Result<Option<crate::deploy::scaling::Dashboard>, AwsError> {
        Aws::dashboard(self, name).await
    }
}

/// What a rollout needs from ECS; the SDK client in production, scripted
/// answers in tests.
pub trait Ecs: Sync {
    fn describe(
        &self,
        cluster: &str,
        services: &[String],
    ) -> impl Future<Output = Result<Vec<ServiceStatus>, AwsError>> + Send;
    fn update(&self, update: &ServiceUpdate) -> impl Future<Output = Result<(), AwsError>> + Send;
    /// Sets a service's desired count and nothing else.
    fn set_desired_count(
        &self,
        cluster: &str,
        service: &str,
        count: i32,
    ) -> impl Future<Output = Result<(), AwsError>> + Send;
    /// Starts one task of `task_definition` on Fargate with the network
    /// configuration of service `network_from`; returns the task ARN.
    fn run_task(
        &self,
        cluster: &str,
        task_definition: &str,
        network_from: &str,
    ) -> impl Future<Output = Result<String, AwsError>> + Send;
    fn describe_task(
        &self,
        cluster: &str,
        task: &str,
    ) -> impl Future<Output = Result<TaskStatus, AwsError>> + Send;
    /// Where a blue/green, canary or linear deployment of `service`
    /// stands (with the weights of `rule`, its production listener rule,
    /// as `DescribeServices` named it); `None` when it has none in progress.
    fn shifting(
        &self,
        cluster: &str,
        service: &str,
        rule: Option<&str>,
    ) -> impl Future<Output = Result<Option<crate::deploy::rollout::Shifting>, AwsError>> + Send;
    /// Sends one change of scaling or alarms.
    fn scaling_step(
        &self,
        step: &crate::deploy::scaling::Step,
    ) -> impl Future<Output = Result<(), AwsError>> + Send;
    /// The states of the alarms named (those that exist).
    fn alarm_states(
        &self,
        names: &[String],
    ) -> impl Future<Output = Result<Vec<crate::deploy::scaling::AlarmState>, AwsError>> + Send;
}

impl Ecs for Aws {
    async fn describe(
        &self,
        cluster: &str,
        services: &[String],
    ) -> Result<Vec<ServiceStatus>, AwsError> {
        let (found, missing) = self.services(cluster, services).await?;
        if let Some(name) = missing.first() {
            return Err(AwsError::Other {
                operation: "DescribeServices",
                reason: format!("service {name} is gone from cluster {cluster}"),
            });
        }
        Ok(found)
    }

    async fn update(&self, u: &ServiceUpdate) -> Result<(), AwsError> {
        let mut request = self
            .ecs
            .update_service()
            .cluster(&u.cluster)
            .service(&u.service)
            .task_definition(&u.task_definition)
            .set_desired_count(u.desired_count)
            .set_health_check_grace_period_seconds(u.health_check_grace_period_seconds)
            .set_force_new_deployment(u.force_new_deployment);
        if let Some(dc) = &u.deployment_configuration {
            let breaker = aws_sdk_ecs::types::DeploymentCircuitBreaker::builder()
                .enable(dc.deployment_circuit_breaker.enable)
                .rollback(dc.deployment_circuit_breaker.rollback)
                .build();
            // No rollback alarms: any the service had are switched off.
            let (names, on) = match &dc.alarms {
                Some(a) => (a.alarm_names.clone(), a.enable),
                None => (Vec::new(), false),
            };
            let alarms = aws_sdk_ecs::types::DeploymentAlarms::builder()
                .set_alarm_names(Some(names))
                .enable(on)
                .rollback(dc.alarms.as_ref().is_some_and(|a| a.rollback))
                .build()
                .map_err(|e| AwsError::Other {
                    operation: "UpdateService",
                    reason: e.to_string(),
                })?;
            // Always a strategy: a service moved back to rolling is told so.
            let mut config = aws_sdk_ecs::types::DeploymentConfiguration::builder()
                .deployment_circuit_breaker(breaker)
                .minimum_healthy_percent(dc.minimum_healthy_percent)
                .maximum_percent(dc.maximum_percent)
                .alarms(alarms)
                .strategy(aws_sdk_ecs::types::DeploymentStrategy::from(dc.strategy()))
                .set_bake_time_in_minutes(dc.bake_time_in_minutes);
            if let Some(c) = &dc.canary_configuration {
                config = config.canary_configuration(
                    aws_sdk_ecs::types::CanaryConfiguration::builder()
                        .canary_percent(c.canary_percent.0)
                        .canary_bake_time_in_minutes(c.canary_bake_time_in_minutes)
                        .build(),
                );
            }
            if let Some(l) = &dc.linear_configuration {
                config = config.linear_configuration(
                    aws_sdk_ecs::types::LinearConfiguration::builder()
                        .step_percent(l.step_percent.0)
                        .step_bake_time_in_minutes(l.step_bake_time_in_minutes)
                        .build(),
                );
            }
            request = request.deployment_configuration(config.build());
        }
        if let Some(sc) = &u.service_connect_configuration {
            let sc = taskdef::service_connect_request(sc).map_err(|reason| AwsError::Other {
                operation: "UpdateService",
                reason,
            })?;
            request = request.service_connect_configuration(sc);
        }
        if let Some(n) = &u.network_configuration {
            let v = &n.awsvpc_configuration;
            let vpc = aws_sdk_ecs::types::AwsVpcConfiguration::builder()
                .set_subnets(Some(v.subnets.clone()))
                .set_security_groups(Some(v.security_groups.clone()))
                .assign_public_ip(aws_sdk_ecs::types::AssignPublicIp::from(
                    v.assign_public_ip.as_str(),
                ))
                .build()
                .map_err(|e| AwsError::Other {
                    operation: "UpdateService",
                    reason: e.to_string(),
                })?;
            request = request.network_configuration(
                aws_sdk_ecs::types::NetworkConfiguration::builder()
                    .awsvpc_configuration(vpc)
                    .build(),
            );
        }
        if let Some(items) = &u.capacity_provider_strategy {
            for c in items {
                let item = aws_sdk_ecs::types::CapacityProviderStrategyItem::builder()
                    .capacity_provider(&c.capacity_provider)
                    .weight(c.weight)
                    .base(c.base)
                    .build()
                    .map_err(|e| AwsError::Other {
                        operation: "UpdateService",
                        reason: e.to_string(),
                    })?;
                request = request.capacity_provider_strategy(item);
            }
        }
        request
            .send()
            .await
            .map_err(|e| self.err("ecs", "UpdateService", e))?;
        Ok(())
    }

    async fn set_desired_count(
        &self,
        cluster: &str,
        service: &str,
        count: i32,
    ) -> Result<(), AwsError> {
        self.ecs
            .update_service()
            .cluster(cluster)
            .service(service)
            .desired_count(count)
            .send()
            .await
            .map_err(|e| self.err("ecs", "UpdateService", e))?;
        Ok(())
    }

    async fn run_task(
        &self,
        cluster: &str,
        task_definition: &str,
        network_from: &str,
    ) -> Result<String, AwsError> {
        self.start_task(cluster, task_definition, network_from, None, "geno")
            .await
    }

    async fn describe_task(&self, cluster: &str, task: &str) -> Result<TaskStatus, AwsError> {
        // One projection of DescribeTasks (`tasks`), read the way a job's
        // outcome is assessed.
        let t = self
            .tasks(cluster, &[task.to_string()])
            .await?
            .into_iter()
            .next()
            .ok_or_else(|| AwsError::Other {
                operation: "DescribeTasks",
                reason: format!("task {task} is not known to cluster {cluster}"),
            })?;
        Ok(TaskStatus {
            arn: task.to_string(),
            last_status: t.last_status,
            stopped_reason: t.stopped_reason,
            containers: t
                .containers
                .into_iter()
                .map(|c| ContainerExit {
                    name: c.name,
                    exit_code: c.exit_code,
                    reason: c.reason,
                })
                .collect(),
        })
    }

    async fn scaling_step(&self, step: &crate::deploy::scaling::Step) -> Result<(), AwsError> {
        Aws::scaling_step(self, step).await
    }

    async fn shifting(
        &self,
        cluster: &str,
        service: &str,
        rule: Option<&str>,
    ) -> Result<Option<crate::deploy::rollout::Shifting>, AwsError> {
        let listed = self
            .ecs
            .list_service_deployments()
            .cluster(cluster)
            .service(service)
            .status(aws_sdk_ecs::types::ServiceDeploymentStatus::InProgress)
            .send()
            .await
            .map_err(|e| self.err("ecs", "ListServiceDeployments", e))?;
        let Some(arn) = listed
            .service_deployments()
            .iter()
            .filter_map(|d| d.service_deployment_arn())
            .next()
            .map(str::to_string)
        else {
            return Ok(None);
        };
        let described = self
            .ecs
            .describe_service_deployments()
            .service_deployment_arns(arn)
            .send()
            .await
            .map_err(|e| self.err("ecs", "DescribeServiceDeployments", e))?;
        let stage = described
            .service_deployments()
            .first()
            .and_then(|d| d.lifecycle_stage())
            .map(|s| s.as_str().to_string())
            .unwrap_or_default();
        // The production listener rule's weights: what ECS has moved so far.
        let weights = match rule {
            Some(rule) => self.rule_weights(rule).await?,
            None => Vec::new(),
        };
        Ok(Some(crate::deploy::rollout::Shifting { stage, weights }))
    }

    async fn alarm_states(
        &self,
        names: &[String],
    ) -> Result<Vec<crate::deploy::scaling::AlarmState>, AwsError> {
        Aws::alarm_states(self, names).await
    }
}

impl Aws {
    /// The target groups a listener rule forwards to and their weights, by
    /// name.
    async fn rule_weights(&self, rule: &str) -> Result<Vec<(String, i32)>, AwsError> {
        let out = self
            .elb
            .describe_rules()
            .rule_arns(rule)
            .send()
            .await
            .map_err(|e| self.err("elasticloadbalancing", "DescribeRules", e))?;
        let name = |arn: &str| group_name(arn).unwrap_or(arn).to_string();
        Ok(out
            .rules()
            .iter()
            .flat_map(|r| r.actions())
            .filter_map(|a| a.forward_config())
            .flat_map(|f| f.target_groups())
            .filter_map(|t| Some((name(t.target_group_arn()?), t.weight().unwrap_or(0))))
            .collect())
    }

    /// One Fargate task of `task_definition` in the network configuration
    /// of service `network_from`; returns the task ARN.
    async fn start_task(
        &self,
        cluster: &str,
        task_definition: &str,
        network_from: &str,
        overrides: Option<aws_sdk_ecs::types::TaskOverride>,
        started_by: &str,
    ) -> Result<String, AwsError> {
        let described = self
            .ecs
            .describe_services()
            .cluster(cluster)
            .services(network_from)
            .send()
            .await
            .map_err(|e| self.err("ecs", "DescribeServices", e))?;
        let network = described
            .services()
            .first()
            .and_then(|s| s.network_configuration())
            .cloned()
            .ok_or_else(|| AwsError::Other {
                operation: "RunTask",
                reason: format!(
                    "service {network_from} has no network configuration to run the task in"
                ),
            })?;
        let out = self
            .ecs
            .run_task()
            .cluster(cluster)
            .task_definition(task_definition)
            .launch_type(aws_sdk_ecs::types::LaunchType::Fargate)
            .network_configuration(network)
            .set_overrides(overrides)
            .started_by(started_by)
            .count(1)
            .send()
            .await
            .map_err(|e| self.err("ecs", "RunTask", e))?;
        if let Some(f) = out.failures().first() {
            return Err(AwsError::Other {
                operation: "RunTask",
                reason: format!(
                    "{} ({})",
                    f.reason().unwrap_or("failed"),
                    f.detail().unwrap_or_default()
                ),
            });
        }
        out.tasks()
            .first()
            .and_then(|t| t.task_arn())
            .map(str::to_string)
            .ok_or_else(|| AwsError::Other {
                operation: "RunTask",
                reason: "no task was started".into(),
            })
    }
}

/// A policy document as IAM returns it: URL-encoded JSON (some stand-ins
/// send it plain).
fn policy_document(text: &str) -> Option<serde_json::Value> {
    serde_json::from_str(text).ok().or_else(|| {
        let decoded = percent_encoding::percent_decode_str(text)
            .decode_utf8()
            .ok()?;
        serde_json::from_str(&decoded).ok()
    })
}

fn service_status(s: &aws_sdk_ecs::types::Service) -> ServiceStatus {
    ServiceStatus {
        name: s.service_name().unwrap_or_default().to_string(),
        status: s.status().unwrap_or_default().to_string(),
        task_definition: s.task_definition().unwrap_or_default().to_string(),
        desired: s.desired_count(),
        running: s.running_count(),
        pending: s.pending_count(),
        deployments: s
            .deployments()
            .iter()
            .map(|d| Deployment {
                id: d.id().unwrap_or_default().to_string(),
                status: d.status().unwrap_or_default().to_string(),
                task_definition: d.task_definition().unwrap_or_default().to_string(),
                rollout_state: d.rollout_state().map(|r| match r.as_str() {
                    "COMPLETED" => RolloutState::Completed,
                    "FAILED" => RolloutState::Failed,
                    _ => RolloutState::InProgress,
                }),
                reason: d.rollout_state_reason().map(str::to_string),
                desired: d.desired_count(),
                running: d.running_count(),
                pending: d.pending_count(),
                failed_tasks: d.failed_tasks(),
            })
            .collect(),
        events: s
            .events()
            .iter()
            .map(|e| Event {
                id: e.id().unwrap_or_default().to_string(),
                at: e
                    .created_at()
                    .and_then(|t| t.fmt(aws_smithy_types::date_time::Format::DateTime).ok())
                    .unwrap_or_default(),
                message: e.message().unwrap_or_default().to_string(),
            })
            .collect(),
        deployment: s.deployment_configuration().map(|c| {
            let breaker = c.deployment_circuit_breaker();
            DeploymentConfiguration {
                deployment_circuit_breaker: CircuitBreaker {
                    enable: breaker.is_some_and(|b| b.enable()),
                    rollback: breaker.is_some_and(|b| b.rollback()),
                },
                minimum_healthy_percent: c.minimum_healthy_percent().unwrap_or(100),
                maximum_percent: c.maximum_percent().unwrap_or(200),
                alarms: c
                    .alarms()
                    .filter(|a| a.enable() || !a.alarm_names().is_empty())
                    .map(|a| crate::deploy::taskdef::DeploymentAlarms {
                        alarm_names: a.alarm_names().to_vec(),
                        enable: a.enable(),
                        rollback: a.rollback(),
                    }),
                strategy: c
                    .strategy()
                    .map(|s| s.as_str().to_string())
                    .filter(|s| s != "ROLLING"),
                bake_time_in_minutes: c.bake_time_in_minutes(),
                canary_configuration: c.canary_configuration().map(|c| {
                    crate::deploy::taskdef::CanaryConfiguration {
                        canary_percent: crate::deploy::taskdef::Percent(
                            c.canary_percent().unwrap_or_default(),
                        ),
                        canary_bake_time_in_minutes: c.canary_bake_time_in_minutes().unwrap_or(0),
                    }
                }),
                linear_configuration: c.linear_configuration().map(|l| {
                    crate::deploy::taskdef::LinearConfiguration {
                        step_percent: crate::deploy::taskdef::Percent(
                            l.step_percent().unwrap_or_default(),
                        ),
                        step_bake_time_in_minutes: l.step_bake_time_in_minutes().unwrap_or(0),
                    }
                }),
            }
        }),
        grace_period_seconds: s.health_check_grace_period_seconds(),
        // ECS reports it per deployment: the one the service converges on.
        service_connect: s
            .deployments()
            .iter()
            .find(|d| d.status() == Some("PRIMARY"))
            .and_then(|d| d.service_connect_configuration())
            .map(taskdef::service_connect),
        // `arn:…:targetgroup/NAME/ID`
        target_groups: s
            .load_balancers()
            .iter()
            .filter_map(|lb| group_name(lb.target_group_arn()?).map(str::to_string))
            .collect(),
        production_rule: s
            .load_balancers()
            .iter()
            .find_map(|lb| lb.advanced_configuration()?.production_listener_rule())
            .map(str::to_string),
        alternates: s
            .load_balancers()
            .iter()
            .filter_map(|lb| {
                let name = |arn: &str| group_name(arn).map(str::to_string);
                let alternate = lb.advanced_configuration()?.alternate_target_group_arn()?;
                Some((name(lb.target_group_arn()?)?, name(alternate)?))
            })
            .collect(),
        network: s
            .network_configuration()
            .and_then(|n| n.awsvpc_configuration())
            .map(|v| crate::deploy::taskdef::AwsVpc {
                subnets: v.subnets().to_vec(),
                security_groups: v.security_groups().to_vec(),
                assign_public_ip: v
                    .assign_public_ip()
                    .map(|a| a.as_str().to_string())
                    .unwrap_or_else(|| "DISABLED".into()),
            }),
        capacity: s
            .capacity_provider_strategy()
            .iter()
            .map(|c| crate::deploy::taskdef::CapacityProviderItem {
                capacity_provider: c.capacity_provider().to_string(),
                weight: c.weight(),
                base: c.base(),
            })
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::{AwsError, found};

    #[test]
    fn only_the_named_not_found_code_means_absent() {
        let api = |code: &str| AwsError::Api {
            service: "secretsmanager",
            operation: "DescribeSecret",
            endpoint: "http://127.0.0.1:5000".into(),
            code: code.into(),
            message: String::new(),
        };
        assert_eq!(
            found(Ok::<_, AwsError>(1), "NoSuchEntity").unwrap(),
            Some(1)
        );
        assert_eq!(
            found::<i32>(Err(api("NoSuchEntity")), "NoSuchEntity").unwrap(),
            None
        );
        let other = found::<i32>(Err(api("AccessDenied")), "NoSuchEntity").unwrap_err();
        assert_eq!(
            other.to_string(),
            "DescribeSecret at http://127.0.0.1:5000: AccessDenied:  (the credentials' IAM policy must allow secretsmanager:DescribeSecret)"
        );
    }
}

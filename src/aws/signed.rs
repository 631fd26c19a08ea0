//! AWS calls signed with SigV4 by hand, for the services whose SDK crate
//! geno does not build: EC2's Query API (its crate is the largest of the
//! SDK's) and the JSON APIs of Application Auto Scaling and CloudWatch
//! (a few calls each, and a cold build on two cores is already the
//! longest wait of a first run). `aws-sigv4` (beneath the SDK crates)
//! signs, reqwest sends; throttling and server faults are retried a few
//! times, as the SDK's standard retry does.

use std::time::{Duration, SystemTime};

use aws_credential_types::provider::{ProvideCredentials, SharedCredentialsProvider};
use aws_sigv4::http_request::{SignableBody, SignableRequest, SigningSettings, sign};
use aws_sigv4::sign::v4;
use serde_json::Value;

use super::AwsError;

/// Signs and sends for one region.
#[derive(Clone)]
pub struct Signer {
    http: reqwest::Client,
    pub region: String,
    /// `AWS_ENDPOINT_URL`, when set: every service is there.
    endpoint: Option<String>,
    credentials: Option<SharedCredentialsProvider>,
}

/// A JSON protocol API: its signing name (also its IAM prefix), host
/// prefix, target prefix and content type.
pub struct JsonApi {
    pub signing_name: &'static str,
    pub host: &'static str,
    pub target: &'static str,
    pub content_type: &'static str,
}

pub const AUTOSCALING: JsonApi = JsonApi {
    signing_name: "application-autoscaling",
    host: "application-autoscaling",
    target: "AnyScaleFrontendService",
    content_type: "application/x-amz-json-1.1",
};

pub const CLOUDWATCH: JsonApi = JsonApi {
    signing_name: "monitoring",
    host: "monitoring",
    target: "GraniteServiceVersion20100801",
    content_type: "application/x-amz-json-1.0",
};

/// How many times a throttled or faulted call is sent in all.
const ATTEMPTS: u32 = 4;

impl Signer {
    pub fn new(
        region: &str,
        endpoint: Option<&str>,
        credentials: Option<SharedCredentialsProvider>,
    ) -> Signer {
        Signer {
            http: reqwest::Client::new(),
            region: region.to_string(),
            endpoint: endpoint.map(|e| e.trim_end_matches('/').to_string()),
            credentials,
        }
    }

    /// Where service `host` (e.g. `ec2`) is reached.
    pub fn endpoint(&self, host: &str) -> String {
        self.endpoint
            .clone()
            .unwrap_or_else(|| format!("https://{host}.{}.amazonaws.com", self.region))
    }

    /// A POST of `body` to `host`'s endpoint, signed for `signing_name`;
    /// the answer's status and text. Throttling (HTTP 400 with a throttling
    /// code, or 429) and server faults (5xx) are sent again, up to
    /// `ATTEMPTS` times with a doubling pause.
    pub async fn post(
        &self,
        signing_name: &'static str,
        host: &str,
        operation: &'static str,
        headers: &[(&str, &str)],
        body: String,
    ) -> Result<(u16, String), AwsError> {
        let endpoint = self.endpoint(host);
        let url = format!("{endpoint}/");
        let mut pause = Duration::from_millis(200);
        let mut attempt = 1;
        loop {
            let mut request = self.http.post(&url).body(body.clone());
            for (k, v) in headers {
                request = request.header(*k, *v);
            }
            for (name, value) in self.signature(signing_name, &url, headers, &body).await? {
                request = request.header(name, value);
            }
            let unreachable = |reason: String| AwsError::Unreachable {
                service: signing_name,
                operation,
                endpoint: endpoint.clone(),
                reason,
            };
            let response = request.send().await.map_err(|e| {
                unreachable(crate::error::causes(&e).last().cloned().unwrap_or_default())
            })?;
            let status = response.status().as_u16();
            let text = response
                .text()
                .await
                .map_err(|e| unreachable(e.to_string()))?;
            let retry = status >= 500 || status == 429 || text.contains("Throttl");
            if !retry || status < 400 || attempt >= ATTEMPTS {
                return Ok((status, text));
            }
            tokio::time::sleep(pause).await;
            pause *= 2;
            attempt += 1;
        }
    }

    /// A call to a JSON protocol API: `operation` with `input`, its answer.
    pub async fn json(
        &self,
        api: &JsonApi,
        operation: &'static str,
        input: &Value,
    ) -> Result<Value, AwsError> {
        let target = format!("{}.{operation}", api.target);
        let headers = [
            ("content-type", api.content_type),
            ("x-amz-target", target.as_str()),
        ];
        let (status, text) = self
            .post(
                api.signing_name,
                api.host,
                operation,
                &headers,
                input.to_string(),
            )
            .await?;
        let answer: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
        if (200..300).contains(&status) {
            return Ok(answer);
        }
        // `__type` is `Code` or `prefix#Code`.
        let code = answer["__type"]
            .as_str()
            .map(|t| t.rsplit('#').next().unwrap_or(t).to_string());
        let message = answer["message"]
            .as_str()
            .or(answer["Message"].as_str())
            .unwrap_or_default()
            .to_string();
        Err(match code {
            Some(code) => AwsError::Api {
                service: api.signing_name,
                operation,
                endpoint: self.endpoint(api.host),
                code,
                message,
            },
            None => AwsError::Other {
                operation,
                reason: format!(
                    "{} answered HTTP {status} without an AWS error",
                    self.endpoint(api.host)
                ),
            },
        })
    }

    /// The SigV4 headers for a POST of `body` to `url`.
    async fn signature(
        &self,
        signing_name: &str,
        url: &str,
        headers: &[(&str, &str)],
        body: &str,
    ) -> Result<Vec<(String, String)>, AwsError> {
        let no_credentials = |reason: String| AwsError::NoCredentials { reason };
        let provider = self
            .credentials
            .as_ref()
            .ok_or_else(|| no_credentials("no credentials provider is configured".into()))?;
        let credentials = provider
            .provide_credentials()
            .await
            .map_err(|e| no_credentials(e.to_string()))?;
        let identity = credentials.into();
        let params = v4::SigningParams::builder()
            .identity(&identity)
            .region(&self.region)
            .name(signing_name)
            .time(SystemTime::now())
            .settings(SigningSettings::default())
            .build()
            .map_err(|e| no_credentials(e.to_string()))?
            .into();
        let signable = SignableRequest::new(
            "POST",
            url,
            headers.iter().copied(),
            SignableBody::Bytes(body.as_bytes()),
        )
        .map_err(|e| no_credentials(e.to_string()))?;
        let (instructions, _) = sign(signable, &params)
            .map_err(|e| no_credentials(e.to_string()))?
            .into_parts();
        Ok(instructions
            .headers()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect())
    }
}

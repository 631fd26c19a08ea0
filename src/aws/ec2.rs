//! The two EC2 reads geno needs (which subnets and security groups exist,
//! by ID or by tag), over EC2's Query API signed with SigV4. Not the EC2
//! SDK crate: it is the largest of the AWS SDK crates, several minutes of
//! a cold build on two cores for two read-only calls; `aws-sigv4` (already
//! beneath the SDK crates) signs, reqwest sends, and the few elements read
//! back are found by their path in the answer.

use super::AwsError;
use super::signed::Signer;
use crate::deploy::taskdef::Selector;

/// EC2 for one region.
#[derive(Clone)]
pub struct Ec2 {
    signer: Signer,
}

impl Ec2 {
    pub fn new(signer: Signer) -> Ec2 {
        Ec2 { signer }
    }

    /// The IDs of the subnets chosen, in EC2's order.
    pub async fn subnets(&self, chosen: &Selector) -> Result<Vec<String>, AwsError> {
        let body = self.call("DescribeSubnets", "subnet-id", chosen).await?;
        Ok(texts(
            &body,
            &["DescribeSubnetsResponse", "subnetSet", "item", "subnetId"],
        ))
    }

    /// The IDs of the security groups chosen, in EC2's order.
    pub async fn security_groups(&self, chosen: &Selector) -> Result<Vec<String>, AwsError> {
        let body = self
            .call("DescribeSecurityGroups", "group-id", chosen)
            .await?;
        Ok(texts(
            &body,
            &[
                "DescribeSecurityGroupsResponse",
                "securityGroupInfo",
                "item",
                "groupId",
            ],
        ))
    }

    async fn call(
        &self,
        action: &'static str,
        id_filter: &str,
        chosen: &Selector,
    ) -> Result<String, AwsError> {
        let mut params: Vec<(String, String)> = vec![
            ("Action".into(), action.into()),
            ("Version".into(), "2016-11-15".into()),
        ];
        let filters: Vec<(String, Vec<&str>)> = match chosen {
            // A filter, not SubnetId.N: an ID that does not exist is left
            // out of the answer instead of failing the call.
            Selector::Ids(ids) => vec![(
                id_filter.to_string(),
                ids.iter().map(String::as_str).collect(),
            )],
            Selector::Tags(tags) => tags
                .iter()
                .map(|(k, v)| (format!("tag:{k}"), vec![v.as_str()]))
                .collect(),
        };
        for (i, (name, values)) in filters.iter().enumerate() {
            params.push((format!("Filter.{}.Name", i + 1), name.clone()));
            for (j, v) in values.iter().enumerate() {
                params.push((format!("Filter.{}.Value.{}", i + 1, j + 1), v.to_string()));
            }
        }
        let body: String = params
            .iter()
            .map(|(k, v)| format!("{}={}", encode(k), encode(v)))
            .collect::<Vec<_>>()
            .join("&");
        let content_type = "application/x-www-form-urlencoded; charset=utf-8";
        let (status, text) = self
            .signer
            .post(
                "ec2",
                "ec2",
                action,
                &[("content-type", content_type)],
                body,
            )
            .await?;
        if !(200..300).contains(&status) {
            let code = texts(&text, &["Response", "Errors", "Error", "Code"]);
            let message = texts(&text, &["Response", "Errors", "Error", "Message"]);
            return Err(AwsError::Other {
                operation: action,
                reason: match (code.first(), message.first()) {
                    (Some(c), Some(m)) => format!("{c}: {m}"),
                    _ => format!("{} answered HTTP {status}", self.signer.endpoint("ec2")),
                },
            });
        }
        Ok(text)
    }
}

/// `application/x-www-form-urlencoded` as SigV4 wants it (RFC 3986
/// unreserved characters kept, everything else percent-encoded).
fn encode(s: &str) -> String {
    const SET: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
        .remove(b'-')
        .remove(b'_')
        .remove(b'.')
        .remove(b'~');
    percent_encoding::utf8_percent_encode(s, SET).to_string()
}

/// The text of every element at exactly `path` from the document's root
/// (so a `groupId` nested in a group's rules is not a group). EC2's answers
/// carry no attributes, CDATA or entities in the elements read here beyond
/// the five XML escapes.
fn texts(xml: &str, path: &[&str]) -> Vec<String> {
    let mut stack: Vec<&str> = Vec::new();
    let mut out = Vec::new();
    let mut rest = xml;
    while let Some(open) = rest.find('<') {
        let text = &rest[..open];
        if stack.as_slice() == path {
            out.push(unescape(text.trim()));
        }
        let Some(close) = rest[open..].find('>') else {
            break;
        };
        let tag = &rest[open + 1..open + close];
        rest = &rest[open + close + 1..];
        if tag.starts_with('?') || tag.starts_with('!') {
            continue;
        }
        if let Some(name) = tag.strip_prefix('/') {
            if stack.last() == Some(&name.trim()) {
                stack.pop();
            }
        } else if !tag.ends_with('/') {
            let name = tag.split_whitespace().next().unwrap_or_default();
            stack.push(name);
        }
    }
    out
}

fn unescape(s: &str) -> String {
    s.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&apos;", "'")
        .replace("&amp;", "&")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_top_level_groups_are_read_not_those_their_rules_name() {
        let xml = r#"<?xml version="1.0" encoding="UTF-8"?>
<DescribeSecurityGroupsResponse xmlns="http://ec2.amazonaws.com/doc/2016-11-15/">
  <requestId>1</requestId>
  <securityGroupInfo>
    <item>
      <groupId>sg-0a</groupId>
      <ipPermissions><item><groups><item><groupId>sg-elsewhere</groupId></item></groups></item></ipPermissions>
      <tagSet><item><key>Name</key><value>a&amp;b</value></item></tagSet>
    </item>
    <item><groupId>sg-0b</groupId><ipPermissions/></item>
  </securityGroupInfo>
</DescribeSecurityGroupsResponse>"#;
        let path = [
            "DescribeSecurityGroupsResponse",
            "securityGroupInfo",
            "item",
            "groupId",
        ];
        assert_eq!(texts(xml, &path), ["sg-0a", "sg-0b"]);
        let tag = [
            "DescribeSecurityGroupsResponse",
            "securityGroupInfo",
            "item",
            "tagSet",
            "item",
            "value",
        ];
        assert_eq!(texts(xml, &tag), ["a&b"]);
        assert_eq!(
            texts(
                "<Response><Errors><Error><Code>AuthFailure</Code></Error></Errors></Response>",
                &["Response", "Errors", "Error", "Code"]
            ),
            ["AuthFailure"]
        );
    }

    #[test]
    fn form_values_are_encoded_as_sigv4_signs_them() {
        assert_eq!(encode("tag:Name"), "tag%3AName");
        assert_eq!(encode("farsight-*"), "farsight-%2A");
        assert_eq!(encode("a b~c"), "a%20b~c");
    }
}

//! Addresses in environment values (`http://image-gen:8189`,
//! `image-gen:8189`): which host and port a value names, so validation can
//! check that a service it names exists, listens there, and runs where the
//! caller runs. Pure.

/// One address found in a value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Address {
    /// Lowercased, without user information or brackets.
    pub host: String,
    /// The port written, or the scheme's own (`http` 80, `redis` 6379…);
    /// `None` when neither says.
    pub port: Option<u16>,
}

/// The port a scheme means when none is written.
fn default_port(scheme: &str) -> Option<u16> {
    Some(match scheme {
        "http" | "ws" => 80,
        "https" | "wss" => 443,
        "redis" | "rediss" => 6379,
        "postgres" | "postgresql" => 5432,
        "mysql" => 3306,
        "amqp" => 5672,
        "amqps" => 5671,
        "mongodb" => 27017,
        "nats" => 4222,
        "memcached" => 11211,
        _ => return None,
    })
}

/// Every `scheme://host[:port]` in `value` (several where a value lists
/// several, `redis://a:6379,b:6380` counts each host), or the value itself
/// when it is exactly `host:port`.
pub fn addresses(value: &str) -> Vec<Address> {
    let mut out = Vec::new();
    let mut rest = value;
    while let Some(at) = rest.find("://") {
        let scheme_start = rest[..at]
            .rfind(|c: char| !(c.is_ascii_alphanumeric() || c == '+' || c == '.' || c == '-'))
            .map_or(0, |i| i + 1);
        let scheme = rest[scheme_start..at].to_ascii_lowercase();
        let after = &rest[at + 3..];
        let end = after
            .find(|c: char| {
                c == '/' || c == '?' || c == '#' || c.is_whitespace() || c == '"' || c == '\''
            })
            .unwrap_or(after.len());
        let authority = &after[..end];
        // user:password@ comes before the hosts.
        let hosts = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
        for h in hosts.split(',') {
            if let Some(a) = host_port(h, default_port(scheme.split('+').next().unwrap_or(""))) {
                out.push(a);
            }
        }
        rest = &after[end..];
    }
    if out.is_empty()
        && !value.contains("://")
        && let Some((_, port)) = value.rsplit_once(':')
        && !port.is_empty()
        && port.chars().all(|c| c.is_ascii_digit())
        && let Some(a) = host_port(value, None)
    {
        out.push(a);
    }
    out
}

/// `host`, `host:port` or `[v6]:port`; `None` for what is not a host name
/// (empty, an interpolation left over, an IP literal).
fn host_port(text: &str, default: Option<u16>) -> Option<Address> {
    let (host, port) = match text.rsplit_once(':') {
        Some((h, _)) if !h.ends_with(']') && h.contains(':') => (text, None),
        Some((h, p)) => (h, Some(p.parse::<u16>().ok()?)),
        None => (text, None),
    };
    let host = host.trim_start_matches('[').trim_end_matches(']');
    let is_name = !host.is_empty()
        && host
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.')
        && host.chars().any(|c| c.is_ascii_alphabetic());
    is_name.then(|| Address {
        host: host.to_ascii_lowercase(),
        port: port.or(default),
    })
}

/// Whether `host` is a private DNS name written for a service of this
/// stack by hand, in the style of a Cloud Map namespace
/// (`imagegen.genonaut-demo.internal`): under `.internal`, and under the
/// stack's own namespace or named like one of its services. Docker's and
/// EC2's own names (`host.docker.internal`, `*.ec2.internal`) are not.
pub fn hand_written_internal(host: &str, stack: &str, namespace: &str, services: &[&str]) -> bool {
    let Some(domain) = host.strip_suffix(".internal") else {
        return false;
    };
    if domain.ends_with(".docker")
        || domain == "docker"
        || domain.ends_with(".ec2")
        || domain.ends_with(".compute")
    {
        return false;
    }
    let first = domain.split('.').next().unwrap_or(domain);
    host.ends_with(&format!(".{namespace}"))
        || domain
            .split('.')
            .skip(1)
            .any(|label| label.starts_with(stack))
        || crate::stack::de::did_you_mean(first, services).is_some()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn found(value: &str) -> Vec<(String, Option<u16>)> {
        addresses(value)
            .into_iter()
            .map(|a| (a.host, a.port))
            .collect()
    }

    #[test]
    fn urls_host_ports_and_what_is_not_an_address() {
        let one = |h: &str, p: Option<u16>| vec![(h.to_string(), p)];
        assert_eq!(found("http://image-gen:8189"), one("image-gen", Some(8189)));
        assert_eq!(found("http://image-gen/prompt"), one("image-gen", Some(80)));
        assert_eq!(
            found("https://API.example.com/x?y=1"),
            one("api.example.com", Some(443))
        );
        assert_eq!(found("postgresql://u:p@db:5433/app"), one("db", Some(5433)));
        assert_eq!(found("redis://redis/0"), one("redis", Some(6379)));
        assert_eq!(
            found("postgresql+asyncpg://u@db/app"),
            one("db", Some(5432))
        );
        assert_eq!(found("foo://thing"), one("thing", None));
        assert_eq!(found("image-gen:8189"), one("image-gen", Some(8189)));
        assert_eq!(
            found("redis://a:6379,b:6380/0"),
            vec![("a".to_string(), Some(6379)), ("b".to_string(), Some(6380))]
        );
        assert_eq!(
            found("primary=http://web:8000 fallback=http://cache:11211"),
            vec![
                ("web".to_string(), Some(8000)),
                ("cache".to_string(), Some(11211))
            ]
        );
        for none in [
            "INFO",
            "12:30",
            "/app/config/local.json",
            "a:b",
            "http://10.0.0.1:80",
            "http://[::1]:80",
            "",
        ] {
            assert_eq!(found(none), [], "{none}");
        }
    }

    #[test]
    fn hand_written_internal_names() {
        let services = ["api", "image-gen", "celery"];
        let hw =
            |h: &str| hand_written_internal(h, "genonaut", "genonaut-demo.internal", &services);
        assert!(hw("imagegen.genonaut-demo.internal"));
        assert!(hw("anything.genonaut-demo.internal"));
        assert!(hw("thing.genonaut-prod.internal"));
        assert!(hw("image-gen.other.internal"));
        assert!(!hw("host.docker.internal"));
        assert!(!hw("ip-10-0-0-1.ec2.internal"));
        assert!(!hw("payments.shared.internal"));
        assert!(!hw("image-gen"));
    }
}

//! The ALB's redirect action: where a request is sent, each part left
//! unset keeping the request's (`#{protocol}`, `#{host}`, `#{port}`,
//! `/#{path}`, `#{query}`), and the same place here: a port names a
//! listener on the ALB, which answers on its own local port. Pure.

use crate::stack::{Listener, ListenerProtocol, Redirect};

/// What of the request a redirect may keep.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Asked<'a> {
    pub protocol: ListenerProtocol,
    /// The Host header (a port in it is dropped).
    pub host: &'a str,
    /// The local port the request came in on.
    pub port: u16,
    /// Starts with `/`.
    pub path: &'a str,
    pub query: Option<&'a str>,
}

/// The `Location` for `asked`: the ALB's, with its port mapped to the
/// local port of the listener that has it (`listeners` are the stack's).
pub fn location(redirect: &Redirect, asked: &Asked<'_>, listeners: &[Listener]) -> String {
    let host = asked
        .host
        .rsplit_once(':')
        .filter(|(_, p)| p.chars().all(|c| c.is_ascii_digit()))
        .map_or(asked.host, |(h, _)| h);
    let fill = |text: &str| {
        text.replace("#{host}", host)
            .replace("#{path}", asked.path.trim_start_matches('/'))
            .replace("#{query}", asked.query.unwrap_or_default())
            .replace("#{port}", &asked.port.to_string())
            .replace("#{protocol}", asked.protocol.scheme())
    };
    let protocol = redirect.protocol.unwrap_or(asked.protocol);
    let port = match redirect.port {
        Some(on_alb) => listeners
            .iter()
            .find(|l| l.alb_port() == on_alb)
            .map_or(on_alb, |l| l.port),
        None => asked.port,
    };
    let host = fill(redirect.host.as_deref().unwrap_or("#{host}"));
    let path = fill(redirect.path.as_deref().unwrap_or("/#{path}"));
    let query = fill(redirect.query.as_deref().unwrap_or("#{query}"));
    let default_port = match protocol {
        ListenerProtocol::Http => 80,
        ListenerProtocol::Https => 443,
    };
    let mut out = format!("{}://{host}", protocol.scheme());
    if port != default_port {
        out.push_str(&format!(":{port}"));
    }
    out.push_str(&path);
    if !query.is_empty() {
        out.push('?');
        out.push_str(&query);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn listeners() -> Vec<Listener> {
        serde_json::from_value(serde_json::json!([
            { "port": 8080, "default_action": { "redirect": { "protocol": "HTTPS", "port": 443 } } },
            { "port": 8443, "protocol": "HTTPS", "default_action": { "forward": "api" } },
        ]))
        .unwrap()
    }

    fn asked<'a>(path: &'a str, query: Option<&'a str>) -> Asked<'a> {
        Asked {
            protocol: ListenerProtocol::Http,
            host: "shop.localhost:8080",
            port: 8080,
            path,
            query,
        }
    }

    #[test]
    fn http_to_https_lands_on_the_local_https_listener_with_path_and_query() {
        let ls = listeners();
        let crate::stack::Action::Redirect(r) = &ls[0].default_action else {
            unreachable!()
        };
        assert_eq!(
            location(r, &asked("/cart/items", Some("page=2")), &ls),
            "https://shop.localhost:8443/cart/items?page=2"
        );
        // On the ALB the same redirect is to 443, which a URL leaves out.
        let on_alb = Asked {
            host: "shop.example.com",
            port: 80,
            ..asked("/", None)
        };
        assert_eq!(location(r, &on_alb, &[]), "https://shop.example.com/");
    }

    #[test]
    fn set_parts_replace_the_requests_and_may_name_them() {
        let r: Redirect = serde_json::from_value(serde_json::json!({
            "host": "www.#{host}", "path": "/v2/#{path}", "query": "from=#{protocol}", "status": 302
        }))
        .unwrap();
        assert_eq!(
            location(&r, &asked("/a", Some("x=1")), &listeners()),
            "http://www.shop.localhost:8080/v2/a?from=http"
        );
    }
}

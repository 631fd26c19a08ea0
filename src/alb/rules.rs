//! Listener rules as the ALB evaluates them: lowest priority first, every
//! condition of a rule must match, any value within a condition may; the
//! default action when no rule matches.

use crate::stack::{Action, Listener, Rule};

/// The action for a request, by path, host header and method.
pub fn route<'a>(
    listener: &'a Listener,
    path: &str,
    host: Option<&str>,
    method: &str,
) -> &'a Action {
    // The proxy sorts its listeners' rules once; sort here only otherwise.
    let found = if listener.rules.is_sorted_by_key(|r| r.priority) {
        listener
            .rules
            .iter()
            .find(|r| matches(r, path, host, method))
    } else {
        let mut rules: Vec<&Rule> = listener.rules.iter().collect();
        rules.sort_by_key(|r| r.priority);
        rules.into_iter().find(|r| matches(r, path, host, method))
    };
    found.map(|r| &r.action).unwrap_or(&listener.default_action)
}

fn matches(rule: &Rule, path: &str, host: Option<&str>, method: &str) -> bool {
    let c = &rule.conditions;
    let path_ok = c.path.is_empty()
        || c.path
            .iter()
            .any(|p| wildcard(p.as_bytes(), path.as_bytes()));
    // Host headers compare without case and without a port.
    let host = host.map(|h| {
        h.rsplit_once(':').map_or(h, |(name, port)| {
            if port.chars().all(|c| c.is_ascii_digit()) {
                name
            } else {
                h
            }
        })
    });
    let host_ok = c.host.is_empty()
        || host.is_some_and(|h| {
            let h = h.to_ascii_lowercase();
            c.host
                .iter()
                .any(|p| wildcard(p.to_ascii_lowercase().as_bytes(), h.as_bytes()))
        });
    let method_ok = c.method.is_empty() || c.method.iter().any(|m| m.eq_ignore_ascii_case(method));
    path_ok && host_ok && method_ok
}

/// `*` matches any run of characters (slashes included, as on the ALB),
/// `?` exactly one.
pub fn wildcard(pattern: &[u8], text: &[u8]) -> bool {
    // Iterative with one backtrack point: linear for the patterns ALB allows.
    let (mut p, mut t) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while t < text.len() {
        if p < pattern.len() && (pattern[p] == b'?' || pattern[p] == text[t]) {
            p += 1;
            t += 1;
        } else if p < pattern.len() && pattern[p] == b'*' {
            star = Some((p, t));
            p += 1;
        } else if let Some((sp, st)) = star {
            p = sp + 1;
            t = st + 1;
            star = Some((sp, st + 1));
        } else {
            return false;
        }
    }
    while p < pattern.len() && pattern[p] == b'*' {
        p += 1;
    }
    p == pattern.len()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stack::{Conditions, FixedResponse};

    fn rule(priority: u32, path: &[&str], host: &[&str], to: &str) -> Rule {
        Rule {
            priority,
            conditions: Conditions {
                path: path.iter().map(|s| s.to_string()).collect(),
                host: host.iter().map(|s| s.to_string()).collect(),
                method: vec![],
            },
            action: Action::Forward(to.into()),
        }
    }

    fn listener(rules: Vec<Rule>) -> Listener {
        Listener {
            port: 8080,
            protocol: Default::default(),
            alb_port: None,
            ssl_policy: None,
            bind: "127.0.0.1".into(),
            rules,
            default_action: Action::FixedResponse(FixedResponse {
                status: 404,
                content_type: "text/plain".into(),
                body: "none".into(),
            }),
        }
    }

    fn target(a: &Action) -> &str {
        match a {
            Action::Forward(t) => t,
            Action::FixedResponse(_) | Action::Redirect(_) => "fixed",
        }
    }

    #[test]
    fn wildcards() {
        assert!(wildcard(b"/api/*", b"/api/v1/health"));
        assert!(wildcard(b"/api/*", b"/api/"));
        assert!(!wildcard(b"/api/*", b"/api"));
        assert!(wildcard(b"/img/?.png", b"/img/a.png"));
        assert!(!wildcard(b"/img/?.png", b"/img/ab.png"));
        assert!(wildcard(b"*", b""));
        assert!(wildcard(b"/a*b*c", b"/axxbyyc"));
        assert!(!wildcard(b"/a*b*c", b"/axxbyy"));
        assert!(!wildcard(b"/API/*", b"/api/x"), "paths are case-sensitive");
    }

    #[test]
    fn lowest_priority_wins_regardless_of_order() {
        let l = listener(vec![
            rule(20, &["/api/*"], &[], "late"),
            rule(10, &["/api/v1/*"], &[], "early"),
        ]);
        assert_eq!(target(route(&l, "/api/v1/x", None, "GET")), "early");
        assert_eq!(target(route(&l, "/api/v2/x", None, "GET")), "late");
        assert_eq!(target(route(&l, "/other", None, "GET")), "fixed");
    }

    #[test]
    fn host_conditions_ignore_case_and_port_and_combine_with_path() {
        let l = listener(vec![
            rule(5, &[], &["comfyui.*"], "img"),
            rule(9, &["/x"], &["a.test"], "both"),
        ]);
        assert_eq!(
            target(route(&l, "/", Some("ComfyUI.local:8080"), "GET")),
            "img"
        );
        assert_eq!(target(route(&l, "/x", Some("a.test"), "GET")), "both");
        assert_eq!(target(route(&l, "/x", Some("b.test"), "GET")), "fixed");
        assert_eq!(target(route(&l, "/x", None, "GET")), "fixed");
    }
}

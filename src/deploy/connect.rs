//! Service addressing on ECS (Service Connect): a deployed service answers
//! at its stack.yaml name and ports in the environment's Cloud Map
//! namespace, so `http://image-gen:8189` means on Fargate what it means
//! on `geno up`'s network. What is rendered against what a service's
//! PRIMARY deployment reports. Pure.

use crate::deploy::taskdef::{Change, ServiceConnect};

/// A Cloud Map namespace, as Cloud Map lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Namespace {
    pub name: String,
    pub arn: String,
}

/// Whether `given` (a namespace's name or ARN, as stack.yaml or ECS
/// writes it) is `ns`.
pub fn names(ns: &Namespace, given: &str) -> bool {
    given == ns.name || given == ns.arn
}

/// What UpdateService would change in a service's Service Connect
/// configuration: whether it is on, its namespace, and each alias by port
/// name. `namespace` is the environment's namespace as Cloud Map lists it,
/// when it was found: ECS may report it by ARN.
pub fn connect_drift(
    live: Option<&ServiceConnect>,
    rendered: &ServiceConnect,
    namespace: Option<&Namespace>,
) -> Vec<Change> {
    const AT: &str = "serviceConnectConfiguration";
    let mut out = Vec::new();
    let mut compare = |path: String, live: Option<String>, rendered: Option<String>| {
        out.extend(Change::between(path, live, rendered));
    };
    compare(
        format!("{AT}.enabled"),
        Some(live.is_some_and(|l| l.enabled).to_string()),
        Some(rendered.enabled.to_string()),
    );
    let live_ns = live.and_then(|l| l.namespace.clone());
    let same_ns = match (&live_ns, &rendered.namespace, namespace) {
        (Some(l), Some(r), Some(ns)) => l == r || (names(ns, l) && names(ns, r)),
        (l, r, _) => l == r,
    };
    if !same_ns {
        compare(
            format!("{AT}.namespace"),
            live_ns,
            rendered.namespace.clone(),
        );
    }
    let aliases = |sc: Option<&ServiceConnect>, port: &str| {
        sc.and_then(|sc| sc.services.iter().find(|s| s.port_name == port))
            .map(|s| {
                s.client_aliases
                    .iter()
                    .map(|a| format!("{}:{}", a.dns_name.as_deref().unwrap_or(port), a.port))
                    .collect::<Vec<_>>()
                    .join(", ")
            })
    };
    let mut ports: Vec<&str> = live
        .map(|l| l.services.iter().map(|s| s.port_name.as_str()).collect())
        .unwrap_or_default();
    for s in &rendered.services {
        if !ports.contains(&s.port_name.as_str()) {
            ports.push(&s.port_name);
        }
    }
    for port in ports {
        compare(
            format!("{AT}.services[{port}]"),
            aliases(live, port),
            aliases(Some(rendered), port),
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::deploy::taskdef::{ClientAlias, ServiceConnectService};

    fn sc(namespace: &str, aliases: &[(&str, &str, i32)]) -> ServiceConnect {
        ServiceConnect {
            enabled: true,
            namespace: Some(namespace.into()),
            services: aliases
                .iter()
                .map(|(port, dns, p)| ServiceConnectService {
                    port_name: port.to_string(),
                    client_aliases: vec![ClientAlias {
                        port: *p,
                        dns_name: Some(dns.to_string()),
                    }],
                })
                .collect(),
        }
    }

    #[test]
    fn a_namespace_reported_by_arn_is_the_one_named_and_an_alias_changed_is_shown_by_port() {
        let ns = Namespace {
            name: "shop-demo.internal".into(),
            arn: "arn:aws:servicediscovery:us-east-1:123456789012:namespace/ns-1".into(),
        };
        let rendered = sc("shop-demo.internal", &[("web-8000", "web", 8000)]);
        let live = sc(&ns.arn, &[("web-8000", "web", 8000)]);
        assert_eq!(connect_drift(Some(&live), &rendered, Some(&ns)), []);
        let moved = sc(
            &ns.arn,
            &[("web-8000", "webapp", 8000), ("web-9000", "web", 9000)],
        );
        let shown: Vec<String> = connect_drift(Some(&moved), &rendered, Some(&ns))
            .iter()
            .map(|c| c.to_string())
            .collect();
        assert_eq!(
            shown,
            [
                "~ serviceConnectConfiguration.services[web-8000]: webapp:8000 → web:8000",
                "- serviceConnectConfiguration.services[web-9000]: web:9000",
            ]
        );
    }

    #[test]
    fn a_service_without_service_connect_gets_all_of_it() {
        let rendered = sc("shop-demo.internal", &[("web-8000", "web", 8000)]);
        let shown: Vec<String> = connect_drift(None, &rendered, None)
            .iter()
            .map(|c| c.to_string())
            .collect();
        assert_eq!(
            shown,
            [
                "~ serviceConnectConfiguration.enabled: false → true",
                "+ serviceConnectConfiguration.namespace: shop-demo.internal",
                "+ serviceConnectConfiguration.services[web-8000]: web:8000",
            ]
        );
    }
}

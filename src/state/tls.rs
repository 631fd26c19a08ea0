//! The development certificate of a stack's HTTPS listeners, made with
//! rcgen: a certificate authority of the stack's own (`ca.pem`, the one
//! file to trust) and a server certificate it signs for localhost,
//! loopback, the listeners' addresses and every host the rules name
//! (`cert.pem`, `key.pem`), under `.geno/<stack>/tls/`. The authority is
//! made once (valid ten years); the server certificate again whenever a
//! name is new or it has less than a month left, and for 800 days at most
//! (Apple's clients refuse a server certificate valid longer than 825
//! days, even from an authority the user trusts), so what a developer
//! trusted stays trusted.

use std::path::{Path, PathBuf};

use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa,
    Issuer, KeyPair, KeyUsagePurpose,
};

/// Where a stack's certificate is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DevCert {
    pub dir: PathBuf,
    /// The authority to trust (`curl --cacert`, a browser's or the
    /// system's store).
    pub ca: PathBuf,
    /// The server's certificate, then the authority's.
    pub chain: PathBuf,
    pub key: PathBuf,
    /// Made (or made again for new names) by this call.
    pub made: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("cannot write the development certificate under {}: {source}", dir.display())]
    Io {
        dir: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot make the development certificate: {0}")]
    Make(#[from] rcgen::Error),
}

/// How long a server certificate is made for, and how close to its end
/// one is made again.
const SERVER_DAYS: i64 = 800;
const RENEW_DAYS: i64 = 30;

fn authority(stack: &str) -> CertificateParams {
    let mut params = CertificateParams::default();
    let now = time::OffsetDateTime::now_utc();
    params.not_before = now - time::Duration::days(1);
    params.not_after = now + time::Duration::days(3650);
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, format!("geno development CA ({stack})"));
    dn.push(DnType::OrganizationName, "geno");
    params.distinguished_name = dn;
    params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    params
}

/// The names a stack's HTTPS listeners answer to besides `ALWAYS`: their
/// addresses and the hosts their rules name (a pattern only as a leading
/// `*.` wildcard, which a certificate can say).
pub fn names_for(lb: &crate::stack::LoadBalancer) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for l in &lb.listeners {
        out.push(l.bind.clone());
        for host in l.rules.iter().flat_map(|r| &r.conditions.host) {
            let plain = host.strip_prefix("*.").unwrap_or(host);
            if !plain.contains(['*', '?']) && !out.contains(host) {
                out.push(host.clone());
            }
        }
    }
    out
}

/// Whether any listener ends TLS.
pub fn needed(lb: &crate::stack::LoadBalancer) -> bool {
    lb.listeners
        .iter()
        .any(|l| l.protocol == crate::stack::ListenerProtocol::Https)
}

/// The names every certificate covers besides the stack's own.
pub const ALWAYS: [&str; 4] = ["localhost", "*.localhost", "127.0.0.1", "::1"];

/// The certificate for `names` (added to `ALWAYS`), made if missing or if
/// it lacks one of them.
pub fn ensure(state_dir: &Path, stack: &str, names: &[String]) -> Result<DevCert, TlsError> {
    let dir = state_dir.join(stack).join("tls");
    let io = |source| TlsError::Io {
        dir: dir.clone(),
        source,
    };
    let mut wanted: Vec<String> = ALWAYS.iter().map(|s| s.to_string()).collect();
    for n in names {
        let n = n.trim().to_ascii_lowercase();
        if !n.is_empty() && n != "0.0.0.0" && n != "::" && !wanted.contains(&n) {
            wanted.push(n);
        }
    }
    let cert = DevCert {
        ca: dir.join("ca.pem"),
        chain: dir.join("cert.pem"),
        key: dir.join("key.pem"),
        dir: dir.clone(),
        made: false,
    };
    let names_file = dir.join("names");
    let had: Vec<String> = std::fs::read_to_string(&names_file)
        .unwrap_or_default()
        .lines()
        .map(str::to_string)
        .collect();
    let now = time::OffsetDateTime::now_utc();
    // The first line says until when the server certificate holds.
    let fresh = had
        .first()
        .and_then(|l| l.strip_prefix("valid-until "))
        .and_then(|t| t.parse::<i64>().ok())
        .is_some_and(|until| until - now.unix_timestamp() > RENEW_DAYS * 86_400);
    let complete = [&cert.ca, &cert.chain, &cert.key]
        .iter()
        .all(|p| p.is_file());
    if complete && fresh && wanted.iter().all(|n| had.contains(n)) {
        return Ok(cert);
    }
    std::fs::create_dir_all(&dir).map_err(io)?;
    let ca_key_path = dir.join("ca-key.pem");
    let ca_params = authority(stack);
    // The authority stays what the developer trusted, if it exists.
    let ca_key = match std::fs::read_to_string(&ca_key_path)
        .ok()
        .and_then(|pem| KeyPair::from_pem(&pem).ok())
        .filter(|_| cert.ca.is_file())
    {
        Some(k) => k,
        None => {
            let k = KeyPair::generate()?;
            let ca = ca_params.self_signed(&k)?;
            super::write_private(&ca_key_path, &k.serialize_pem()).map_err(io)?;
            write(&cert.ca, &ca.pem()).map_err(io)?;
            k
        }
    };
    let mut params = CertificateParams::new(wanted.clone())?;
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, format!("{stack} (geno development)"));
    params.distinguished_name = dn;
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    params.not_before = now - time::Duration::days(1);
    params.not_after = now + time::Duration::days(SERVER_DAYS);
    let key = KeyPair::generate()?;
    let issuer = Issuer::new(ca_params, &ca_key);
    let server = params.signed_by(&key, &issuer)?;
    let ca_pem = std::fs::read_to_string(&cert.ca).map_err(io)?;
    write(&cert.chain, &format!("{}{ca_pem}", server.pem())).map_err(io)?;
    super::write_private(&cert.key, &key.serialize_pem()).map_err(io)?;
    let until = params.not_after.unix_timestamp();
    write(
        &names_file,
        &format!("valid-until {until}\n{}", wanted.join("\n")),
    )
    .map_err(io)?;
    Ok(DevCert { made: true, ..cert })
}

fn write(path: &Path, text: &str) -> std::io::Result<()> {
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, text)?;
    std::fs::rename(&tmp, path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_authority_is_made_once_and_the_server_certificate_again_for_a_new_name() {
        let dir = tempfile::tempdir().unwrap();
        let first = ensure(dir.path(), "shop", &["shop.localhost".into()]).unwrap();
        assert!(first.made);
        assert_eq!(first.ca, dir.path().join("shop/tls/ca.pem"));
        let ca = std::fs::read_to_string(&first.ca).unwrap();
        let chain = std::fs::read_to_string(&first.chain).unwrap();
        assert_eq!(chain.matches("BEGIN CERTIFICATE").count(), 2);
        assert!(chain.ends_with(&ca), "the chain ends with the authority");
        // Nothing new: nothing made.
        let again = ensure(dir.path(), "shop", &["SHOP.localhost".into()]).unwrap();
        assert!(!again.made);
        assert_eq!(std::fs::read_to_string(&first.chain).unwrap(), chain);
        // A new host: a new server certificate from the same authority.
        let more = ensure(dir.path(), "shop", &["api.example.test".into()]).unwrap();
        assert!(more.made);
        assert_eq!(std::fs::read_to_string(&more.ca).unwrap(), ca);
        assert_ne!(std::fs::read_to_string(&more.chain).unwrap(), chain);
        let names = std::fs::read_to_string(dir.path().join("shop/tls/names")).unwrap();
        assert!(names.contains("api.example.test") && names.contains("127.0.0.1"));
        // Made for 800 days: a month before its end it is made again.
        let until: i64 = names.lines().next().unwrap()["valid-until ".len()..]
            .parse()
            .unwrap();
        let days = (until - time::OffsetDateTime::now_utc().unix_timestamp()) / 86_400;
        assert!((799..=800).contains(&days), "{days}");
        let names_file = dir.path().join("shop/tls/names");
        let soon = time::OffsetDateTime::now_utc().unix_timestamp() + 10 * 86_400;
        let rest: String = names.lines().skip(1).collect::<Vec<_>>().join("\n");
        std::fs::write(&names_file, format!("valid-until {soon}\n{rest}")).unwrap();
        let renewed = ensure(dir.path(), "shop", &["api.example.test".into()]).unwrap();
        assert!(renewed.made, "ten days left: made again");
        assert_eq!(
            std::fs::read_to_string(&renewed.ca).unwrap(),
            ca,
            "by the same authority"
        );
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&more.key).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
    }
}

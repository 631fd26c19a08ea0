//! Image IDs and digests as people read them.

/// The first 12 hex digits of an image ID or digest, as `docker images` shows them.
pub fn short_id(id: &str) -> &str {
    let hex = id.strip_prefix("sha256:").unwrap_or(id);
    &hex[..hex.len().min(12)]
}

#[cfg(test)]
mod tests {
    #[test]
    fn twelve_hex_digits_without_the_algorithm() {
        assert_eq!(super::short_id("sha256:0123456789abcdef"), "0123456789ab");
        assert_eq!(super::short_id("abc"), "abc");
    }
}

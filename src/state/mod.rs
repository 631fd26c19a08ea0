//! What geno keeps on disk between runs, read and written here only (the
//! pure modules that define these records never touch a file): promotion
//! records, verification records, readiness, generated local secrets, the files the edit loop synced, the development certificate of HTTPS listeners. Each file is written whole
//! then renamed.

pub mod readiness;
pub mod records;
pub mod secrets;
pub mod synced;
pub mod tls;
pub mod verifications;

/// `text` written whole to `path` (its directory made), readable by its
/// owner only from the moment it exists, then renamed into place.
pub fn write_private(path: &std::path::Path, text: &str) -> std::io::Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".tmp");
    let tmp = std::path::PathBuf::from(tmp);
    {
        use std::io::Write;
        let mut opts = std::fs::OpenOptions::new();
        opts.write(true).create(true).truncate(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            opts.mode(0o600);
        }
        let mut f = opts.open(&tmp)?;
        f.write_all(text.as_bytes())?;
        f.sync_all()?;
    }
    std::fs::rename(&tmp, path)
}

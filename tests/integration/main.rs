//! geno's integration tests: one binary, a small builder for running geno.

mod build_stream;
mod builds;
mod cli;
mod compose_import;
mod docker;
mod docs;
mod engine_faults;
mod examples;
mod fixtures;
mod fuzz;
mod infra;
mod json;
mod lb;
mod operate;
mod promote;
mod render;
mod schema;
mod sidecars;
mod standin;
mod watch;

use std::path::{Path, PathBuf};
use std::process::Command;

/// A loopback port nobody listens on right now.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// The repository root (tests run with it as the working directory).
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Runs the geno binary with a clean environment so the host's variables
/// (AWS_REGION, PYTHON_IMAGE…) cannot change what a test sees.
pub struct Geno {
    /// A program geno runs under (`ip netns exec NS`), if any.
    within: Vec<String>,
    args: Vec<String>,
    envs: Vec<(String, String)>,
    dir: PathBuf,
    stdin: Option<Vec<u8>>,
}

pub struct Output {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Default for Geno {
    fn default() -> Geno {
        Geno::new()
    }
}

impl Geno {
    pub fn new() -> Geno {
        Geno {
            within: Vec::new(),
            args: Vec::new(),
            envs: Vec::new(),
            dir: root(),
            stdin: None,
        }
    }

    /// What the command reads on stdin (none otherwise: it reads EOF).
    pub fn stdin(mut self, text: &str) -> Geno {
        self.stdin = Some(text.as_bytes().to_vec());
        self
    }

    /// Runs geno as the last argument of `prefix` (`["ip", "netns", "exec", NS]`).
    pub fn within(mut self, prefix: &[&str]) -> Geno {
        self.within = prefix.iter().map(|s| s.to_string()).collect();
        self
    }

    fn command(&self) -> Command {
        let exe = env!("CARGO_BIN_EXE_geno");
        let mut cmd = match self.within.split_first() {
            None => Command::new(exe),
            Some((program, rest)) => {
                let mut c = Command::new(program);
                c.args(rest).arg(exe);
                c
            }
        };
        cmd.args(&self.args)
            .current_dir(&self.dir)
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("HOME", std::env::var("HOME").unwrap_or_default())
            .envs(self.envs.iter().map(|(k, v)| (k, v)));
        cmd
    }

    /// Started, with stdout and stderr piped, for a test that reads it as
    /// it goes (`logs -f`).
    pub fn spawn(self) -> std::process::Child {
        self.command()
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("the geno binary runs")
    }

    pub fn args<I: IntoIterator<Item = S>, S: AsRef<str>>(mut self, args: I) -> Geno {
        self.args
            .extend(args.into_iter().map(|a| a.as_ref().to_string()));
        self
    }

    pub fn env(mut self, key: &str, value: &str) -> Geno {
        self.envs.push((key.into(), value.into()));
        self
    }

    pub fn dir(mut self, dir: &Path) -> Geno {
        self.dir = dir.to_path_buf();
        self
    }

    pub fn run(self) -> Output {
        let out = match &self.stdin {
            None => self.command().output().expect("the geno binary runs"),
            Some(input) => {
                use std::io::Write;
                let mut child = self
                    .command()
                    .stdin(std::process::Stdio::piped())
                    .stdout(std::process::Stdio::piped())
                    .stderr(std::process::Stdio::piped())
                    .spawn()
                    .expect("the geno binary runs");
                child.stdin.take().unwrap().write_all(input).unwrap();
                child.wait_with_output().unwrap()
            }
        };
        Output {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }
}

/// Runs `geno` and calls `act` on it once, at the first line of its stderr
/// that starts with `at`; reads on until geno ends (at most 120 s). Its
/// exit code (-1 if killed by a signal) and everything it said.
pub fn acting_at(
    geno: Geno,
    at: &str,
    act: impl FnOnce(&mut std::process::Child),
) -> (i32, Vec<String>) {
    use std::io::{BufRead, BufReader};
    use std::sync::mpsc::RecvTimeoutError;
    use std::time::{Duration, Instant};
    let mut child = geno.spawn();
    let stderr = child.stderr.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines() {
            if tx.send(line.unwrap_or_default()).is_err() {
                return;
            }
        }
    });
    let mut said = Vec::new();
    let mut act = Some(act);
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        match rx.recv_timeout(Duration::from_millis(200)) {
            Ok(line) => {
                if line.starts_with(at)
                    && let Some(f) = act.take()
                {
                    f(&mut child);
                }
                said.push(line);
            }
            Err(RecvTimeoutError::Disconnected) => break,
            Err(RecvTimeoutError::Timeout) => {}
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("geno did not end within 120 s of starting: {said:?}");
        }
    }
    let status = child.wait().unwrap();
    assert!(act.is_none(), "never at {at:?}: {said:?}");
    (status.code().unwrap_or(-1), said)
}

/// `acting_at` with a SIGKILL: no handler runs, nothing is tidied. What
/// geno said.
pub fn killed_at(geno: Geno, at: &str) -> Vec<String> {
    acting_at(geno, at, |child| {
        let _ = child.kill();
    })
    .1
}

/// A minimal HTTP/1.1 client for loopback tests: (status, body). A
/// connection the server drops yields what arrived (status 0 if nothing).
pub fn http(
    addr: &str,
    method: &str,
    path: &str,
    host: Option<&str>,
    json: Option<&str>,
) -> (u16, String) {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(addr).unwrap();
    stream
        .set_read_timeout(Some(std::time::Duration::from_secs(20)))
        .unwrap();
    let body = json.unwrap_or("");
    let content = if json.is_some() {
        format!(
            "Content-Type: application/json\r\nContent-Length: {}\r\n",
            body.len()
        )
    } else {
        String::new()
    };
    let host = host.unwrap_or(addr);
    write!(
        stream,
        "{method} {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n{content}\r\n{body}"
    )
    .unwrap();
    let mut response = String::new();
    let _ = stream.read_to_string(&mut response);
    let status = response
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let (head, rest) = response.split_once("\r\n\r\n").unwrap_or((&response, ""));
    let body = if head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked")
    {
        dechunk(rest)
    } else {
        rest.to_string()
    };
    (status, body)
}

fn dechunk(mut s: &str) -> String {
    let mut out = String::new();
    while let Some((size, rest)) = s.split_once("\r\n") {
        let n = usize::from_str_radix(size.trim(), 16).unwrap_or(0);
        if n == 0 || rest.len() < n + 2 {
            break;
        }
        out.push_str(&rest[..n]);
        s = &rest[n + 2..];
    }
    out
}

//! Rebuilds the Genonaut image after a code change, N times with each
//! builder, through the Engine API: the classic builder (what geno uses)
//! and BuildKit (`version=2` with a session). Each round first builds the
//! unchanged tree (warming the cache), then times the build of the tree
//! with one code file changed. Prints seconds per round and the medians.

use std::time::Instant;

use bollard::Docker;
use bollard::query_parameters::{BuildImageOptionsBuilder, BuilderVersion};
use futures_util::StreamExt;

/// The build context as geno packs it: every file `.dockerignore` lets in.
fn pack(root: &std::path::Path, marker: &str) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    let mut add = |rel: &str, data: Vec<u8>| {
        let mut h = tar::Header::new_gnu();
        h.set_size(data.len() as u64);
        h.set_mode(0o644);
        h.set_mtime(0);
        b.append_data(&mut h, rel, data.as_slice()).unwrap();
    };
    add("Dockerfile", std::fs::read(root.join("Dockerfile")).unwrap());
    add("requirements.txt", std::fs::read(root.join("requirements.txt")).unwrap());
    add("pyproject.toml", std::fs::read(root.join("pyproject.toml")).unwrap());
    for dir in ["genonaut", "config", "wheelhouse"] {
        let mut stack = vec![root.join(dir)];
        while let Some(d) = stack.pop() {
            let Ok(entries) = std::fs::read_dir(&d) else { continue };
            for e in entries.flatten() {
                let p = e.path();
                let rel = p.strip_prefix(root).unwrap().to_string_lossy().into_owned();
                if rel.contains("__pycache__") {
                    continue;
                }
                if p.is_dir() {
                    stack.push(p);
                } else {
                    let mut data = std::fs::read(&p).unwrap();
                    if rel == "genonaut/api/main.py" {
                        data.extend_from_slice(format!("\n# {marker}\n").as_bytes());
                    }
                    add(&rel, data);
                }
            }
        }
    }
    b.into_inner().unwrap()
}

async fn build(docker: &Docker, tar: Vec<u8>, kit: bool, python: &str, tag: &str) -> f64 {
    let mut args = std::collections::HashMap::new();
    args.insert("PYTHON_IMAGE".to_string(), python.to_string());
    let mut o = BuildImageOptionsBuilder::default().dockerfile("Dockerfile").t(tag).rm(true).buildargs(&args);
    if kit {
        o = o.version(BuilderVersion::BuilderBuildKit).session(&format!("geno-bench-{}", std::process::id()));
    }
    let t = Instant::now();
    let mut s = docker.build_image(o.build(), None, Some(bollard::body_full(bytes::Bytes::from(tar))));
    while let Some(item) = s.next().await {
        match item {
            Ok(info) => {
                if let Some(e) = info.error_detail.and_then(|d| d.message) {
                    panic!("{} build failed: {e}", if kit { "BuildKit" } else { "classic" });
                }
            }
            Err(e) => panic!("{} build failed: {e}", if kit { "BuildKit" } else { "classic" }),
        }
    }
    t.elapsed().as_secs_f64()
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    let n = v.len();
    if n % 2 == 1 { v[n / 2] } else { (v[n / 2 - 1] + v[n / 2]) / 2.0 }
}

#[tokio::main]
async fn main() {
    let root = std::path::PathBuf::from(std::env::args().nth(1).expect("the repository root"));
    let runs: usize = std::env::args().nth(2).and_then(|n| n.parse().ok()).unwrap_or(5);
    let python = std::env::var("PYTHON_IMAGE").unwrap_or_else(|_| "python:3.11-slim".into());
    let docker = Docker::connect_with_local_defaults().unwrap().negotiate_version().await.unwrap();
    let mut rows: Vec<(&str, Vec<f64>)> = vec![("classic builder", vec![]), ("BuildKit", vec![])];
    for round in 0..runs {
        for (i, kit) in [false, true].into_iter().enumerate() {
            let tag = format!("geno-buildkit-bench:{}", if kit { "kit" } else { "classic" });
            build(&docker, pack(&root, "base"), kit, &python, &tag).await;
            let s = build(&docker, pack(&root, &format!("edit {round}")), kit, &python, &tag).await;
            eprintln!("round {round}: {}: {s:.2}s", rows[i].0);
            rows[i].1.push(s);
        }
    }
    println!("\nrebuild after a one-file code change (Genonaut image, {runs} rounds):");
    for (name, v) in &rows {
        let min = v.iter().cloned().fold(f64::MAX, f64::min);
        let max = v.iter().cloned().fold(0.0, f64::max);
        println!("  {name:16} median {:.2}s  min {min:.2}s  max {max:.2}s", median(v.clone()));
    }
}

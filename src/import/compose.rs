//! A compose file (v2/v3, the compose-spec) turned into stack.yaml text:
//! the services built from one build context run the stack's image with
//! command overrides (several contexts become named `builds:`, each
//! service naming its own), services that run an image become
//! local-only backing services, `depends_on` conditions, health checks,
//! profiles, volumes, ports and `develop.watch` carry over, interpolation
//! stays interpolation, and a comment marks each choice made. What cannot
//! be mapped is listed with its line in the compose file and why. Pure:
//! the caller reads the files (compose file, `env_file`s) and writes the
//! result.

use std::collections::BTreeMap;

use crate::stack::emit::{self, Node as Doc};
use crate::stack::yaml::{self, Kind, Node, Span};

/// Something in the compose file that stack.yaml does not carry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unmapped {
    pub line: usize,
    pub col: usize,
    /// `services.web.network_mode`.
    pub path: String,
    pub why: String,
}

/// The conversion: stack.yaml text and what was left out.
#[derive(Debug, Clone)]
pub struct Converted {
    pub text: String,
    pub unmapped: Vec<Unmapped>,
    /// Files stack.yaml needs beside it (relative to the compose file's
    /// directory): each `dockerfile_inline`, written out as a Dockerfile.
    pub files: Vec<(String, String)>,
}

/// Reads an `env_file` (relative to the compose file) for the caller:
/// `None` when it cannot be read.
pub type ReadFile<'a> = &'a dyn Fn(&str) -> Option<String>;

/// Converts `source` (the compose file's text); `name` is the stack's
/// name when the file sets none; `file` names it in comments.
pub fn convert(
    source: &str,
    file: &str,
    name: &str,
    read: ReadFile<'_>,
) -> Result<Converted, yaml::SyntaxError> {
    let root = yaml::parse(source)?;
    let mut c = Converter {
        unmapped: Vec::new(),
        root: Doc::map(),
        svc: Doc::map(),
        named: BTreeMap::new(),
        renamed: BTreeMap::new(),
        said_restart: false,
        said_loopback: false,
        files: Vec::new(),
    };
    c.stack(&root, name, read);
    let header = [
        format!("Converted from {file} by `geno init --from-compose`."),
        "Lines starting `# geno:` say where a choice was made; `geno validate` checks the result."
            .to_string(),
    ];
    let files = std::mem::take(&mut c.files);
    Ok(Converted {
        files,
        text: emit::write(&header, &c.root),
        unmapped: c.unmapped,
    })
}

/// A conversion under way: the document, the service being converted,
/// and what was left out. Values are written as the compose file has
/// them, not through the model's types: compose interpolation
/// (`${PORT:-8000}`) may stand where the model has a number, and stays
/// interpolation.
struct Converter {
    unmapped: Vec<Unmapped>,
    root: Doc,
    svc: Doc,
    /// Each build's name under `builds:`, when the file builds several.
    named: BTreeMap<Build, String>,
    /// Services whose compose names geno writes otherwise (`serviceA` is
    /// `servicea`), by their compose name.
    renamed: BTreeMap<String, String>,
    /// Compose's default restart policy has been explained once.
    said_restart: bool,
    /// Loopback-only publishing has been reported once.
    said_loopback: bool,
    /// Dockerfiles to write beside stack.yaml (`dockerfile_inline`).
    files: Vec<(String, String)>,
}

/// A build as compose gives it, reduced to what makes two builds the same image.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Build {
    context: String,
    dockerfile: String,
    args: Vec<(String, String)>,
    target: Option<String>,
    /// `dockerfile_inline`: written out as `dockerfile` in the context.
    inline: Option<String>,
    /// The one platform of `platforms`, when it is one geno builds for.
    platform: Option<String>,
}

/// Build keys geno carries (the others are reported, with what is lost).
const BUILD_KEYS: &[&str] = &[
    "context",
    "dockerfile",
    "dockerfile_inline",
    "args",
    "target",
    "platforms",
];

/// Service keys geno does not carry, and why.
const UNMAPPED_SERVICE_KEYS: &[(&str, &str)] = &[
    (
        "network_mode",
        "geno runs every service on the stack's own network (Fargate has no host or shared network modes)",
    ),
    (
        "privileged",
        "Fargate runs no privileged containers, so geno does not either",
    ),
    (
        "links",
        "services reach each other by name on the stack network; links are not needed",
    ),
    (
        "external_links",
        "services reach each other by name on the stack network",
    ),
    (
        "cap_add",
        "Fargate allows only SYS_PTRACE; set it in the task definition if needed",
    ),
    (
        "cap_drop",
        "not carried; set it in the task definition if needed",
    ),
    ("devices", "Fargate has no device mapping"),
    (
        "extra_hosts",
        "Fargate has no /etc/hosts entries; use service discovery names",
    ),
    ("ipc", "Fargate has no shared IPC namespace"),
    ("pid", "Fargate has no shared PID namespace"),
    ("security_opt", "not carried"),
    ("sysctls", "not carried"),
    (
        "ulimits",
        "not carried; set them in the task definition if needed",
    ),
    ("dns", "Fargate uses the VPC's DNS"),
    ("dns_search", "Fargate uses the VPC's DNS"),
    (
        "container_name",
        "geno names containers `<stack>-<service>-<n>` and finds them by label; other services must reach it by its service name, not by this container name",
    ),
    ("hostname", "not carried"),
    (
        "networks",
        "geno gives each stack one network; every service is on it",
    ),
    ("labels", "geno labels its containers itself"),
    (
        "logging",
        "geno reads the engine's logs locally and renders awslogs for ECS",
    ),
    ("working_dir", "set WORKDIR in the Dockerfile"),
    ("user", "set USER in the Dockerfile"),
    ("tty", "not carried"),
    ("stdin_open", "not carried"),
    (
        "init",
        "geno runs every container under Docker's init (which reaps children and forwards signals); `init: false` is not carried",
    ),
    (
        "expose",
        "not needed: services reach each other's ports on the stack network",
    ),
    (
        "secrets",
        "declare it under geno's `secrets:` (generated or templated locally, SSM or Secrets Manager on AWS) and list it in the service's `secrets:`",
    ),
    (
        "configs",
        "copy the file into the image, or sync it with `develop.watch`",
    ),
    (
        "platform",
        "set `platform` on the build (`image.platform` or `builds.NAME.platform`): geno builds each image for one platform, which ECS runs as runtimePlatform",
    ),
    (
        "tmpfs",
        "not carried; a scratch directory on ECS is a volume with `ecs: ephemeral`",
    ),
    (
        "read_only",
        "not carried (ECS's readonlyRootFilesystem is not rendered): the container's root stays writable",
    ),
    (
        "volumes_from",
        "name the volumes themselves in this service's `volumes:` (Fargate shares no container's mounts)",
    ),
    (
        "attach",
        "geno attaches to no service; `geno logs` follows any of them",
    ),
    (
        "pids_limit",
        "not carried; Fargate sets its own process limit",
    ),
    (
        "runtime",
        "Fargate chooses the runtime; geno uses the engine's default",
    ),
    (
        "mac_address",
        "Fargate gives each task an interface of its own; there is no MAC to set",
    ),
    (
        "storage_opt",
        "not carried; Fargate sizes ephemeral storage per task",
    ),
    (
        "mem_limit",
        "set `ecs.memory` (geno gives the container the task's limits)",
    ),
    (
        "cpus",
        "set `ecs.cpu` (geno gives the container the task's limits)",
    ),
    ("shm_size", "not carried"),
    ("stop_signal", "geno stops with SIGTERM, as ECS does"),
    ("pull_policy", "geno pulls an image when it is missing"),
];

impl Converter {
    fn skip(&mut self, span: Span, path: impl Into<String>, why: impl Into<String>) {
        self.unmapped.push(Unmapped {
            line: span.line,
            col: span.col,
            path: path.into(),
            why: why.into(),
        });
    }

    /// Sets `key` of the service being converted, with a comment above it.
    fn put(&mut self, key: &str, value: Doc, comment: Option<&str>) {
        self.svc.set(key, value);
        if let Some(c) = comment {
            self.svc.comment(&[key], c);
        }
    }

    fn stack(&mut self, root: &Node, name: &str, read: ReadFile<'_>) {
        let Kind::Map(top) = &root.kind else {
            self.skip(
                root.span,
                "",
                "a compose file is a mapping with `services:`",
            );
            self.root.set("name", Doc::str(name));
            self.root.set("image", context_only());
            self.root.set("services", Doc::map());
            return;
        };
        let stack_name = root
            .get("name")
            .and_then(|(_, v)| v.scalar())
            .map(sanitize)
            .unwrap_or_else(|| sanitize(name));
        let empty = Vec::new();
        let written: &Vec<(Node, Node)> = match root.get("services").map(|(_, v)| &v.kind) {
            Some(Kind::Map(s)) => s,
            _ => &empty,
        };
        // Included files' services join this file's, as compose merges
        // them (a name in both is an error there; here the first is kept).
        let mut written = written.clone();
        let mut included_volumes = Vec::new();
        if let Some((_, include)) = root.get("include") {
            let inc = super::extends::included(include, read);
            for p in inc.problems {
                self.skip(p.span, "include", p.why);
            }
            for (k, v) in inc.services {
                let name = k.scalar().unwrap_or_default().to_string();
                if written
                    .iter()
                    .any(|(w, _)| w.scalar() == Some(name.as_str()))
                {
                    self.skip(
                        k.span,
                        "include",
                        format!("service `{name}` is defined here and in an included file; compose refuses that, geno keeps this file's"),
                    );
                } else {
                    written.push((k, v));
                }
            }
            included_volumes = inc.volumes;
        }
        // `extends` resolved first, as compose does: the rest sees whole
        // services.
        let (resolved, unresolved) = super::extends::resolve(&written, read);
        for u in unresolved {
            self.skip(u.span, format!("services.{}.extends", u.service), u.why);
        }
        let services = &resolved;
        self.top_level(top);
        let (main, builds) = main_build(services);
        let jobs = jobs_of(services);
        self.root.set("name", Doc::str(&stack_name));
        self.image(main.as_ref(), &builds);

        let mut all_volumes: Vec<(Node, Node)> = match root.get("volumes").map(|(_, v)| &v.kind) {
            Some(Kind::Map(v)) => v.clone(),
            _ => Vec::new(),
        };
        for (k, v) in included_volumes {
            if !all_volumes.iter().any(|(a, _)| a.scalar() == k.scalar()) {
                all_volumes.push((k, v));
            }
        }
        if !all_volumes.is_empty() {
            let span = root
                .get("volumes")
                .map(|(k, _)| k.span)
                .unwrap_or(root.span);
            self.volumes(&Node {
                kind: Kind::Map(all_volumes),
                span,
            });
        }

        // Names compose takes and geno does not (capitals, dots): written
        // lowercase with `-`, which the engine's DNS still answers to for
        // the capitals (names compare without case).
        for (k, _) in services {
            let svc = k.scalar().unwrap_or_default();
            let valid = service_name(svc);
            if valid != svc && !svc.is_empty() {
                self.skip(
                    k.span,
                    format!("services.{svc}"),
                    format!("`{svc}` is written `{valid}`: geno's service names are lowercase letters, digits, `-` and `_` (they name containers and ECS resources); the engine's DNS still answers to `{svc}` unless characters other than capitals changed"),
                );
                self.renamed.insert(svc.to_string(), valid);
            }
        }
        self.root.set("services", Doc::map());
        for (k, v) in services {
            let svc = k.scalar().unwrap_or_default().to_string();
            let job = jobs.contains(&svc);
            let name = self.renamed.get(&svc).cloned().unwrap_or(svc);
            self.service(&name, v, job, read);
        }
        let mut environments = Doc::map();
        environments.set("local", Doc::map());
        environments.comment(
            &["local"],
            "geno: add an environment with an `aws:` section, and `ecs:` to the services that deploy, to promote.",
        );
        self.root.set("environments", environments);
    }

    /// Top-level keys geno does not carry.
    fn top_level(&mut self, top: &[(Node, Node)]) {
        for (k, v) in top {
            let key = k.scalar().unwrap_or_default();
            match key {
            "services" | "volumes" | "name" => {}
            "version" => {}
            k if k.starts_with("x-") => {}
            "networks" => self.skip(
                k_span(k, v),
                key,
                "geno gives each stack one network; every service is on it",
            ),
            "secrets" => self.skip(
                k_span(k, v),
                key,
                "declare each under geno's `secrets:` (generated or templated locally, SSM or Secrets Manager on AWS)",
            ),
            "configs" => self.skip(
                k_span(k, v),
                key,
                "copy the files into the image, or sync them with `develop.watch`",
            ),
            "include" => {} // followed in `stack`
            other => self.skip(k_span(k, v), other, "not a compose key geno knows"),
        }
        }
    }

    /// The stack's image: the build most services use, or the context
    /// alone when nothing is built; with several builds, each under
    /// `builds:`, named after the first service that uses it.
    fn image(&mut self, main: Option<&Build>, builds: &BTreeMap<Build, Vec<String>>) {
        if builds.len() > 1 {
            let mut ordered: Vec<(&Build, &Vec<String>)> = builds.iter().collect();
            // In the order of the services that use them.
            ordered.sort_by_key(|(_, users)| users.first().cloned());
            let mut out = Doc::map();
            for (b, users) in ordered {
                let mut name = sanitize(users.first().map(String::as_str).unwrap_or("app"));
                let taken = |n: &String| self.named.values().any(|v| v == n);
                if taken(&name) {
                    let mut i = 2;
                    while taken(&format!("{name}-{i}")) {
                        i += 1;
                    }
                    name = format!("{name}-{i}");
                }
                out.set(&name, build_doc(b));
                self.inline_file(b);
                out.comment(
                    &[name.as_str()],
                    format!("geno: run by {}.", users.join(", ")),
                );
                self.named.insert(b.clone(), name);
            }
            self.root.set("builds", out);
            self.root.comment(
                &["builds"],
                "geno: the compose file builds several images: one build each, which its services name with `build:`.",
            );
            return;
        }
        match main {
            Some(b) => {
                self.root.set("image", build_doc(b));
                self.inline_file(b);
                self.root.comment(
                    &["image"],
                    format!(
                        "geno: {} built from this context: they run this one image, each with its own command.",
                        builds[b].join(", ")
                    ),
                );
            }
            None => {
                self.root.set("image", context_only());
                self.root.comment(
                    &["image"],
                    "geno: no service is built here; every service runs an image of its own.",
                );
            }
        }
    }

    /// An inline Dockerfile, to be written where the build reads it.
    fn inline_file(&mut self, b: &Build) {
        if let Some(text) = &b.inline {
            let path = format!("{}/{}", b.context.trim_end_matches('/'), b.dockerfile);
            let path = path.strip_prefix("./").unwrap_or(&path).to_string();
            if !self.files.iter().any(|(p, _)| *p == path) {
                let mut text = text.clone();
                if !text.ends_with('\n') {
                    text.push('\n');
                }
                self.files.push((path, text));
            }
        }
    }

    /// What a service's `build` says that geno does not carry.
    fn build_notes(&mut self, base: &str, v: &Node) {
        let Some((_, b)) = v.get("build") else { return };
        let Kind::Map(entries) = &b.kind else { return };
        for (k, val) in entries {
            let key = k.scalar().unwrap_or_default();
            let why = match key {
                "platforms" => {
                    let all = strings(val);
                    match all.as_slice() {
                        [one] if one == "linux/amd64" || one == "linux/arm64" => continue,
                        _ => format!(
                            "geno builds one platform per build (linux/amd64 or linux/arm64), not {}; set the build's `platform`",
                            all.join(", ")
                        ),
                    }
                }
                k if BUILD_KEYS.contains(&k) => continue,
                "additional_contexts" => "geno sends one build context; copy what the other contexts hold into it".to_string(),
                "ssh" => "geno's builds have no SSH agent; fetch private sources before the build".to_string(),
                "secrets" => "geno's builds have no build secrets; pass what the build needs as args, or fetch it before".to_string(),
                "cache_from" | "cache_to" => "geno keeps BuildKit's cache in the engine; no external cache".to_string(),
                "labels" | "tags" => "geno tags and labels its images itself (STACK/BUILD, by build)".to_string(),
                "no_cache" | "pull" => "not carried: geno builds with the engine's cache and pulls a missing base".to_string(),
                other => format!("build option `{other}` is not carried"),
            };
            self.skip(k.span, format!("{base}.build.{key}"), why);
        }
    }

    fn volumes(&mut self, v: &Node) {
        let Kind::Map(vols) = &v.kind else {
            return;
        };
        if vols.is_empty() {
            return;
        }
        let mut out = Doc::map();
        for (k, spec) in vols {
            let name = k.scalar().unwrap_or_default();
            if let Some((ek, e)) = spec.get("external")
                && e.scalar() == Some("true")
            {
                self.skip(
                    ek.span,
                    format!("volumes.{name}.external"),
                    "geno creates and labels its volumes; an external one is not carried (its data stays where it is)",
                );
            }
            for opt in ["driver", "driver_opts", "name", "labels"] {
                if let Some((ok, val)) = spec.get(opt) {
                    // The default driver is what geno uses anyway.
                    if opt == "driver" && val.scalar() == Some("local") {
                        continue;
                    }
                    self.skip(
                        ok.span,
                        format!("volumes.{name}.{opt}"),
                        "geno uses the engine's local volumes",
                    );
                }
            }
            out.set(name, Doc::map());
        }
        self.root.set("volumes", out);
    }

    fn service(&mut self, name: &str, v: &Node, job: bool, read: ReadFile<'_>) {
        let base = format!("services.{name}");
        self.svc = Doc::map();
        self.service_body(&base, v, job, read);
        let svc = std::mem::replace(&mut self.svc, Doc::map());
        if let Some(services) = self.root.get_mut(&["services"]) {
            services.set(name, svc);
        }
        let check = v.get("healthcheck").and_then(|(_, h)| h.get("disable"));
        if let Some((k, d)) = check
            && d.scalar() == Some("true")
        {
            self.skip(
                k.span,
                format!("{base}.healthcheck.disable"),
                "the image's own HEALTHCHECK is not turned off: it still runs under geno, and `geno up` waits for it; write a check of your own to replace it",
            );
        }
    }

    fn service_body(&mut self, base: &str, v: &Node, job: bool, read: ReadFile<'_>) {
        let base = base.to_string();
        let Kind::Map(entries) = &v.kind else {
            return;
        };
        self.restart(&base, v, job);
        self.service_image(&base, v);
        if job {
            self.put(
                "kind",
                Doc::str("job"),
                Some("geno: a job: others wait for it to complete successfully."),
            );
        }
        for (k, val) in entries {
            let key = k.scalar().unwrap_or_default();
            let path = format!("{base}.{key}");
            match key {
                "build" | "image" | "depends_on" | "environment" | "env_file" => {}
                "command" | "entrypoint" => self.command(key, val),
                "ports" => self.ports(&path, val),
                "volumes" => self.service_volumes(&path, val),
                "healthcheck" => self.healthcheck(&path, val),
                "profiles" => {
                    let p = strings(val);
                    self.put("profiles", Doc::strs(p.iter().map(String::as_str)), None);
                }
                "deploy" => self.deploy(&path, val),
                // geno runs every container with Docker's init already.
                "init" if val.scalar() == Some("true") => {}
                "scale" => {
                    if let Some(n) = val.scalar() {
                        self.put("replicas", Doc::Scalar(n.to_string()), None);
                    }
                }
                "restart" => {} // below, with compose's default
                "stop_grace_period" => {
                    let grace = Doc::str(val.scalar().unwrap_or_default());
                    self.put("stop_grace_period", grace, None);
                }
                "develop" => self.develop(&path, val),
                k if k.starts_with("x-") => {}
                other => {
                    let why = UNMAPPED_SERVICE_KEYS
                        .iter()
                        .find(|(key, _)| *key == other)
                        .map(|(_, why)| why.to_string())
                        .unwrap_or_else(|| "not a compose key geno knows".into());
                    self.skip(k.span, path, why);
                }
            }
        }
        self.environment(&base, v, read);
        self.depends_on(&format!("{base}.depends_on"), v);
    }

    /// Where a service's image comes from: the stack's build, one of its
    /// named builds, or an image of its own.
    fn service_image(&mut self, base: &str, v: &Node) {
        self.build_notes(base, v);
        let build = build_of(v);
        match (&build, v.get("image")) {
            (Some(b), _) if self.named.contains_key(b) => {
                let named = self.named[b].clone();
                self.put("build", Doc::str(&named), None);
            }
            // The only build: the stack's image.
            (Some(_), _) => {}
            (None, Some((_, image))) => {
                let image = image.scalar().unwrap_or_default();
                self.put(
                    "image",
                    Doc::str(image),
                    Some("geno: runs an image of its own: a local backing service (no `ecs:`)."),
                );
            }
            (None, None) => {
                self.skip(
                    v.span,
                    base,
                    "neither `build` nor `image`; geno runs it on the stack image",
                );
            }
        }
    }

    /// Compose's restart policy, its default (`no`) included: a one-shot
    /// service stays stopped here as it does under compose, where geno's own
    /// default would start it again. A job never restarts, whatever it says.
    fn restart(&mut self, base: &str, v: &Node, job: bool) {
        let given = v.get("restart");
        let policy = given
            .and_then(|(_, p)| p.scalar())
            .unwrap_or("no")
            .trim_matches('"');
        // `on-failure:3`: the count is Docker's business; the policy carries.
        let name = policy.split(':').next().unwrap_or(policy);
        if job {
            if let Some((k, _)) = given
                && name != "no"
            {
                self.skip(
                    k.span,
                    format!("{base}.restart"),
                    "a job runs once to completion (others wait for it); it is never restarted",
                );
            }
            return;
        }
        let comment = match given {
            None if !self.said_restart => {
                self.said_restart = true;
                Some(
                    "geno: compose's default, here and below: not restarted when it exits (geno's own default restarts it).",
                )
            }
            _ => None,
        };
        match name {
            "unless-stopped" => {}
            "no" | "always" | "on-failure" => {
                let mut local = Doc::map();
                local.set("restart", Doc::str(name));
                self.put("local", local, comment);
            }
            other => {
                if let Some((k, _)) = given {
                    self.skip(
                        k.span,
                        format!("{base}.restart"),
                        format!("`{other}` is not a restart policy (no, always, on-failure, unless-stopped)"),
                    );
                }
            }
        }
    }

    /// `command` or `entrypoint`: a string (split like a shell, as compose
    /// does) or a list, as given.
    fn command(&mut self, key: &str, v: &Node) {
        match &v.kind {
            Kind::Scalar { value, .. } => self.put(key, Doc::str(value), None),
            Kind::Seq(items) => {
                let parts = items.iter().map(|i| i.scalar().unwrap_or_default());
                self.put(key, Doc::strs(parts), None);
            }
            _ => {}
        }
    }

    fn environment(&mut self, base: &str, v: &Node, read: ReadFile<'_>) {
        let mut env: Vec<(String, String, Option<String>)> = Vec::new();
        if let Some((_, files)) = v.get("env_file") {
            let items: Vec<(&Node, String)> = match &files.kind {
                Kind::Scalar { value, .. } => vec![(files, value.clone())],
                Kind::Seq(list) => list
                    .iter()
                    .map(|i| {
                        let path = i
                            .scalar()
                            .map(str::to_string)
                            .or_else(|| {
                                i.get("path")
                                    .and_then(|(_, p)| p.scalar())
                                    .map(str::to_string)
                            })
                            .unwrap_or_default();
                        (i, path)
                    })
                    .collect(),
                _ => Vec::new(),
            };
            for (node, path) in items {
                match read(&path) {
                    Some(text) => {
                        // `.env` beside the file is geno's own env file:
                        // its values stay there, named by interpolation.
                        let own = path.trim_start_matches("./") == ".env";
                        let mut copied_secrets = Vec::new();
                        for (k, val) in parse_env_file(&text) {
                            let val = if own {
                                format!("${{{k}}}")
                            } else {
                                if looks_secret(&k) && !val.is_empty() && !val.starts_with("${") {
                                    copied_secrets.push(k.clone());
                                }
                                val
                            };
                            // A later file's value wins, as in compose.
                            env.retain(|(ek, _, _)| *ek != k);
                            env.push((k, val, Some(path.clone())));
                        }
                        if !copied_secrets.is_empty() {
                            self.skip(
                                node.span,
                                format!("{base}.env_file"),
                                format!(
                                    "{} {} secret and {} copied from {path} into stack.yaml, which is usually committed; declare {} under `secrets:` (`local: {{ env: NAME }}`, the values in `.env`) to keep {} out of the file",
                                    copied_secrets.join(", "),
                                    if copied_secrets.len() == 1 { "looks" } else { "look" },
                                    if copied_secrets.len() == 1 { "is" } else { "are" },
                                    if copied_secrets.len() == 1 { "it" } else { "them" },
                                    if copied_secrets.len() == 1 { "it" } else { "them" },
                                ),
                            );
                        }
                    }
                    None => self.skip(
                        node.span,
                        format!("{base}.env_file"),
                        format!("{path} cannot be read; its variables are not carried"),
                    ),
                }
            }
        }
        if let Some((_, e)) = v.get("environment") {
            let explicit: Vec<(String, String)> = match &e.kind {
                Kind::Map(m) => m
                    .iter()
                    .map(|(k, v)| {
                        let key = k.scalar().unwrap_or_default().to_string();
                        let val = match &v.kind {
                            Kind::Null => format!("${{{key}}}"),
                            _ => v.scalar().unwrap_or_default().to_string(),
                        };
                        (key, val)
                    })
                    .collect(),
                Kind::Seq(items) => items
                    .iter()
                    .filter_map(|i| i.scalar())
                    .map(|s| match s.split_once('=') {
                        Some((k, v)) => (k.to_string(), v.to_string()),
                        None => (s.to_string(), format!("${{{s}}}")),
                    })
                    .collect(),
                _ => Vec::new(),
            };
            for (k, val) in explicit {
                // An explicit value wins over the env_file's, as in compose.
                env.retain(|(ek, _, _)| *ek != k);
                env.push((k, val, None));
            }
        }
        if env.is_empty() {
            return;
        }
        let mut out = Doc::map();
        let mut said: Vec<Option<String>> = Vec::new();
        for (k, val, from) in env {
            out.set(&k, Doc::str(&val));
            if !said.contains(&from) {
                match &from {
                    Some(f) => {
                        out.comment(&[&k], format!("geno: from env_file {f}"));
                    }
                    // After an env_file's, say where the rest come from.
                    None if !said.is_empty() => {
                        out.comment(&[&k], "geno: from `environment`");
                    }
                    None => {}
                }
                said.push(from.clone());
            }
        }
        self.put("environment", out, None);
    }

    /// `depends_on`, and the order `links` and `volumes_from` imply (compose
    /// starts what they name first).
    fn depends_on(&mut self, path: &str, service: &Node) {
        let mut deps: Vec<(String, &'static str)> = Vec::new();
        let empty = Node {
            kind: Kind::Null,
            span: service.span,
        };
        let v = service.get("depends_on").map(|(_, d)| d).unwrap_or(&empty);
        match &v.kind {
            Kind::Seq(items) => {
                for i in items {
                    deps.push((i.scalar().unwrap_or_default().to_string(), "started"));
                }
            }
            Kind::Map(m) => {
                for (k, spec) in m {
                    let name = k.scalar().unwrap_or_default().to_string();
                    let cond = match spec.get("condition").and_then(|(_, c)| c.scalar()) {
                        Some("service_healthy") => "healthy",
                        Some("service_completed_successfully") => "completed_successfully",
                        _ => "started",
                    };
                    for opt in ["restart", "required"] {
                        if let Some((ok, _)) = spec.get(opt) {
                            self.skip(
                                ok.span,
                                format!("{path}.{name}.{opt}"),
                                "geno waits for the condition and nothing more",
                            );
                        }
                    }
                    deps.push((name, cond));
                }
            }
            _ => {}
        }
        for key in ["links", "volumes_from"] {
            let named = service
                .get(key)
                .map(|(_, l)| strings(l))
                .unwrap_or_default();
            for entry in named {
                // `links: [db:database]`; `volumes_from: [app:ro]`, and not
                // `container:NAME`, which is no service.
                if entry.starts_with("container:") {
                    continue;
                }
                let name = entry.split(':').next().unwrap_or_default().to_string();
                if !name.is_empty() && !deps.iter().any(|(d, _)| *d == name) {
                    deps.push((name, "started"));
                }
            }
        }
        if deps.is_empty() {
            return;
        }
        let mut out = Doc::map();
        for (name, cond) in deps {
            let name = self.renamed.get(&name).cloned().unwrap_or(name);
            out.set(&name, Doc::str(cond));
        }
        self.put("depends_on", out, None);
    }

    /// A container port without a host port: compose publishes it on a
    /// random host port, geno on none.
    fn unpublished(&mut self, span: Span, path: &str, port: &str) {
        self.skip(
            span,
            path,
            format!("`{port}`: compose publishes it on a random port of this machine; geno does not publish it (other services still reach it); write `HOST:{port}` to reach it from this machine"),
        );
    }

    fn ports(&mut self, path: &str, v: &Node) {
        let Kind::Seq(items) = &v.kind else {
            return;
        };
        let mut out = Vec::new();
        for i in items {
            match &i.kind {
                Kind::Scalar { value, .. } => {
                    let (spec, proto) = value.split_once('/').unwrap_or((value, "tcp"));
                    if proto != "tcp" {
                        self.skip(
                            i.span,
                            path,
                            format!("`{value}`: geno and the ALB forward TCP only"),
                        );
                    } else if without_interpolation(spec).contains('-') {
                        self.skip(
                            i.span,
                            path,
                            format!("`{value}`: port ranges are not carried; list each port"),
                        );
                    } else {
                        if !spec.contains(':') {
                            self.unpublished(i.span, path, spec);
                        }
                        out.push(Doc::str(spec));
                    }
                }
                Kind::Map(_) => {
                    let get = |k: &str| i.get(k).and_then(|(_, v)| v.scalar()).map(str::to_string);
                    let Some(target) = get("target") else {
                        continue;
                    };
                    if get("protocol").is_some_and(|p| p != "tcp") {
                        self.skip(i.span, path, "geno and the ALB forward TCP only");
                        continue;
                    }
                    out.push(Doc::str(&match (get("host_ip"), get("published")) {
                        (Some(ip), Some(p)) => format!("{ip}:{p}:{target}"),
                        (None, Some(p)) => format!("{p}:{target}"),
                        _ => {
                            self.unpublished(i.span, path, &target);
                            target
                        }
                    }));
                }
                _ => {}
            }
        }
        if !out.is_empty() {
            // Said once in the report, at the first port that narrows.
            let narrowed = out.iter().any(|p| match p {
                Doc::Scalar(s) => s.matches(':').count() == 1,
                _ => false,
            });
            if narrowed && !self.said_loopback {
                self.said_loopback = true;
                self.skip(
                    v.span,
                    path,
                    "published ports bind to 127.0.0.1 here, where compose binds every address (here and in the other services); write `0.0.0.0:HOST:CONTAINER` to publish on all",
                );
            }
            self.put(
                "ports",
                Doc::Seq(out),
                Some("geno: published ports bind to 127.0.0.1 unless an address is given (compose binds all)."),
            );
        }
    }

    fn service_volumes(&mut self, path: &str, v: &Node) {
        let Kind::Seq(items) = &v.kind else {
            return;
        };
        let mut out = Vec::new();
        for i in items {
            match &i.kind {
                Kind::Scalar { value, .. } => {
                    if let Some(v) = self.short_volume(path, i.span, value) {
                        out.push(Doc::str(&v));
                    }
                }
                Kind::Map(_) => {
                    let get = |k: &str| i.get(k).and_then(|(_, v)| v.scalar()).map(str::to_string);
                    match (get("type").as_deref(), get("source"), get("target")) {
                        (Some("volume") | Some("bind"), Some(s), Some(t)) => {
                            let ro = if get("read_only").as_deref() == Some("true") {
                                ":ro"
                            } else {
                                ""
                            };
                            out.push(Doc::str(&format!("{s}:{t}{ro}")));
                        }
                        (Some("tmpfs"), _, Some(t)) => self.skip(
                            i.span,
                            path,
                            format!("a tmpfs at {t} is not carried; a scratch directory on ECS is a volume with `ecs: ephemeral`"),
                        ),
                        (Some(kind), _, _) => {
                            self.skip(i.span, path, format!("a {kind} mount is not carried"))
                        }
                        _ => self.skip(i.span, path, "a mount without type, source and target"),
                    }
                }
                _ => {}
            }
        }
        if !out.is_empty() {
            self.put("volumes", Doc::Seq(out), None);
        }
    }

    /// A short-syntax volume (`SRC:DST[:OPTIONS]`) in geno's form: `ro`
    /// kept, `~` as `${HOME}`, an anonymous volume given a name of its
    /// own (declared under `volumes:`), and options geno has no use for
    /// (SELinux labels, macOS consistency hints) said and dropped.
    fn short_volume(&mut self, path: &str, span: Span, value: &str) -> Option<String> {
        let parts: Vec<&str> = value.split(':').collect();
        let (source, target, options) = match parts.as_slice() {
            [target] => {
                // Anonymous: a volume of the service's own, kept by name.
                let service = path
                    .strip_prefix("services.")
                    .and_then(|p| p.strip_suffix(".volumes"))
                    .unwrap_or("app");
                let name = sanitize(&format!("{service}-{}", target.trim_matches('/')));
                if self.root.get_mut(&["volumes"]).is_none() {
                    self.root.set("volumes", Doc::map());
                }
                if let Some(vols) = self.root.get_mut(&["volumes"]) {
                    vols.set(&name, Doc::map());
                    vols.comment(
                        &[name.as_str()],
                        format!("geno: compose's anonymous volume at {target} in `{service}`, given a name so its data is kept the same way."),
                    );
                }
                return Some(format!("{name}:{target}"));
            }
            [source, target] => (*source, *target, ""),
            [source, target, options] => (*source, *target, *options),
            _ => {
                self.skip(
                    span,
                    path,
                    format!("`{value}` is not a volume geno can read"),
                );
                return None;
            }
        };
        let source = match source.strip_prefix('~') {
            Some(rest) => format!("${{HOME}}{rest}"),
            None => source.to_string(),
        };
        let mut read_only = false;
        let mut dropped = Vec::new();
        for o in options.split(',').filter(|o| !o.is_empty()) {
            match o {
                "ro" => read_only = true,
                "rw" => {}
                other => dropped.push(other),
            }
        }
        if !dropped.is_empty() {
            let why = if dropped.iter().any(|o| *o == "z" || *o == "Z") {
                "SELinux relabelling (`z`, `Z`) is not carried; on an SELinux host, label the directory yourself"
            } else {
                "consistency hints (`cached`, `delegated`, `consistent`) and `nocopy` are not carried; Linux engines ignore the hints"
            };
            self.skip(span, path, format!("`{value}`: {why}"));
        }
        Some(format!(
            "{source}:{target}{}",
            if read_only { ":ro" } else { "" }
        ))
    }

    fn healthcheck(&mut self, path: &str, v: &Node) {
        if v.get("disable").and_then(|(_, d)| d.scalar()) == Some("true") {
            // Said above the service (`service`): there is no key to say it at.
            return;
        }
        let Some((_, test)) = v.get("test") else {
            self.skip(v.span, path, "a health check without `test` (the image's own) is not carried; write its test out");
            return;
        };
        let test_text = match &test.kind {
            Kind::Scalar { value, .. } => {
                if value == "NONE" {
                    return;
                }
                Doc::strs(["CMD-SHELL", value.as_str()])
            }
            Kind::Seq(items) => {
                if items.first().and_then(|i| i.scalar()) == Some("NONE") {
                    return;
                }
                Doc::strs(items.iter().map(|i| i.scalar().unwrap_or_default()))
            }
            _ => return,
        };
        let mut check = Doc::map();
        check.set("test", test_text);
        for k in ["interval", "timeout", "retries", "start_period"] {
            if let Some(val) = v.get(k).and_then(|(_, x)| x.scalar()) {
                let val = if k == "retries" && val.parse::<u32>().is_ok() {
                    Doc::Scalar(val.to_string())
                } else {
                    Doc::str(val)
                };
                check.set(k, val);
            }
        }
        // Compose's default timeout is 30s, geno's 5s: said, so a slow
        // check is not failed sooner than compose would fail it.
        let comment = if v.get("timeout").is_none() {
            check.set("timeout", Doc::str("30s"));
            Some("geno: `timeout` is compose's default (30s); geno's own is 5s.")
        } else {
            None
        };
        self.put("healthcheck", check, comment);
        if let Some((k, _)) = v.get("start_interval") {
            self.skip(
                k.span,
                format!("{path}.start_interval"),
                "geno probes readiness itself from the start; Docker 20.10 has no start_interval",
            );
        }
    }

    fn deploy(&mut self, path: &str, v: &Node) {
        let Kind::Map(entries) = &v.kind else {
            return;
        };
        for (k, val) in entries {
            match k.scalar().unwrap_or_default() {
                "replicas" => {
                    if let Some(n) = val.scalar() {
                        self.put("replicas", Doc::Scalar(n.to_string()), None);
                    }
                }
                "resources" => self.skip(
                    k.span,
                    format!("{path}.resources"),
                    "set `ecs.cpu` and `ecs.memory`: geno gives the container the task's limits",
                ),
                other => self.skip(
                    k.span,
                    format!("{path}.{other}"),
                    "ECS deploys by its own rules (desired count, circuit breaker)",
                ),
            }
        }
    }

    fn develop(&mut self, path: &str, v: &Node) {
        let Some((
            _,
            Node {
                kind: Kind::Seq(rules),
                ..
            },
        )) = v.get("watch")
        else {
            return;
        };
        let mut watch = Vec::new();
        for r in rules {
            let get = |k: &str| r.get(k).and_then(|(_, v)| v.scalar()).map(str::to_string);
            let (Some(p), Some(action)) = (get("path"), get("action")) else {
                self.skip(
                    r.span,
                    format!("{path}.watch"),
                    "a rule without `path` and `action`",
                );
                continue;
            };
            let mut rule = Doc::map();
            rule.set("path", Doc::str(&p));
            rule.set("action", Doc::str(&action));
            if let Some(t) = get("target") {
                rule.set("target", Doc::str(&t));
            }
            if let Some((_, ig)) = r.get("ignore") {
                let list = strings(ig);
                rule.set("ignore", Doc::strs(list.iter().map(String::as_str)));
            }
            if let Some((_, e)) = r.get("exec")
                && let Some((_, cmd)) = e.get("command")
            {
                let mut exec = Doc::map();
                match cmd.scalar() {
                    // A string is split like a shell splits it, by compose
                    // and by geno alike: written as the string it is.
                    Some(text) => {
                        exec.set("command", Doc::str(text));
                    }
                    None => {
                        let list = strings(cmd);
                        exec.set("command", Doc::strs(list.iter().map(String::as_str)));
                    }
                }
                rule.set("exec", exec);
            }
            if get("initial_sync").as_deref() == Some("true") {
                rule.set("initial_sync", Doc::plain(true));
            }
            watch.push(rule);
        }
        let mut develop = Doc::map();
        develop.set("watch", Doc::Seq(watch));
        self.put("develop", develop, None);
    }
}

/// The text with each `${…}` removed (a default such as `${P:-80}` holds a dash).
/// Which build is the stack's one image: the one most services use (the
/// first of equals), and the services of each build.
fn main_build(services: &[(Node, Node)]) -> (Option<Build>, BTreeMap<Build, Vec<String>>) {
    let mut builds: BTreeMap<Build, Vec<String>> = BTreeMap::new();
    let mut order: Vec<Build> = Vec::new();
    for (k, v) in services {
        if let Some(b) = build_of(v) {
            if !builds.contains_key(&b) {
                order.push(b.clone());
            }
            builds
                .entry(b)
                .or_default()
                .push(k.scalar().unwrap_or_default().to_string());
        }
    }
    let main = order
        .iter()
        .max_by_key(|b| {
            (
                builds[*b].len(),
                std::cmp::Reverse(order.iter().position(|o| o == *b)),
            )
        })
        .cloned();
    (main, builds)
}

/// Services others wait for with `service_completed_successfully`: jobs.
fn jobs_of(services: &[(Node, Node)]) -> Vec<String> {
    let mut jobs = Vec::new();
    for (_, v) in services {
        if let Some((
            _,
            Node {
                kind: Kind::Map(deps),
                ..
            },
        )) = v.get("depends_on")
        {
            for (dk, dv) in deps {
                if dv.get("condition").and_then(|(_, c)| c.scalar())
                    == Some("service_completed_successfully")
                {
                    jobs.push(dk.scalar().unwrap_or_default().to_string());
                }
            }
        }
    }
    jobs
}

/// `image: { context: . }`.
/// A build as stack.yaml writes it.
fn build_doc(b: &Build) -> Doc {
    let mut image = Doc::map();
    image.set("context", Doc::str(&b.context));
    image.set("dockerfile", Doc::str(&b.dockerfile));
    if let Some(p) = &b.platform {
        image.set("platform", Doc::str(p));
    }
    if !b.args.is_empty() {
        let mut args = Doc::map();
        for (k, v) in &b.args {
            args.set(k, Doc::str(v));
        }
        image.set("args", args);
    }
    if let Some(t) = &b.target {
        image.set("target", Doc::str(t));
    }
    image
}

fn context_only() -> Doc {
    let mut image = Doc::map();
    image.set("context", Doc::str("."));
    image
}

fn without_interpolation(text: &str) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(start) = rest.find("${") {
        out.push_str(&rest[..start]);
        match rest[start..].find('}') {
            Some(end) => rest = &rest[start + end + 1..],
            None => {
                rest = "";
            }
        }
    }
    out.push_str(rest);
    out
}

fn k_span(k: &Node, _v: &Node) -> Span {
    k.span
}

fn strings(v: &Node) -> Vec<String> {
    match &v.kind {
        Kind::Scalar { value, .. } => vec![value.clone()],
        Kind::Seq(items) => items
            .iter()
            .filter_map(|i| i.scalar().map(str::to_string))
            .collect(),
        _ => Vec::new(),
    }
}

fn build_of(v: &Node) -> Option<Build> {
    let (_, b) = v.get("build")?;
    match &b.kind {
        Kind::Scalar { value, .. } => Some(Build {
            context: value.clone(),
            dockerfile: "Dockerfile".into(),
            args: Vec::new(),
            target: None,
            inline: None,
            platform: None,
        }),
        Kind::Map(_) => {
            let get = |k: &str| b.get(k).and_then(|(_, v)| v.scalar()).map(str::to_string);
            let args = match b.get("args").map(|(_, a)| &a.kind) {
                Some(Kind::Map(m)) => m
                    .iter()
                    .map(|(k, v)| {
                        (
                            k.scalar().unwrap_or_default().to_string(),
                            v.scalar().unwrap_or_default().to_string(),
                        )
                    })
                    .collect(),
                Some(Kind::Seq(items)) => items
                    .iter()
                    .filter_map(|i| i.scalar())
                    .map(|s| match s.split_once('=') {
                        Some((k, v)) => (k.to_string(), v.to_string()),
                        None => (s.to_string(), format!("${{{s}}}")),
                    })
                    .collect(),
                _ => Vec::new(),
            };
            let inline = get("dockerfile_inline");
            // Named by its content, so two services with the same inline
            // Dockerfile share one build and two different ones do not.
            let dockerfile = match &inline {
                Some(text) => {
                    use sha2::{Digest, Sha256};
                    let hash = hex::encode(Sha256::digest(text.as_bytes()));
                    format!("Dockerfile.inline-{}", &hash[..8])
                }
                None => get("dockerfile").unwrap_or_else(|| "Dockerfile".into()),
            };
            let platforms: Vec<String> = b
                .get("platforms")
                .map(|(_, p)| strings(p))
                .unwrap_or_default();
            let platform = match platforms.as_slice() {
                [one] if one == "linux/amd64" || one == "linux/arm64" => Some(one.clone()),
                _ => None,
            };
            Some(Build {
                context: get("context").unwrap_or_else(|| ".".into()),
                dockerfile,
                args,
                target: get("target"),
                inline,
                platform,
            })
        }
        _ => None,
    }
}

/// An env file's variables as compose reads them (its dotenv rules), each
/// value in stack.yaml's form: unquoted values lose an inline ` # comment`
/// and keep `${VAR}` for interpolation; double-quoted ones may span lines,
/// turn `\n`, `\t`, `\"`, `\\` and `\$` into what they say, and interpolate;
/// single-quoted ones are literal (a `$` in them becomes `$$`, which geno
/// reads as one dollar). A bare `KEY` takes the variable from the
/// environment (`${KEY}`). A key given twice keeps the last value.
pub fn parse_env_file(text: &str) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = Vec::new();
    let mut rest = text;
    while !rest.is_empty() {
        let (line, after) = rest.split_once('\n').unwrap_or((rest, ""));
        rest = after;
        let trimmed = line.trim_start();
        if trimmed.is_empty() || trimmed.starts_with('#') {
            continue;
        }
        let trimmed = trimmed.strip_prefix("export ").unwrap_or(trimmed);
        let Some((key, value)) = trimmed.split_once('=') else {
            let key = trimmed.trim();
            if !key.is_empty() && !key.contains(char::is_whitespace) {
                set(&mut out, key, format!("${{{key}}}"));
            }
            continue;
        };
        let key = key.trim();
        let spaced = value.starts_with([' ', '\t']);
        let value = value.trim_start();
        let value = match value.chars().next() {
            // `KEY= # note`: the comment is all there is.
            Some('#') if spaced => String::new(),
            Some(q @ ('\'' | '"')) => {
                // The value runs to the closing quote, over lines if need be.
                let mut body = String::new();
                let mut chars = value[1..].chars().peekable();
                let mut remaining: &str = rest;
                let mut closed = false;
                loop {
                    while let Some(c) = chars.next() {
                        if q == '"' && c == '\\' {
                            match chars.next() {
                                Some('n') => body.push('\n'),
                                Some('t') => body.push('\t'),
                                Some('r') => body.push('\r'),
                                Some('$') => body.push_str("$$"),
                                Some(other) => body.push(other),
                                None => body.push('\\'),
                            }
                        } else if c == q {
                            closed = true;
                            break;
                        } else if q == '\'' && c == '$' {
                            body.push_str("$$");
                        } else {
                            body.push(c);
                        }
                    }
                    if closed || remaining.is_empty() {
                        break;
                    }
                    let (next, after) = remaining.split_once('\n').unwrap_or((remaining, ""));
                    body.push('\n');
                    chars = next.chars().peekable();
                    remaining = after;
                }
                rest = remaining;
                body
            }
            _ => {
                // An inline comment starts at whitespace then `#`.
                let mut end = value.len();
                let bytes = value.as_bytes();
                for i in 1..bytes.len() {
                    if bytes[i] == b'#' && (bytes[i - 1] == b' ' || bytes[i - 1] == b'\t') {
                        end = i;
                        break;
                    }
                }
                value[..end].trim_end().to_string()
            }
        };
        if !key.is_empty() {
            set(&mut out, key, value);
        }
    }
    out
}

/// A variable whose name says it holds a credential.
fn looks_secret(key: &str) -> bool {
    let k = key.to_ascii_uppercase();
    [
        "PASSWORD",
        "PASSWD",
        "SECRET",
        "TOKEN",
        "API_KEY",
        "APIKEY",
        "PRIVATE_KEY",
        "ACCESS_KEY",
        "CREDENTIAL",
    ]
    .iter()
    .any(|w| k.contains(w))
}

/// `key` set to `value`, replacing an earlier one in its place.
fn set(vars: &mut Vec<(String, String)>, key: &str, value: String) {
    match vars.iter_mut().find(|(k, _)| k == key) {
        Some(slot) => slot.1 = value,
        None => vars.push((key.to_string(), value)),
    }
}

/// A stack name from a directory or compose project name: lowercase
/// letters, digits and dashes.
/// A compose service name as geno takes it: lowercase letters, digits,
/// `-` and `_`, starting with a letter or digit, at most 63.
fn service_name(name: &str) -> String {
    lowercase_name(name, &['-', '_'], false)
}

/// A stack or build name: lowercase letters, digits and `-`, at most 63
/// (a stack name prefixes every object).
fn sanitize(name: &str) -> String {
    lowercase_name(name, &['-'], true)
}

/// `name` lowercase, other characters than `keep` and ASCII letters and
/// digits turned into `-`, leading separators gone (trailing ones too when
/// `trim_end`), at most 63; `app` when nothing is left.
fn lowercase_name(name: &str, keep: &[char], trim_end: bool) -> String {
    let s: String = name
        .to_ascii_lowercase()
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || keep.contains(&c) {
                c
            } else {
                '-'
            }
        })
        .collect();
    let s = s.trim_start_matches(keep);
    let s = &s[..s.len().min(63)];
    let s = if trim_end {
        s.trim_end_matches(keep)
    } else {
        s
    };
    if s.is_empty() {
        "app".into()
    } else {
        s.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn service_names_are_what_geno_allows_and_keep_what_they_can() {
        assert_eq!(service_name("serviceA"), "servicea");
        assert_eq!(service_name("my_worker"), "my_worker");
        assert_eq!(service_name("api.v2"), "api-v2");
        assert_eq!(service_name("_hidden"), "hidden");
    }

    #[test]
    fn stack_names_are_what_docker_allows() {
        assert_eq!(sanitize("My_App"), "my-app");
        let long = "a-very-long-checkout-directory-name-that-someone-cloned-into-their-projects";
        assert_eq!(sanitize(long).len(), 63);
        assert_eq!(
            sanitize(long),
            "a-very-long-checkout-directory-name-that-someone-cloned-into-th"
        );
        assert_eq!(sanitize(&format!("{}-x", "b".repeat(62))), "b".repeat(62));
    }

    #[test]
    fn env_files_read_like_compose_reads_them() {
        let pairs = |text: &str| -> Vec<(String, String)> { parse_env_file(text) };
        let kv = |k: &str, v: &str| (k.to_string(), v.to_string());
        assert_eq!(
            pairs("# c\nA=1\nexport B=\"two\"\n\nC='x y'\nFROM_SHELL\n"),
            [
                kv("A", "1"),
                kv("B", "two"),
                kv("C", "x y"),
                kv("FROM_SHELL", "${FROM_SHELL}")
            ]
        );
        // Single quotes are literal: geno's interpolation must not see `$`.
        assert_eq!(
            pairs("SECRET='abc$def'\nCMD='$(date) ${HOME}'\n"),
            [kv("SECRET", "abc$$def"), kv("CMD", "$$(date) $${HOME}")]
        );
        // Unquoted: an inline comment goes, a `#` inside a word stays.
        assert_eq!(
            pairs("X=x # comment\nCOLOR=#fff\nURL=http://h/#frag\nY=${HOME}/y\n"),
            [
                kv("X", "x"),
                kv("COLOR", "#fff"),
                kv("URL", "http://h/#frag"),
                kv("Y", "${HOME}/y")
            ]
        );
        // Double quotes: escapes, and a value over two lines.
        assert_eq!(
            pairs("A=\"a\\nb\"\nP=\"cost \\$5\"\nM=\"one\ntwo\"\nZ=z\n"),
            [
                kv("A", "a\nb"),
                kv("P", "cost $$5"),
                kv("M", "one\ntwo"),
                kv("Z", "z")
            ]
        );
        // A key given twice keeps its last value, in its first place.
        assert_eq!(pairs("K=1\nL=2\nK=3\n"), [kv("K", "3"), kv("L", "2")]);
        assert_eq!(pairs("E= # nothing\n"), [kv("E", "")]);
    }
}

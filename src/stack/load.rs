//! Reading stack.yaml for one environment: parse, interpolate, type, check.
//!
//! Every stage reports through `Diagnostic`s pointing into the file, and the
//! later stages run as far as the earlier ones allow, so a user sees all the
//! problems of a file at once.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use indexmap::IndexMap;
use serde::de::DeserializeOwned;

use super::de::{DeError, did_you_mean, from_node_at};
use super::diag::{Diagnostic, Location, locate};
use super::interp::{EnvFileError, Lookup, interpolate, parse_env_file};
use super::model::{
    Environment, ImageBuild, LoadBalancer, Secret, Service, SmokeStep, Stack, VolumeSpec,
};
use super::profiles::{self, ProfileError};
use super::validate::{LOCAL_ENV, validate};
use super::yaml::{self, Kind, Node, Span};

/// The variable that holds the name of the environment being loaded.
pub const ENV_VAR: &str = "GENO_ENV";

#[derive(Debug, Clone)]
pub struct LoadOptions {
    /// Environment to load for; `local` when running on this machine.
    pub env: String,
    /// The process environment (passed in so loading stays pure).
    pub vars: BTreeMap<String, String>,
    /// An explicit env file; otherwise `.env` beside stack.yaml, if present.
    pub env_file: Option<PathBuf>,
}

impl LoadOptions {
    pub fn new(env: &str) -> LoadOptions {
        LoadOptions {
            env: env.to_string(),
            vars: BTreeMap::new(),
            env_file: None,
        }
    }
}

/// A stack file read from disk.
#[derive(Debug, Clone)]
pub struct Source {
    pub path: PathBuf,
    /// The path as the user named it, for messages.
    pub display: String,
    pub text: String,
}

impl Source {
    pub fn read(path: &Path) -> Result<Source, LoadError> {
        let text = std::fs::read_to_string(path).map_err(|source| LoadError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        Ok(Source {
            path: path.to_path_buf(),
            display: path.display().to_string(),
            text,
        })
    }

    /// The folder relative paths in the stack are resolved against.
    pub fn dir(&self) -> PathBuf {
        Source::dir_of(&self.path)
    }

    /// The folder of a stack file, `.` for a bare file name.
    pub fn dir_of(path: &Path) -> PathBuf {
        match path.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
            _ => PathBuf::from("."),
        }
    }
}

/// A stack resolved for one environment.
#[derive(Debug, Clone)]
pub struct Loaded {
    pub stack: Stack,
    pub env: String,
    pub source: Source,
    /// The variables interpolation saw (shell, env file, environment's own).
    pub vars: BTreeMap<String, String>,
    /// Services left out of `stack` because none of their profiles is
    /// active (see `profiles::select`); empty until a selection is made.
    pub disabled: IndexMap<String, Service>,
    /// The active profiles.
    pub profiles: Vec<String>,
    /// The stack as the file declares it, every profile included: what a
    /// smoke verification vouches for, whichever profiles were active.
    pub declared: Stack,
}

impl Loaded {
    /// Problems found after loading (against the engine, say), located in
    /// the file and rendered like validation's: `Err` to return as is.
    pub fn invalid(&self, problems: Vec<super::diag::Problem>) -> LoadError {
        let diagnostics = match super::yaml::parse(&self.source.text) {
            Ok(root) => diagnose(&root, &self.source, problems),
            Err(_) => problems
                .into_iter()
                .map(|p| Diagnostic {
                    message: format!("{}: {}", p.dotted_path(), p.message),
                    location: None,
                    label: p.label,
                    help: p.help,
                })
                .collect(),
        };
        LoadError::Invalid(Invalid {
            file: self.source.display.clone(),
            diagnostics,
        })
    }

    pub fn environment(&self) -> Option<&Environment> {
        self.stack.environments.get(&self.env)
    }

    /// Keeps in `stack` the services of the active profiles (see
    /// `profiles::select`); the others go to `disabled`.
    pub fn select_profiles(
        &mut self,
        requested: &[String],
        targets: &[String],
    ) -> Result<(), ProfileError> {
        let env_profiles = self
            .environment()
            .map(|e| e.profiles.clone())
            .unwrap_or_default();
        let selection =
            profiles::select(&mut self.stack.services, &env_profiles, requested, targets)?;
        self.profiles = selection.active;
        self.disabled = selection.disabled;
        Ok(())
    }
}

#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("cannot read `{}`", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot read env file `{}`", path.display())]
    EnvFileRead {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("env file `{}`, {source}", path.display())]
    EnvFile {
        path: PathBuf,
        #[source]
        source: EnvFileError,
    },
    #[error("{0}")]
    Invalid(Invalid),
    #[error(transparent)]
    Profile(#[from] ProfileError),
}

/// Everything wrong with a stack file, already rendered against its source.
#[derive(Debug, Clone)]
pub struct Invalid {
    pub file: String,
    pub diagnostics: Vec<Diagnostic>,
}

impl fmt::Display for Invalid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n = self.diagnostics.len();
        write!(
            f,
            "`{}` is not valid: {n} error{}",
            self.file,
            if n == 1 { "" } else { "s" }
        )
    }
}

impl Invalid {
    /// The diagnostics one after another, as printed before the summary.
    pub fn render(&self) -> String {
        self.diagnostics
            .iter()
            .map(|d| d.to_string())
            .collect::<Vec<_>>()
            .join("\n")
    }
}

pub fn load(path: &Path, opts: &LoadOptions) -> Result<Loaded, LoadError> {
    let source = Source::read(path)?;
    let env_file = read_env_file(&source, opts)?;
    load_source(source, &opts.env, &opts.vars, &env_file)
}

/// Every environment the file declares (and `local`), for `geno validate`.
pub fn environment_names(source: &Source) -> Vec<String> {
    let mut names = vec![LOCAL_ENV.to_string()];
    if let Ok(root) = yaml::parse(&source.text)
        && let Some((
            _,
            Node {
                kind: Kind::Map(entries),
                ..
            },
        )) = root.get("environments")
    {
        for (k, _) in entries {
            if let Some(name) = k.scalar()
                && !names.iter().any(|n| n == name)
            {
                names.push(name.to_string());
            }
        }
    }
    names
}

/// Loads the file for every environment and merges what is wrong.
pub fn validate_all(path: &Path, opts: &LoadOptions) -> Result<Vec<Loaded>, LoadError> {
    let source = Source::read(path)?;
    let env_file = read_env_file(&source, opts)?;
    let mut loaded = Vec::new();
    let mut diagnostics: Vec<Diagnostic> = Vec::new();
    for env in environment_names(&source) {
        match load_source(source.clone(), &env, &opts.vars, &env_file) {
            Ok(l) => {
                // The watch rules' paths against the files: only `validate`
                // and watching ask (a stack.yaml copied elsewhere still
                // renders and promotes).
                let paths = super::develop::check_paths(&l.stack, &l.source.dir());
                if !paths.is_empty()
                    && let LoadError::Invalid(invalid) = l.invalid(paths)
                {
                    for d in invalid.diagnostics {
                        if !diagnostics.contains(&d) {
                            diagnostics.push(d);
                        }
                    }
                }
                loaded.push(l)
            }
            Err(LoadError::Invalid(invalid)) => {
                for d in invalid.diagnostics {
                    if !diagnostics.contains(&d) {
                        diagnostics.push(d);
                    }
                }
            }
            Err(other) => return Err(other),
        }
    }
    if diagnostics.is_empty() {
        Ok(loaded)
    } else {
        Err(LoadError::Invalid(Invalid {
            file: source.display,
            diagnostics,
        }))
    }
}

fn read_env_file(
    source: &Source,
    opts: &LoadOptions,
) -> Result<BTreeMap<String, String>, LoadError> {
    let (path, required) = match &opts.env_file {
        Some(p) => (p.clone(), true),
        None => (source.dir().join(".env"), false),
    };
    let text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) if !required && e.kind() == std::io::ErrorKind::NotFound => {
            return Ok(BTreeMap::new());
        }
        Err(source) => return Err(LoadError::EnvFileRead { path, source }),
    };
    parse_env_file(&text).map_err(|source| LoadError::EnvFile { path, source })
}

pub fn load_source(
    source: Source,
    env: &str,
    process: &BTreeMap<String, String>,
    env_file: &BTreeMap<String, String>,
) -> Result<Loaded, LoadError> {
    let at = |span| Some(Location::new(&source.display, &source.text, span));
    let fail = |diagnostics: Vec<Diagnostic>| {
        Err(LoadError::Invalid(Invalid {
            file: source.display.clone(),
            diagnostics,
        }))
    };

    let mut root = match yaml::parse(&source.text) {
        Ok(root) => root,
        Err(e) => {
            return fail(vec![Diagnostic {
                message: e.message,
                location: at(e.span),
                label: None,
                help: None,
            }]);
        }
    };
    if !matches!(root.kind, Kind::Map(_)) {
        return fail(vec![Diagnostic {
            message: format!(
                "a stack file is a mapping with `name`, `image` and `services`, found {}",
                root.describe()
            ),
            location: at(root.span),
            label: None,
            help: None,
        }]);
    }

    // Variables: shell first, then the env file, with the environment's own
    // `variables` (themselves interpolated) on top and GENO_ENV always set.
    let mut base: BTreeMap<String, String> = env_file.clone();
    base.extend(process.iter().map(|(k, v)| (k.clone(), v.clone())));
    base.insert(ENV_VAR.into(), env.to_string());
    let mut diagnostics = Vec::new();
    let env_node = root
        .get("environments")
        .and_then(|(_, envs)| envs.get(env))
        .map(|(_, e)| e.clone());
    let declared: Vec<String> = match root.get("environments") {
        Some((
            _,
            Node {
                kind: Kind::Map(entries),
                ..
            },
        )) => entries
            .iter()
            .filter_map(|(k, _)| k.scalar().map(str::to_string))
            .collect(),
        _ => Vec::new(),
    };
    if env_node.is_none() && env != LOCAL_ENV {
        let known: Vec<&str> = declared.iter().map(String::as_str).collect();
        return fail(vec![Diagnostic {
            message: format!("unknown environment `{env}`"),
            // Where environments are declared, else the top of the file.
            location: Some(Location::new(
                &source.display,
                &source.text,
                root.get("environments")
                    .map(|(k, _)| k.span)
                    .unwrap_or(Span {
                        line: 1,
                        col: 1,
                        len: 0,
                    }),
            )),
            label: did_you_mean(env, &known).map(|s| format!("did you mean `{s}`?")),
            help: Some(format!(
                "environments are: {}",
                known
                    .iter()
                    .map(|k| format!("`{k}`"))
                    .collect::<Vec<_>>()
                    .join(", ")
            )),
        }]);
    }
    let mut vars = base.clone();
    if let Some((
        _,
        Node {
            kind: Kind::Map(entries),
            ..
        },
    )) = env_node.as_ref().and_then(|e| e.get("variables"))
    {
        for (k, v) in entries {
            let (Some(name), Some(raw)) = (k.scalar(), v.scalar()) else {
                continue;
            };
            match interpolate(raw, &base) {
                Ok(value) => {
                    vars.insert(name.to_string(), value);
                }
                Err(e) => diagnostics.push(Diagnostic {
                    message: e.to_string(),
                    location: at(v.span),
                    label: None,
                    help: None,
                }),
            }
        }
    }

    let mut interp_errors = Vec::new();
    interpolate_tree(&mut root, &vars, &mut interp_errors);
    for (span, message) in interp_errors {
        let d = Diagnostic {
            message,
            location: at(span),
            label: None,
            help: None,
        };
        if !diagnostics.contains(&d) {
            diagnostics.push(d);
        }
    }
    if !diagnostics.is_empty() {
        return fail(diagnostics);
    }

    let stack: Stack = match from_node_at::<Stack>(&root, "", root.span) {
        Ok(stack) => stack,
        Err(_) => {
            let diagnostics = type_errors(&root)
                .into_iter()
                .map(|e| Diagnostic {
                    message: e.to_string(),
                    location: e.span.and_then(at),
                    label: e.label,
                    help: None,
                })
                .collect();
            return fail(diagnostics);
        }
    };

    let problems = validate(&stack, env);
    if !problems.is_empty() {
        let mut diagnostics = diagnose(&root, &source, problems);
        // In file order, which is how a person fixes them.
        diagnostics.sort_by_key(|d| d.location.as_ref().map(|l| (l.span.line, l.span.col)));
        return fail(diagnostics);
    }
    Ok(Loaded {
        declared: stack.clone(),
        stack,
        env: env.to_string(),
        source,
        vars,
        disabled: IndexMap::new(),
        profiles: Vec::new(),
    })
}

/// Problems found on the typed stack, each located in the file it came
/// from and rendered with its dotted path.
fn diagnose(root: &Node, source: &Source, problems: Vec<super::diag::Problem>) -> Vec<Diagnostic> {
    problems
        .into_iter()
        .map(|p| {
            let span = locate(root, &p.path, p.at);
            let path = p.dotted_path();
            Diagnostic {
                message: if path.is_empty() {
                    p.message
                } else {
                    format!("{path}: {}", p.message)
                },
                location: Some(super::diag::Location::new(
                    &source.display,
                    &source.text,
                    span,
                )),
                label: p.label,
                help: p.help,
            }
        })
        .collect()
}

/// Interpolates every scalar value (never keys, as compose does).
fn interpolate_tree(node: &mut Node, vars: &dyn Lookup, errors: &mut Vec<(yaml::Span, String)>) {
    match &mut node.kind {
        Kind::Scalar { value, .. } => match interpolate(value, vars) {
            Ok(v) => *value = v,
            Err(e) => errors.push((node.span, e.to_string())),
        },
        Kind::Seq(items) => items
            .iter_mut()
            .for_each(|n| interpolate_tree(n, vars, errors)),
        Kind::Map(entries) => entries
            .iter_mut()
            .for_each(|(_, v)| interpolate_tree(v, vars, errors)),
        Kind::Null => {}
    }
}

/// All type errors, not only serde's first: each top-level section and each
/// entry of the named maps is tried on its own.
fn type_errors(root: &Node) -> Vec<DeError> {
    let mut errors = Vec::new();
    if let Err(e) = from_node_at::<Stack>(root, "", root.span) {
        errors.push(e);
    }
    fn each<T: DeserializeOwned>(node: &Node, section: &str, errors: &mut Vec<DeError>) {
        match &node.kind {
            Kind::Map(entries) => {
                for (k, v) in entries {
                    let name = k.scalar().unwrap_or_default();
                    let blame = if matches!(v.kind, Kind::Scalar { .. }) {
                        v.span
                    } else {
                        k.span
                    };
                    if let Err(e) = from_node_at::<T>(v, &format!("{section}.{name}"), blame) {
                        errors.push(e);
                    }
                }
            }
            Kind::Seq(items) => {
                for (i, v) in items.iter().enumerate() {
                    if let Err(e) = from_node_at::<T>(v, &format!("{section}[{i}]"), v.span) {
                        errors.push(e);
                    }
                }
            }
            _ => {}
        }
    }
    if let Kind::Map(entries) = &root.kind {
        for (k, v) in entries {
            let key = k.scalar().unwrap_or_default();
            let blame = k.span;
            let one = |r: Result<(), DeError>, errors: &mut Vec<DeError>| {
                if let Err(e) = r {
                    errors.push(e);
                }
            };
            match key {
                "services" => each::<Service>(v, key, &mut errors),
                "secrets" => each::<Secret>(v, key, &mut errors),
                "environments" => each::<Environment>(v, key, &mut errors),
                "volumes" => each::<VolumeSpec>(v, key, &mut errors),
                "smoke" => each::<SmokeStep>(v, key, &mut errors),
                "image" => one(
                    from_node_at::<ImageBuild>(v, key, blame).map(drop),
                    &mut errors,
                ),
                "load_balancer" => one(
                    from_node_at::<LoadBalancer>(v, key, blame).map(drop),
                    &mut errors,
                ),
                _ => {}
            }
        }
    }
    let mut unique: Vec<DeError> = Vec::new();
    for e in errors {
        if !unique
            .iter()
            .any(|u| u.span == e.span && u.message == e.message)
        {
            unique.push(e);
        }
    }
    unique.sort_by_key(|e| e.span.map(|s| (s.line, s.col)).unwrap_or_default());
    unique
}

//! Command-line arguments, resolved into a `Config` and a `Subcommand`.
//!
//! Parsing stays here; each subcommand's work lives in `ops`, so a command
//! is a few lines that turn arguments into an `ops` call.

use std::collections::BTreeMap;
use std::path::PathBuf;

use clap::{ArgAction, Args, Parser, Subcommand as ClapSubcommand, ValueEnum};

use crate::ops;
use crate::stack::{Dur, LoadOptions};

fn parse_duration(text: &str) -> Result<Dur, String> {
    Dur::parse(text)
        .ok_or_else(|| format!("expected a duration like `90s` or `5m`, found `{text}`"))
}

#[derive(Debug, Parser)]
#[command(
    name = "geno",
    version,
    about = "One stack.yaml for the local Docker stack and its ECS Fargate deployment",
    propagate_version = true
)]
pub struct Arguments {
    #[command(flatten)]
    pub global: Global,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Args)]
pub struct Global {
    /// The stack definition (before the verb: `geno -f other.yaml up`).
    #[arg(
        short = 'f',
        long = "file",
        default_value = "stack.yaml",
        value_name = "PATH"
    )]
    pub file: PathBuf,
    /// Variables for interpolation (default: `.env` beside stack.yaml, if any).
    #[arg(long, global = true, value_name = "PATH")]
    pub env_file: Option<PathBuf>,
    /// More logging: -v info, -vv debug, -vvv trace (or set GENO_LOG).
    #[arg(short, long, global = true, action = ArgAction::Count)]
    pub verbose: u8,
    /// Print data as JSON instead of text.
    #[arg(long, global = true)]
    pub json: bool,
}

#[derive(Debug, ClapSubcommand)]
pub enum Command {
    /// Check stack.yaml for every environment and list all problems.
    Validate,
    /// Print the fully resolved stack (interpolated, defaults applied, secrets redacted).
    Config {
        /// Environment to resolve for.
        #[arg(long, default_value = "local")]
        env: String,
    },
    /// Print what ECS gets for an environment: task definitions, service updates, target groups.
    Render {
        #[arg(long)]
        env: String,
        /// Pin the image: `sha256:<digest>` (per-service ECR repository) or `repo@sha256:<digest>`.
        #[arg(long, value_name = "DIGEST")]
        image: Option<String>,
        /// `ecs`: the ECS API inputs; `tfvars`: the variables infra/ takes (JSON).
        #[arg(long, value_enum, default_value = "ecs")]
        format: RenderFormat,
    },
    /// Print the JSON Schema of stack.yaml.
    Schema,
    /// Build the image and bring the stack up locally, in dependency order, until healthy.
    Up {
        /// Give up waiting after this long (`90s`, `5m`).
        #[arg(long, default_value = "5m", value_parser = parse_duration)]
        timeout: Dur,
        /// After the stack is up, follow its logs (Ctrl-C detaches).
        #[arg(long)]
        attach: bool,
        /// Load balancer health checks ten times as often (thresholds stay;
        /// rendered ECS settings keep stack.yaml's values).
        #[arg(long)]
        fast_health: bool,
    },
    /// Run the stack's smoke tests through its load balancer.
    Smoke {
        /// Environment: `local` runs against this machine's stack; another
        /// runs the HTTP steps against its URL.
        #[arg(long, default_value = "local")]
        env: String,
        /// The load balancer URL of a deployed environment.
        #[arg(long)]
        url: Option<String>,
        /// Also write a JUnit XML report here.
        #[arg(long, value_name = "FILE")]
        junit: Option<PathBuf>,
    },
    /// Serve the stack's load balancer (started by `geno up`).
    #[command(hide = true)]
    Lb {
        #[arg(long)]
        fast_health: bool,
    },
    /// Stop and remove the stack's containers and network (volumes with --volumes).
    Down {
        /// Also remove named volumes, and the data in them.
        #[arg(long)]
        volumes: bool,
    },
    /// List the stack's containers: state, health, ports, image, uptime.
    Ps,
    /// Show service logs, each line prefixed with its container.
    Logs {
        /// Services to show (default: all).
        services: Vec<String>,
        /// Keep following new output.
        #[arg(short, long)]
        follow: bool,
        /// Only output since then: `10m` ago, a UNIX time or an RFC 3339 time.
        #[arg(long)]
        since: Option<String>,
        /// Lines from the end of each container's log (default: all).
        #[arg(long, short = 'n')]
        tail: Option<String>,
    },
    /// Run a command in a running container of a service.
    Exec {
        service: String,
        /// Which replica (1-based).
        #[arg(long, default_value_t = 1)]
        index: u32,
        /// Do not allocate a TTY even when attached to one.
        #[arg(short = 'T', long = "no-tty")]
        no_tty: bool,
        /// The command and its arguments (after `--`).
        #[arg(required = true, trailing_var_arg = true, allow_hyphen_values = true)]
        command: Vec<String>,
    },
    /// Run a one-off container of a service, removed afterwards.
    Run {
        service: String,
        /// Command to run instead of the service's own.
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        command: Vec<String>,
    },
    /// Push the image that passed `geno smoke` to an ECS environment and roll it out.
    ///
    /// Preflight (identity, cluster, services, repositories, secrets, roles),
    /// push tagged with the image ID and git revision, manifest digest
    /// checked against the verified image ID, task definitions pinned by
    /// digest, services updated and watched; on failure every service goes
    /// back to its previous task definition. Recorded under .geno/.
    Promote {
        /// The environment (a key of `environments:` with an `aws` section).
        #[arg(long)]
        env: String,
        /// The image to promote (ID, ID prefix or tag) instead of the current build.
        #[arg(long)]
        image: Option<String>,
        /// Promote an image without a passing `geno smoke` for this stack definition (recorded).
        #[arg(long)]
        force: bool,
        /// Push to this registry host instead of the environment's ECR.
        #[arg(long, value_name = "HOST[:PORT]")]
        registry: Option<String>,
        /// Give up on the rollout (and roll back) after this long.
        #[arg(long, default_value = "15m", value_parser = parse_duration)]
        timeout: Dur,
        /// How often to look at the services while they roll out.
        #[arg(long, default_value = "5s", value_parser = parse_duration)]
        poll: Dur,
        /// After the rollout, run the smoke suite against the environment; failure rolls back.
        #[arg(long)]
        smoke: bool,
        /// The environment's load balancer URL for --smoke (default: `aws.url`).
        #[arg(long)]
        url: Option<String>,
        /// Run the checks (verification, preflight) and print the diff; change nothing.
        #[arg(long)]
        dry_run: bool,
    },
    /// Show what `geno promote` would change: rendered vs live task definitions.
    Diff {
        #[arg(long)]
        env: String,
        /// Compare for this image (ID, prefix or tag) instead of the current build.
        #[arg(long)]
        image: Option<String>,
        /// The registry host promote pushes to, if not the environment's ECR.
        #[arg(long, value_name = "HOST[:PORT]")]
        registry: Option<String>,
        /// Exit with 1 when there are changes (for CI).
        #[arg(long)]
        exit_code: bool,
    },
    /// List the promotions and rollbacks on record for an environment.
    History {
        #[arg(long)]
        env: String,
    },
    /// Return an environment to the task definitions of an earlier promotion.
    Rollback {
        #[arg(long)]
        env: String,
        /// The promotion to return to (an ID from `geno history`); default: the one before the current.
        #[arg(long, value_name = "ID")]
        to: Option<String>,
        #[arg(long, default_value = "15m", value_parser = parse_duration)]
        timeout: Dur,
        #[arg(long, default_value = "5s", value_parser = parse_duration)]
        poll: Dur,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum RenderFormat {
    Ecs,
    Tfvars,
}

/// Settings every command shares, resolved from arguments and environment.
#[derive(Debug, Clone)]
pub struct Config {
    pub file: PathBuf,
    pub verbose: u8,
    pub env_file: Option<PathBuf>,
    pub json: bool,
    pub vars: BTreeMap<String, String>,
}

impl Config {
    pub fn load_options(&self, env: &str) -> LoadOptions {
        LoadOptions {
            env: env.to_string(),
            vars: self.vars.clone(),
            env_file: self.env_file.clone(),
        }
    }
}

impl Arguments {
    pub fn run(self) -> anyhow::Result<i32> {
        crate::logging::init(self.global.verbose);
        let config = Config {
            file: self.global.file,
            verbose: self.global.verbose,
            env_file: self.global.env_file,
            json: self.global.json,
            vars: std::env::vars().collect(),
        };
        self.command.execute(&config)
    }
}

impl Command {
    pub fn execute(self, config: &Config) -> anyhow::Result<i32> {
        match self {
            Command::Validate => ops::validate::validate(config),
            Command::Config { env } => ops::config::config(config, &env),
            Command::Render { env, image, format } => {
                ops::render::render(config, &env, image.as_deref(), format)
            }
            Command::Schema => ops::schema::print(),
            Command::Up {
                timeout,
                attach,
                fast_health,
            } => ops::up::up(
                config,
                ops::up::UpOptions {
                    timeout: timeout.0,
                    attach,
                    fast_health,
                    verbose: config.verbose > 0,
                },
            ),
            Command::Smoke { env, url, junit } => {
                ops::smoke::smoke(config, ops::smoke::SmokeOptions { env, url, junit })
            }
            Command::Lb { fast_health } => ops::lb::lb(config, fast_health),
            Command::Down { volumes } => {
                ops::down::down(config, ops::down::DownOptions { volumes })
            }
            Command::Ps => ops::ps::ps(config),
            Command::Logs {
                services,
                follow,
                since,
                tail,
            } => ops::logs::logs(
                config,
                ops::logs::LogsOptionsCli {
                    services,
                    follow,
                    since,
                    tail,
                },
            ),
            Command::Exec {
                service,
                index,
                no_tty,
                command,
            } => ops::exec::exec(
                config,
                ops::exec::ExecOptions {
                    service,
                    index,
                    no_tty,
                    command,
                },
            ),
            Command::Run { service, command } => {
                ops::run::run(config, ops::run::RunOptions { service, command })
            }
            Command::Promote {
                env,
                image,
                force,
                registry,
                timeout,
                poll,
                smoke,
                url,
                dry_run,
            } => ops::promote::promote(
                config,
                ops::promote::PromoteOptions {
                    env,
                    image,
                    force,
                    registry,
                    watch: ops::deploy::Watch {
                        timeout: timeout.0,
                        poll: poll.0,
                    },
                    smoke,
                    url,
                    dry_run,
                },
            ),
            Command::Diff {
                env,
                image,
                registry,
                exit_code,
            } => ops::diff::run(
                config,
                ops::diff::DiffOptions {
                    env,
                    image,
                    registry,
                    exit_code,
                },
            ),
            Command::History { env } => ops::history::history(config, &env),
            Command::Rollback {
                env,
                to,
                timeout,
                poll,
            } => ops::rollback::rollback(
                config,
                ops::rollback::RollbackOptions {
                    env,
                    to,
                    watch: ops::deploy::Watch {
                        timeout: timeout.0,
                        poll: poll.0,
                    },
                },
            ),
        }
    }
}

//! Command-line arguments, and running one command: the `Context` built
//! from them, the verb run under the Ctrl-C guard, its failure reported.
//!
//! Parsing stays here; each verb's work lives in `ops`, so a command is a
//! few lines that turn arguments into an `ops` call.

use std::path::PathBuf;

use clap::{ArgAction, Args, Parser, Subcommand as ClapSubcommand, ValueEnum};

use crate::context::{Context, Settings};
use crate::environment::rollout::Watch;
use crate::error::CliResult;
use crate::ops;
use crate::shell::{Shell, Verbosity};
use crate::stack::Dur;

fn parse_duration(text: &str) -> Result<Dur, String> {
    Dur::parse(text)
        .ok_or_else(|| format!("expected a duration like `90s` or `5m`, found `{text}`"))
}

/// `geno --version`: the package version and the git revision built from.
pub const VERSION: &str = concat!(env!("CARGO_PKG_VERSION"), " (", env!("GENO_GIT_REV"), ")");

#[derive(Debug, Parser)]
#[command(
    name = "geno",
    version = VERSION,
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
    /// The stack definition, `-f` for short (default: stack.yaml here or in
    /// the nearest parent directory that has one). After `logs`, `-f` follows.
    #[arg(long = "file", global = true, env = "GENO_FILE", value_name = "PATH")]
    pub file: Option<PathBuf>,
    /// Variables for interpolation (default: `.env` beside stack.yaml, if any).
    #[arg(long, global = true, value_name = "PATH")]
    pub env_file: Option<PathBuf>,
    /// More logging: -v info, -vv debug, -vvv trace (or set GENO_LOG).
    #[arg(short, long, global = true, action = ArgAction::Count)]
    pub verbose: u8,
    /// Print data as JSON instead of text.
    #[arg(long, global = true)]
    pub json: bool,
    /// Also run the services of this profile (repeatable; or GENO_PROFILES=a,b).
    #[arg(
        long = "profile",
        global = true,
        value_name = "NAME",
        env = "GENO_PROFILES",
        value_delimiter = ','
    )]
    pub profiles: Vec<String>,
}

#[derive(Debug, ClapSubcommand)]
pub enum Command {
    /// Check stack.yaml for every environment and list all problems.
    #[command(
        after_help = "Examples:\n  geno validate\n  geno validate -f other/stack.yaml --json"
    )]
    Validate,
    /// Print the fully resolved stack (interpolated, defaults applied, secrets redacted).
    #[command(after_help = "Examples:\n  geno config\n  geno config --env demo --json")]
    Config {
        /// Environment to resolve for.
        #[arg(long, default_value = "local")]
        env: String,
    },
    /// Print what ECS gets for an environment: task definitions, service updates, target groups.
    #[command(
        after_help = "Examples:\n  geno render --env demo\n  geno render --env prod --format tfvars > infra/environments/prod.tfvars.json"
    )]
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
    #[command(after_help = "Example:\n  geno schema > schema/stack.schema.json")]
    Schema,
    /// Build the image and bring the stack up locally, in dependency order, until healthy.
    ///
    /// With services named, only they and what they depend on are brought
    /// up; nothing else is touched.
    #[command(
        after_help = "Examples:\n  geno up\n  geno up api --watch\n  geno --profile tools up --fast-health"
    )]
    Up {
        /// Services to bring up, with their dependencies (default: all).
        services: Vec<String>,
        /// Give up waiting after this long (`90s`, `5m`).
        #[arg(long, default_value = "5m", value_parser = parse_duration)]
        timeout: Dur,
        /// After the stack is up, follow its logs (Ctrl-C detaches).
        #[arg(long, conflicts_with = "watch")]
        attach: bool,
        /// After the stack is up, act on file changes by the services'
        /// `develop.watch` rules (Ctrl-C stops watching; the stack keeps running).
        #[arg(long)]
        watch: bool,
        /// Load balancer health checks ten times as often (thresholds stay;
        /// rendered ECS settings keep stack.yaml's values).
        #[arg(long)]
        fast_health: bool,
        /// Fail at once if another geno is changing this stack, instead of waiting.
        #[arg(long)]
        no_wait: bool,
        /// Run without the ECS cpu/memory limits (a machine smaller than the tasks' sum).
        #[arg(long)]
        no_limits: bool,
    },
    /// Run the stack's smoke tests through its load balancer.
    #[command(after_help = "Examples:\n  geno smoke --junit smoke.xml\n  geno smoke --env demo")]
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
    /// Act on file changes in a running stack by its `develop.watch` rules.
    ///
    /// Files are copied into every replica, then the rule's action: restart
    /// in place until ready (the load balancer drains each replica), exec a
    /// command, or rebuild the image and replace the services on it.
    /// Ctrl-C stops watching and leaves the stack running.
    #[command(after_help = "Example:\n  geno watch")]
    Watch,
    /// Stop and remove the stack's containers and network (volumes with --volumes).
    #[command(after_help = "Examples:\n  geno down\n  geno down --volumes")]
    Down {
        /// Also remove named volumes, and the data in them.
        #[arg(long)]
        volumes: bool,
        /// Also remove the stack's built images, but for the last verified
        /// ones and every promoted one (`geno up` removes old builds by
        /// itself past GENO_KEEP_BUILDS, default 10).
        #[arg(long)]
        rmi: bool,
        /// Fail at once if another geno is changing this stack, instead of waiting.
        #[arg(long)]
        no_wait: bool,
    },
    /// Restart services in place, one replica at a time, each until ready.
    ///
    /// A load-balanced replica is drained first and the next one goes only
    /// once the load balancer has it healthy again.
    #[command(after_help = "Examples:\n  geno restart api\n  geno restart")]
    Restart {
        /// Services to restart (default: all).
        services: Vec<String>,
        /// Give up waiting after this long.
        #[arg(long, default_value = "5m", value_parser = parse_duration)]
        timeout: Dur,
        /// Fail at once if another geno is changing this stack, instead of waiting.
        #[arg(long)]
        no_wait: bool,
    },
    /// Stop services, keeping their containers for `geno start`.
    #[command(after_help = "Example:\n  geno stop celery")]
    Stop {
        /// Services to stop (default: all).
        services: Vec<String>,
        /// Fail at once if another geno is changing this stack, instead of waiting.
        #[arg(long)]
        no_wait: bool,
    },
    /// Start stopped services (and the stopped services they depend on), until ready.
    #[command(after_help = "Example:\n  geno start celery")]
    Start {
        /// Services to start (default: all).
        services: Vec<String>,
        /// Give up waiting after this long.
        #[arg(long, default_value = "5m", value_parser = parse_duration)]
        timeout: Dur,
        /// Fail at once if another geno is changing this stack, instead of waiting.
        #[arg(long)]
        no_wait: bool,
    },
    /// List the stack's containers: state, readiness, health, ports, image, uptime.
    ///
    /// With --env: each ECS service's tasks, deployments, the image it runs
    /// and whether a verified promotion put it there, target health and
    /// recent events.
    #[command(after_help = "Examples:\n  geno ps\n  geno ps --env demo api")]
    Ps {
        /// Services to list (default: all).
        services: Vec<String>,
        /// A deployed environment instead of the local stack.
        #[arg(long)]
        env: Option<String>,
    },
    /// Show service logs, each line prefixed with its container.
    ///
    /// With --env: CloudWatch Logs of the services' (and jobs') tasks,
    /// interleaved by time and prefixed with service and task; -f follows
    /// across task replacements.
    #[command(
        after_help = "Examples:\n  geno logs -f api\n  geno logs --env demo celery --since 1h --grep ERROR\n  geno logs --env demo -f"
    )]
    Logs {
        /// Services to show (default: all).
        services: Vec<String>,
        /// Keep following new output.
        #[arg(short, long)]
        follow: bool,
        /// Only output since then: `10m` ago, a UNIX time or an RFC 3339 time
        /// (with --env, default 10m).
        #[arg(long)]
        since: Option<String>,
        /// Lines from the end of each container's log (default: all); with
        /// --env, the last N events.
        #[arg(long, short = 'n')]
        tail: Option<String>,
        /// Only lines that contain this text.
        #[arg(long, value_name = "TEXT")]
        grep: Option<String>,
        /// A deployed environment instead of the local stack.
        #[arg(long)]
        env: Option<String>,
    },
    /// Run a command in a running container of a service.
    ///
    /// With --env: ECS Exec into a running task of the service, through
    /// AWS's session-manager-plugin (which must be installed). ECS Exec
    /// does not carry the remote command's exit code; the exit code is the
    /// session's.
    #[command(
        after_help = "Examples:\n  geno exec api -- python -m genonaut.healthcheck\n  geno exec --env demo api -- /bin/sh\n  geno exec --env demo api --task 3f2a -- env"
    )]
    Exec {
        service: String,
        /// A deployed environment instead of the local stack.
        #[arg(long)]
        env: Option<String>,
        /// With --env: the task (a prefix of its ID; default: the newest running).
        #[arg(long, requires = "env", value_name = "ID")]
        task: Option<String>,
        /// Which replica (1-based).
        #[arg(long, default_value_t = 1, conflicts_with = "env")]
        index: u32,
        /// Do not allocate a TTY even when attached to one.
        #[arg(short = 'T', long = "no-tty")]
        no_tty: bool,
        /// The command and its arguments (after `--`).
        #[arg(required = true, trailing_var_arg = true, allow_hyphen_values = true)]
        command: Vec<String>,
    },
    /// Run a one-off container of a service, removed afterwards.
    ///
    /// With --env: a one-off Fargate task from the service's live task
    /// definition with the command replaced, in the service's network; its
    /// logs stream until it stops, and the exit code is the container's.
    /// Ctrl-C stops the task.
    #[command(
        after_help = "Examples:\n  geno run api -- python -m genonaut.migrate\n  geno run --env demo api -- python -m genonaut.migrate"
    )]
    Run {
        /// A deployed environment instead of the local stack.
        #[arg(long)]
        env: Option<String>,
        /// With --env: run even if no verified promotion put the live image there.
        #[arg(long, requires = "env")]
        force: bool,
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
    #[command(
        after_help = "Examples:\n  geno promote --env demo --dry-run\n  geno promote --env demo --smoke"
    )]
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
    #[command(after_help = "Examples:\n  geno diff --env demo\n  geno diff --env prod --exit-code")]
    Diff {
        #[arg(long)]
        env: String,
        /// Compare for this image (ID, prefix or tag) instead of the current build,
        /// or for a digest (`sha256:…`, `repo@sha256:…`) as pushed, without the engine.
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
    #[command(after_help = "Example:\n  geno history --env demo")]
    History {
        #[arg(long)]
        env: String,
    },
    /// Set the desired task count of deployed services, watched until stable.
    ///
    /// Recorded in `geno history`; put back if the services do not settle.
    /// stack.yaml's `desired_count` stays what the next promotion applies.
    #[command(after_help = "Example:\n  geno scale --env demo api=4 celery=2")]
    Scale {
        #[arg(long)]
        env: String,
        /// `SERVICE=COUNT`, one or more.
        #[arg(required = true, value_name = "SERVICE=COUNT")]
        counts: Vec<String>,
        #[arg(long, default_value = "15m", value_parser = parse_duration)]
        timeout: Dur,
        #[arg(long, default_value = "5s", value_parser = parse_duration)]
        poll: Dur,
    },
    /// The secrets stack.yaml declares for a deployed environment: list, set, remove.
    ///
    /// Values are never printed: `ls` shows where each lives, whether it
    /// exists, its type and last change; `set` reads the value from stdin
    /// or a prompt that does not echo.
    #[command(
        after_help = "Examples:\n  geno secrets --env demo ls\n  geno secrets --env demo set DATABASE_URL\n  printf %s \"$URL\" | geno secrets --env demo set DATABASE_URL\n  geno secrets --env demo rm REDIS_URL"
    )]
    Secrets {
        /// The environment (before or after the action: `geno secrets set --env demo NAME`).
        #[arg(long, global = true)]
        env: Option<String>,
        #[command(subcommand)]
        action: SecretsAction,
    },
    /// Write a stack.yaml from a compose file or live ECS services; list what it cannot carry.
    ///
    /// Services built from the same context become the stack's one image
    /// with command overrides; services that run an image become local
    /// backing services; depends_on conditions, health checks, profiles,
    /// volumes, ports and develop.watch carry over; interpolation stays
    /// interpolation. Each item not carried is listed with its line.
    #[command(
        after_help = "Examples:\n  geno init --from-compose docker-compose.yml\n  geno init --from-compose compose.yaml --out stack.yaml --force\n  geno init --from-ecs --env demo --cluster genonaut-demo --region us-east-1"
    )]
    Init {
        /// The compose file to convert.
        #[arg(
            long,
            value_name = "FILE",
            required_unless_present = "from_ecs",
            conflicts_with = "from_ecs"
        )]
        from_compose: Option<PathBuf>,
        /// Read the live ECS services of an environment instead (with --env and --cluster).
        #[arg(long, requires_all = ["env", "cluster"])]
        from_ecs: bool,
        /// With --from-ecs: the environment's name in stack.yaml.
        #[arg(long)]
        env: Option<String>,
        /// With --from-ecs: the ECS cluster.
        #[arg(long)]
        cluster: Option<String>,
        /// With --from-ecs: the services to read (default: every service of the cluster).
        #[arg(long = "service", value_name = "NAME")]
        services: Vec<String>,
        /// With --from-ecs: the region (default: AWS_REGION).
        #[arg(long)]
        region: Option<String>,
        /// With --from-ecs: the stack's name (default: from the task definition families).
        #[arg(long = "stack", value_name = "NAME")]
        stack_name: Option<String>,
        /// Where to write (default: stack.yaml beside the compose file).
        #[arg(long, value_name = "PATH")]
        out: Option<PathBuf>,
        /// Replace an existing file.
        #[arg(long)]
        force: bool,
    },
    /// Print a shell completion script (bash, zsh, fish, elvish, powershell).
    ///
    /// Service and environment names come from the stack file found now;
    /// run it again after adding one.
    #[command(
        after_help = "Examples:\n  geno completions bash > ~/.local/share/bash-completion/completions/geno\n  geno completions zsh > \"${fpath[1]}/_geno\"\n  geno completions fish > ~/.config/fish/completions/geno.fish"
    )]
    Completions {
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Return an environment to the task definitions of an earlier promotion.
    #[command(
        after_help = "Examples:\n  geno rollback --env demo\n  geno rollback --env demo --to 2026-11-30T101500.000Z"
    )]
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

/// `geno secrets --env E …`.
#[derive(Debug, ClapSubcommand)]
pub enum SecretsAction {
    /// Each declared secret: where it lives, whether it exists, its type and last change.
    Ls,
    /// Write a secret's value (from stdin, or a prompt that does not echo).
    Set {
        /// The secret's name in stack.yaml (`DATABASE_URL`).
        name: String,
    },
    /// Remove a secret from SSM or Secrets Manager (asks first).
    Rm {
        name: String,
        /// Do not ask.
        #[arg(long, short = 'y')]
        yes: bool,
    },
}

/// The command line for completions, with the stack's service and
/// environment names as the values of the arguments that take them.
fn completion_command(services: &[String], envs: &[String]) -> clap::Command {
    use clap::CommandFactory;
    let mut cmd = Arguments::command();
    let names = |v: &[String]| {
        clap::builder::PossibleValuesParser::new(
            v.iter()
                .map(|s| clap::builder::PossibleValue::new(s.clone())),
        )
    };
    let verbs: Vec<String> = cmd
        .get_subcommands()
        .map(|c| c.get_name().to_string())
        .collect();
    for verb in verbs {
        // `mut_args` changes each in place (`mut_arg` would move a
        // positional after the others).
        cmd = cmd.mut_subcommand(&verb, |sub| {
            sub.mut_args(|a| match a.get_id().as_str() {
                "services" | "service" if !services.is_empty() => a.value_parser(names(services)),
                "env" if !envs.is_empty() => a.value_parser(names(envs)),
                _ => a,
            })
        });
    }
    cmd
}

/// The command line as clap takes it: `-f` is `--file` anywhere on the
/// line, before or after the verb, except after `logs`, where `-f` follows
/// (as in `docker compose logs -f`), and except inside the command a
/// `run`/`exec` passes on. clap cannot give one short flag a meaning at the
/// top and another in one subcommand, so it sees `--file` instead.
pub fn normalize(args: impl IntoIterator<Item = std::ffi::OsString>) -> Vec<std::ffi::OsString> {
    /// Global flags that take a value (the value is not the verb).
    const VALUED: [&str; 7] = [
        "-f",
        "--file",
        "--env-file",
        "--profile",
        "--env",
        "--task",
        "--index",
    ];
    let mut out = Vec::new();
    let mut verb: Option<String> = None;
    let mut takes_value = false;
    let mut done = false;
    for (i, arg) in args.into_iter().enumerate() {
        let text = arg.to_str().map(str::to_string);
        if i == 0 || done || text.is_none() {
            out.push(arg);
            continue;
        }
        let text = text.unwrap_or_default();
        if text == "--" {
            done = true;
            out.push(arg);
            continue;
        }
        if takes_value {
            takes_value = false;
            out.push(arg);
            continue;
        }
        if !text.starts_with('-') {
            match &verb {
                None => verb = Some(text.clone()),
                // What follows a run's or exec's service is its command.
                Some(v) if matches!(v.as_str(), "run" | "exec") => done = true,
                Some(_) => {}
            }
            out.push(arg);
            continue;
        }
        let in_logs = verb.as_deref() == Some("logs");
        if text == "-f" && !in_logs {
            out.push("--file".into());
            takes_value = true;
            continue;
        }
        if let Some(value) = text
            .strip_prefix("-f")
            .filter(|v| !v.is_empty() && !in_logs)
        {
            let value = value.strip_prefix('=').unwrap_or(value);
            out.push(format!("--file={value}").into());
            continue;
        }
        takes_value = VALUED.contains(&text.as_str()) && !(in_logs && text == "-f");
        out.push(arg);
    }
    out
}

/// `geno render --format`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum RenderFormat {
    Ecs,
    Tfvars,
}

impl Arguments {
    /// Runs the command to its end and reports how it ended; the exit code.
    /// Whether this is `geno lb`, the load balancer process.
    pub fn serves_load_balancer(&self) -> bool {
        matches!(self.command, Command::Lb { .. })
    }

    pub async fn run(self) -> i32 {
        crate::logging::init(self.global.verbose);
        let verbosity = if self.global.verbose > 0 {
            Verbosity::Verbose
        } else {
            Verbosity::Normal
        };
        let file = match self.global.file {
            Some(f) => f,
            None => crate::context::find_stack_file(),
        };
        if self.global.verbose > 0 {
            eprintln!("geno: using {}", file.display());
        }
        let ctx = Context::new(
            Settings {
                file,
                verbose: self.global.verbose,
                env_file: self.global.env_file,
                vars: std::env::vars().collect(),
                profiles: self
                    .global
                    .profiles
                    .into_iter()
                    .map(|p| p.trim().to_string())
                    .filter(|p| !p.is_empty())
                    .collect(),
            },
            Shell::new(verbosity, self.global.json),
        );
        let graceful = self.command.graceful();
        let work = self.command.execute(&ctx);
        match crate::shutdown::guard(work, &ctx.cancel, graceful, &ctx.shell).await {
            Ok(()) => 0,
            Err(failure) => crate::error::report(&failure, &ctx.shell),
        }
    }
}

impl Command {
    /// The verb's name when it finishes what is under way on Ctrl-C.
    fn graceful(&self) -> Option<&'static str> {
        match self {
            Command::Up { .. } => Some("geno up"),
            Command::Watch => Some("geno watch"),
            Command::Restart { .. } => Some("geno restart"),
            Command::Start { .. } => Some("geno start"),
            Command::Smoke { .. } => Some("geno smoke"),
            Command::Lb { .. } => Some("geno lb"),
            Command::Logs { .. } => Some("geno logs"),
            Command::Run { .. } => Some("geno run"),
            Command::Promote { .. } => Some("geno promote"),
            Command::Scale { .. } => Some("geno scale"),
            Command::Rollback { .. } => Some("geno rollback"),
            _ => None,
        }
    }

    pub async fn execute(self, ctx: &Context) -> CliResult {
        match self {
            Command::Validate => ops::validate::validate(ctx).await,
            Command::Config { env } => ops::config::config(ctx, &env).await,
            Command::Render { env, image, format } => {
                let format = match format {
                    RenderFormat::Ecs => ops::render::Format::Ecs,
                    RenderFormat::Tfvars => ops::render::Format::Tfvars,
                };
                ops::render::render(ctx, &env, image.as_deref(), format).await
            }
            Command::Schema => ops::schema::schema(ctx).await,
            Command::Up {
                services,
                timeout,
                attach,
                watch,
                fast_health,
                no_wait,
                no_limits,
            } => {
                let opts = ops::up::UpOptions {
                    services,
                    timeout: timeout.0,
                    attach,
                    watch,
                    fast_health,
                    no_wait,
                    no_limits,
                };
                ops::up::up(ctx, opts).await
            }
            Command::Smoke { env, url, junit } => {
                ops::smoke::smoke(ctx, ops::smoke::SmokeOptions { env, url, junit }).await
            }
            Command::Lb { fast_health } => ops::lb::lb(ctx, fast_health).await,
            Command::Watch => ops::watch::watch(ctx).await,
            Command::Down {
                volumes,
                rmi,
                no_wait,
            } => {
                let opts = ops::down::DownOptions {
                    volumes,
                    rmi,
                    no_wait,
                };
                ops::down::down(ctx, opts).await
            }
            Command::Ps { services, env } => match env {
                Some(env) => ops::ps::env::ps(ctx, &env, &services).await,
                None => ops::ps::ps(ctx, &services).await,
            },
            Command::Restart {
                services,
                timeout,
                no_wait,
            } => {
                let opts = ops::restart::RestartOptions {
                    services,
                    timeout: timeout.0,
                    no_wait,
                };
                ops::restart::restart(ctx, opts).await
            }
            Command::Stop { services, no_wait } => {
                ops::stop::stop(ctx, ops::stop::StopOptions { services, no_wait }).await
            }
            Command::Start {
                services,
                timeout,
                no_wait,
            } => {
                let opts = ops::start::StartOptions {
                    services,
                    timeout: timeout.0,
                    no_wait,
                };
                ops::start::start(ctx, opts).await
            }
            Command::Logs {
                services,
                follow,
                since,
                tail,
                grep,
                env,
            } => {
                let opts = ops::logs::LogsOptions {
                    services,
                    follow,
                    since,
                    tail,
                    grep,
                };
                match env {
                    Some(env) => ops::logs::on_env(ctx, &env, opts).await,
                    None => ops::logs::logs(ctx, opts).await,
                }
            }
            Command::Exec {
                service,
                env: Some(env),
                task,
                command,
                ..
            } => {
                let opts = ops::exec::env::EnvExecOptions {
                    env,
                    service,
                    task,
                    command,
                };
                crate::shutdown::ignoring(ops::exec::env::run(ctx, opts)).await
            }
            Command::Exec {
                service,
                index,
                no_tty,
                command,
                ..
            } => {
                let opts = ops::exec::ExecOptions {
                    service,
                    index,
                    no_tty,
                    command,
                };
                ops::exec::exec(ctx, opts).await
            }
            Command::Run {
                env: Some(env),
                force,
                service,
                command,
            } => {
                let opts = ops::run::env::EnvRunOptions {
                    env,
                    service,
                    command,
                    force,
                };
                ops::run::env::run(ctx, opts).await
            }
            Command::Run {
                service, command, ..
            } => ops::run::run(ctx, ops::run::RunOptions { service, command }).await,
            Command::Scale {
                env,
                counts,
                timeout,
                poll,
            } => {
                let opts = ops::scale::ScaleOptions {
                    env,
                    counts,
                    watch: Watch {
                        timeout: timeout.0,
                        poll: poll.0,
                    },
                };
                ops::scale::scale(ctx, opts).await
            }
            Command::Init {
                from_compose: Some(from_compose),
                out,
                force,
                ..
            } => {
                let opts = ops::init::InitOptions {
                    from_compose,
                    out,
                    force,
                };
                ops::init::init(ctx, opts).await
            }
            Command::Init {
                env,
                cluster,
                services,
                region,
                stack_name,
                out,
                force,
                ..
            } => {
                let opts = ops::init::ecs::FromEcsOptions {
                    env: env.unwrap_or_default(),
                    cluster: cluster.unwrap_or_default(),
                    services,
                    region,
                    stack: stack_name,
                    out: out.unwrap_or_else(|| PathBuf::from("stack.yaml")),
                    force,
                };
                ops::init::ecs::from_ecs(ctx, opts).await
            }
            Command::Completions { shell } => {
                let (services, envs) = ops::completions::names(ctx);
                let mut cmd = completion_command(&services, &envs);
                let mut script = Vec::new();
                clap_complete::generate(shell, &mut cmd, "geno", &mut script);
                ctx.shell.out_text(&String::from_utf8_lossy(&script))?;
                Ok(())
            }
            Command::Secrets { env, action } => {
                let action = match action {
                    SecretsAction::Ls => ops::secrets::Action::Ls,
                    SecretsAction::Set { name } => ops::secrets::Action::Set { name },
                    SecretsAction::Rm { name, yes } => ops::secrets::Action::Rm { name, yes },
                };
                ops::secrets::secrets(ctx, env.as_deref(), action).await
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
            } => {
                let opts = ops::promote::PromoteOptions {
                    env,
                    image,
                    force,
                    registry,
                    watch: Watch {
                        timeout: timeout.0,
                        poll: poll.0,
                    },
                    smoke,
                    url,
                    dry_run,
                };
                ops::promote::promote(ctx, opts).await
            }
            Command::Diff {
                env,
                image,
                registry,
                exit_code,
            } => {
                let opts = ops::diff::DiffOptions {
                    env,
                    image,
                    registry,
                    exit_code,
                };
                ops::diff::diff(ctx, opts).await
            }
            Command::History { env } => ops::history::history(ctx, &env).await,
            Command::Rollback {
                env,
                to,
                timeout,
                poll,
            } => {
                let opts = ops::rollback::RollbackOptions {
                    env,
                    to,
                    watch: Watch {
                        timeout: timeout.0,
                        poll: poll.0,
                    },
                };
                ops::rollback::rollback(ctx, opts).await
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{completion_command, normalize};

    #[test]
    fn the_command_line_and_its_completion_form_are_well_formed() {
        use clap::CommandFactory;
        super::Arguments::command().debug_assert();
        completion_command(&["api".into()], &["demo".into()]).debug_assert();
    }

    fn norm(line: &str) -> String {
        let args = std::iter::once("geno")
            .chain(line.split(' '))
            .map(std::ffi::OsString::from);
        normalize(args)
            .into_iter()
            .skip(1)
            .map(|a| a.into_string().unwrap())
            .collect::<Vec<_>>()
            .join(" ")
    }

    #[test]
    fn dash_f_is_the_file_anywhere_but_after_logs_and_inside_a_command() {
        assert_eq!(norm("-f a.yaml up"), "--file a.yaml up");
        assert_eq!(norm("validate -f a.yaml"), "validate --file a.yaml");
        assert_eq!(norm("validate -fa.yaml"), "validate --file=a.yaml");
        assert_eq!(
            norm("render --env demo -f=a.yaml"),
            "render --env demo --file=a.yaml"
        );
        assert_eq!(norm("logs -f api"), "logs -f api");
        assert_eq!(norm("-f a.yaml logs -f"), "--file a.yaml logs -f");
        assert_eq!(
            norm("--profile logs up -f b.yaml"),
            "--profile logs up --file b.yaml"
        );
        assert_eq!(norm("run api tail -f x"), "run api tail -f x");
        assert_eq!(
            norm("exec --env demo api -- tail -f x"),
            "exec --env demo api -- tail -f x"
        );
        assert_eq!(
            norm("run -f s.yaml api -- ls"),
            "run --file s.yaml api -- ls"
        );
    }
}

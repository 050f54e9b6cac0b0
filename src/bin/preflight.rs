//! `preflight`: the command-line surface. Parses arguments, loads the SDK configuration once, runs
//! the library and prints the report. Exit status: 0 pass, 1 fail, 2 bad input or could not run.

use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};
use preflight::aws::{AwsFacts, Connection, load_config};
use preflight::fetch::Pending;
use preflight::spec::SpecError;
use preflight::{Spec, Verdict};

/// Prove before a deploy that the keys, parameters, buckets and hosted zones a stack depends on
/// will work for the roles that use them.
#[derive(Parser)]
#[command(name = "preflight", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the checks of a spec file against the account of the current AWS credentials.
    ///
    /// Exit status: 0 when every check passes (unknowns are warnings unless Options.OnUnknown is
    /// fail), 1 when a check fails, 2 when the spec is invalid or Preflight could not run.
    Check {
        /// The spec: YAML or JSON (see docs/spec.md for the keys).
        #[arg(long, value_name = "FILE")]
        spec: PathBuf,
        /// How to print the report.
        #[arg(long, value_enum, default_value_t = Format::Text)]
        format: Format,
        /// The AWS region (default: the SDK's configuration, e.g. AWS_REGION).
        #[arg(long, value_name = "REGION")]
        region: Option<String>,
        /// Send every AWS call to this endpoint (a local AWS such as moto); default: AWS_ENDPOINT_URL or AWS.
        #[arg(long, value_name = "URL")]
        endpoint_url: Option<String>,
    },
    /// Parse a spec and print it as Preflight understands it (canonical JSON), without calling AWS.
    ///
    /// Exit status: 0 when the spec is valid, 2 when it is not (every problem named by its path).
    Validate {
        /// The spec: YAML or JSON.
        #[arg(long, value_name = "FILE")]
        spec: PathBuf,
        /// FILE holds a Custom::Preflight resource's properties as CloudFormation sends them
        /// (every scalar a string; ServiceToken and ServiceTimeout allowed), e.g. from a
        /// synthesized CDK template.
        #[arg(long)]
        properties: bool,
    },
    /// Decide KMS scenarios offline: can this principal do this KMS action on this key, and why.
    ///
    /// FILE holds one scenario, a JSON array, or JSON Lines; the output has one result per
    /// scenario, in order (JSON Lines with --format json). Exit status: 0 when every scenario was
    /// read, 2 when one was not (its line says why).
    Simulate {
        /// The scenario file (`-` for standard input).
        #[arg(long, value_name = "FILE")]
        scenario: PathBuf,
        /// How to print each result.
        #[arg(long, value_enum, default_value_t = Format::Text)]
        format: Format,
    },
}

#[derive(Clone, Copy, ValueEnum)]
enum Format {
    /// Grouped, aligned text; coloured on a terminal.
    Text,
    /// JSON (the report; one result line per scenario for simulate).
    Json,
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Check { spec, format, region, endpoint_url } => {
            check(spec, format, Connection { region, endpoint_url }).await
        }
        Command::Validate { spec, properties } => validate(&spec, properties),
        Command::Simulate { scenario, format } => simulate(&scenario, format),
    }
}

/// Reads a spec, reporting every problem on stderr.
fn read_spec(path: &std::path::Path, properties: bool) -> Result<Spec, ExitCode> {
    let parsed = if properties {
        std::fs::read_to_string(path)
            .map_err(|source| SpecError::Read { path: path.display().to_string(), source })
            .and_then(|text| {
                serde_json::from_str::<serde_json::Value>(&text).map_err(|e| SpecError::Syntax {
                    path: path.display().to_string(),
                    format: "JSON",
                    message: e.to_string(),
                })
            })
            .and_then(|v| Spec::from_value(&v, preflight::spec::Origin::Properties))
    } else {
        Spec::from_file(path)
    };
    match parsed {
        Ok(spec) => Ok(spec),
        Err(SpecError::Invalid(issues)) => {
            eprintln!("error: spec `{}` is invalid:", path.display());
            for issue in issues {
                eprintln!("  {issue}");
            }
            Err(ExitCode::from(2))
        }
        Err(e) => {
            eprintln!("error: {e}");
            Err(ExitCode::from(2))
        }
    }
}

fn validate(path: &std::path::Path, properties: bool) -> ExitCode {
    match read_spec(path, properties) {
        Ok(spec) => {
            let mut out = std::io::stdout().lock();
            match writeln!(out, "{:#}", spec.to_value()).and_then(|()| out.flush()) {
                Ok(()) => ExitCode::SUCCESS,
                Err(_) => ExitCode::from(2),
            }
        }
        Err(code) => code,
    }
}

async fn check(path: PathBuf, format: Format, connection: Connection) -> ExitCode {
    let spec = match read_spec(&path, false) {
        Ok(spec) => spec,
        Err(code) => return code,
    };
    if let Some(endpoint) = &connection.endpoint_url
        && reqwest::Url::parse(endpoint).is_err()
    {
        eprintln!("error: --endpoint-url: not a URL: `{endpoint}`");
        return ExitCode::from(2);
    }
    let config = load_config(&connection).await;
    if config.region().is_none() && !spec.is_empty() {
        eprintln!("error: no AWS region: pass --region or set AWS_REGION");
        return ExitCode::from(2);
    }
    let source = AwsFacts::new(&config);
    let pending = Pending::default();
    let report = with_progress(preflight::run(&spec, &source, &pending), &pending).await;
    let text = match format {
        Format::Json => format!("{:#}\n", report.to_json()),
        Format::Text => {
            let color = std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none();
            report.to_text(color)
        }
    };
    let mut out = std::io::stdout().lock();
    if out.write_all(text.as_bytes()).and_then(|()| out.flush()).is_err() {
        return ExitCode::from(2);
    }
    match report.verdict() {
        Verdict::Pass => ExitCode::SUCCESS,
        Verdict::Fail => ExitCode::from(1),
    }
}

/// Runs `work`; after a second, shows on a terminal's stderr which AWS calls are still pending.
async fn with_progress<T>(work: impl std::future::Future<Output = T>, pending: &Pending) -> T {
    let show = std::io::stderr().is_terminal();
    let started = std::time::Instant::now();
    let mut shown = false;
    tokio::pin!(work);
    let out = loop {
        tokio::select! {
            out = &mut work => break out,
            () = tokio::time::sleep(std::time::Duration::from_millis(250)), if show => {
                if started.elapsed() >= std::time::Duration::from_secs(1) {
                    let calls = pending.snapshot();
                    eprint!("\r\x1b[2Kpreflight: {:.0}s, waiting for {}", started.elapsed().as_secs_f32(), if calls.is_empty() { "the checks".into() } else { calls.join(", ") });
                    shown = true;
                }
            }
        }
    };
    if shown {
        eprint!("\r\x1b[2K");
    }
    out
}

fn simulate(path: &std::path::Path, format: Format) -> ExitCode {
    use preflight::simulate::{Scenario, outcome_json, split_input};
    let text = if path.as_os_str() == "-" {
        let mut s = String::new();
        std::io::Read::read_to_string(&mut std::io::stdin(), &mut s).map(|_| s)
    } else {
        std::fs::read_to_string(path)
    };
    let text = match text {
        Ok(t) => t,
        Err(e) => {
            eprintln!("error: cannot read scenario file `{}`: {e}", path.display());
            return ExitCode::from(2);
        }
    };
    let values = match split_input(&text) {
        Ok(v) => v,
        Err(e) => {
            eprintln!("error: `{}`: {e}", path.display());
            return ExitCode::from(2);
        }
    };
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    let mut bad = false;
    for (i, v) in values.into_iter().enumerate() {
        let line = match Scenario::from_value(v) {
            Ok(s) => {
                let o = s.decide();
                match format {
                    Format::Json => outcome_json(&o).to_string(),
                    Format::Text => s.explain(&o),
                }
            }
            Err(e) => {
                bad = true;
                match format {
                    Format::Json => serde_json::json!({"invalid": format!("scenario {}: {e}", i + 1)}).to_string(),
                    Format::Text => format!("invalid: scenario {}: {e}", i + 1),
                }
            }
        };
        if writeln!(out, "{line}").is_err() {
            return ExitCode::from(2);
        }
    }
    if out.flush().is_err() || bad { ExitCode::from(2) } else { ExitCode::SUCCESS }
}

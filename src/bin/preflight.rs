//! `preflight`: the command-line surface. Parses arguments, loads the SDK configuration once, runs
//! the library and prints the report. Exit status: 0 pass, 1 fail, 2 bad input or could not run.

use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};
use std::collections::BTreeMap;

use preflight::arn::{PrincipalArn, partition_of_region};
use preflight::aws::{AwsFacts, CloudFormationReads, Connection, StsReads, load_config};
use preflight::fetch::Pending;
use preflight::spec::OnUnknown;
use preflight::spec::SpecError;
use preflight::stack::template::MAX_TEMPLATE_BYTES;
use preflight::stack::{self, Execution, StackEnv, Template, assembly};
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
        /// The spec: YAML or JSON (see docs/spec.md for the keys). With --template, its items are
        /// checked besides the inferred ones.
        #[arg(long, value_name = "FILE", required_unless_present_any = ["template", "cdk_out"])]
        spec: Option<PathBuf>,
        #[command(flatten)]
        stack: StackArgs,
        /// What an undecidable check does to the verdict (Options.OnUnknown of a spec).
        #[arg(long, value_enum)]
        on_unknown: Option<OnUnknownArg>,
        /// Where the delegation walk starts: IP[:PORT],... (Options.DnsRootServers of a spec;
        /// default: the IANA root servers).
        #[arg(long, value_name = "IP[:PORT],...", env = "PREFLIGHT_DNS_ROOT_SERVERS")]
        dns_root_servers: Option<String>,
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
    /// Print what would be checked for a CloudFormation template, and why, without calling AWS.
    ///
    /// The spec inferred from the template (every item with the resource and property it came
    /// from) and what cannot be judged before the stack exists. Exit status: 0 when the template
    /// was read, 2 when it was not.
    Infer {
        #[command(flatten)]
        stack: StackArgs,
        /// The account the stack deploys to (resolves AWS::AccountId).
        #[arg(long, value_name = "ACCOUNT")]
        account: Option<String>,
        /// The region the stack deploys to (resolves AWS::Region and the partition).
        #[arg(long, value_name = "REGION")]
        region: Option<String>,
        /// How to print it.
        #[arg(long, value_enum, default_value_t = InferFormat::Yaml)]
        format: InferFormat,
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

/// A CloudFormation template to infer checks from.
#[derive(clap::Args)]
struct StackArgs {
    /// A CloudFormation template (JSON or YAML, short-form tags included).
    #[arg(long, value_name = "FILE", conflicts_with = "cdk_out")]
    template: Option<PathBuf>,
    /// A CDK cloud assembly (`cdk synth`'s output folder): every stack in it, or those named by
    /// --stack, with the environment, roles and bootstrap version its manifest gives.
    #[arg(long, value_name = "DIR")]
    cdk_out: Option<PathBuf>,
    /// A stack of the cloud assembly to check (its id or name; repeatable; default: all).
    #[arg(long = "stack", value_name = "NAME", requires = "cdk_out")]
    stacks: Vec<String>,
    /// The stack's name (resolves AWS::StackName; with check, its deployed RoleARN is looked up).
    #[arg(long, value_name = "NAME")]
    stack_name: Option<String>,
    /// The role CloudFormation executes the stack as (its service role; for CDK, the cfn-exec role).
    #[arg(long, value_name = "ARN")]
    role_arn: Option<String>,
    /// A template parameter's value for this deploy (repeatable); others take their defaults.
    #[arg(long = "parameter", value_name = "KEY=VALUE")]
    parameters: Vec<String>,
}

#[derive(Clone, Copy, ValueEnum)]
enum InferFormat {
    Yaml,
    Json,
}

#[derive(Clone, Copy, ValueEnum)]
enum OnUnknownArg {
    /// Unknowns are warnings: the run passes if nothing fails.
    Warn,
    /// An unknown fails the run.
    Fail,
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
        Command::Check { spec, stack, on_unknown, dns_root_servers, format, region, endpoint_url } => {
            let run = RunFlags { on_unknown, dns_root_servers };
            check(spec.as_deref(), &stack, &run, format, Connection { region, endpoint_url }).await
        }
        Command::Infer { stack, account, region, format } => infer(&stack, account, region, format),
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
                preflight::document::from_json(&text).map_err(|e| SpecError::Syntax {
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

/// One stack to infer checks for: its template and what is known of where and how it deploys.
struct Loaded {
    name: Option<String>,
    template: Template,
    parameters: BTreeMap<String, String>,
    account: Option<String>,
    region: Option<String>,
    /// The execution role as the cloud assembly names it (placeholders not yet filled).
    execution_role: Option<String>,
    qualifier: Option<String>,
    required_version: Option<u32>,
    /// The file assets of its asset manifests, placeholders as synthesized.
    assets: Vec<assembly::FileAsset>,
}

fn fail(message: String) -> ExitCode {
    eprintln!("error: {message}");
    ExitCode::from(2)
}

fn read_bounded(path: &std::path::Path, what: &str) -> Result<String, ExitCode> {
    use std::io::Read as _;
    // At most one byte past the limit: `/dev/zero` or a huge file never fills memory.
    let mut bytes = Vec::new();
    if let Err(e) =
        std::fs::File::open(path).and_then(|f| f.take(MAX_TEMPLATE_BYTES as u64 + 1).read_to_end(&mut bytes))
    {
        return Err(fail(format!("cannot read {what} `{}`: {e}", path.display())));
    }
    if bytes.len() > MAX_TEMPLATE_BYTES {
        return Err(fail(format!("{what} `{}` is larger than {MAX_TEMPLATE_BYTES} bytes", path.display())));
    }
    String::from_utf8(bytes).map_err(|_| fail(format!("{what} `{}` is not UTF-8 text", path.display())))
}

/// The stacks `args` names: one template, or the stacks of a cloud assembly; none without either.
fn load_stacks(args: &StackArgs) -> Result<Vec<Loaded>, ExitCode> {
    let mut given = BTreeMap::new();
    for p in &args.parameters {
        let Some((k, v)) = p.split_once('=') else {
            return Err(fail(format!("--parameter: expected KEY=VALUE, got `{p}`")));
        };
        given.insert(k.to_owned(), v.to_owned());
    }
    let parse = |path: &std::path::Path| -> Result<Template, ExitCode> {
        let text = read_bounded(path, "template")?;
        Template::parse(&text).map_err(|e| fail(format!("template `{}`: {e}", path.display())))
    };
    if let Some(path) = &args.template {
        return Ok(vec![Loaded {
            name: args.stack_name.clone(),
            template: parse(path)?,
            parameters: given,
            account: None,
            region: None,
            execution_role: None,
            qualifier: None,
            required_version: None,
            assets: vec![],
        }]);
    }
    let Some(dir) = &args.cdk_out else { return Ok(vec![]) };
    let manifest = read_bounded(&dir.join("manifest.json"), "cloud assembly manifest")?;
    let stacks = assembly::stacks(&manifest, &args.stacks).map_err(|e| fail(format!("`{}`: {e}", dir.display())))?;
    let mut out = Vec::new();
    for s in stacks {
        let mut parameters = s.parameters.clone();
        parameters.extend(given.clone());
        let mut assets = Vec::new();
        for file in &s.asset_manifests {
            let text = read_bounded(&dir.join(file), "asset manifest")?;
            let found =
                assembly::file_assets(&text).map_err(|e| fail(format!("`{}`: {e}", dir.join(file).display())))?;
            assets.extend(
                found.into_iter().map(|a| assembly::FileAsset { name: format!("{} ({})", a.name, s.stack_name), ..a }),
            );
        }
        out.push(Loaded {
            assets,
            name: Some(s.stack_name.clone()),
            template: parse(&dir.join(&s.template_file))?,
            parameters,
            qualifier: s.qualifier().map(str::to_owned),
            account: s.account,
            region: s.region,
            execution_role: s.execution_role,
            required_version: s.required_bootstrap_version,
        });
    }
    Ok(out)
}

fn role_arn(args: &StackArgs) -> Result<Option<PrincipalArn>, ExitCode> {
    match &args.role_arn {
        None => Ok(None),
        Some(text) => PrincipalArn::parse(text).map(Some).map_err(|e| fail(format!("--role-arn: {e}"))),
    }
}

/// Where a stack deploys and as whom, as far as known.
struct Target {
    account: Option<String>,
    region: Option<String>,
    execution: Option<Execution>,
}

/// The environment and execution identity of `stack`: the assembly's, else what is given.
fn target(stack: &Loaded, account: Option<&str>, region: Option<&str>, role: Option<&PrincipalArn>) -> Target {
    let account = stack.account.clone().or_else(|| account.map(str::to_owned));
    let region = stack.region.clone().or_else(|| region.map(str::to_owned));
    let execution = match (role, &stack.execution_role, &account, &region) {
        (Some(p), _, _, _) => Some(Execution { principal: p.clone(), basis: "--role-arn".into() }),
        (None, Some(arn), Some(a), Some(r)) => {
            PrincipalArn::parse(&assembly::substitute(arn, partition_of_region(r), a, r)).ok().map(|principal| {
                Execution { principal, basis: "the cloud assembly's cloudFormationExecutionRoleArn".into() }
            })
        }
        _ => None,
    };
    Target { account, region, execution }
}

fn infer_one(stack: &Loaded, target: &Target) -> stack::Inferred {
    let env = StackEnv {
        account: target.account.clone(),
        partition: target.region.as_deref().map(|r| partition_of_region(r).to_owned()),
        region: target.region.clone(),
        stack_name: stack.name.clone(),
        parameters: stack.parameters.clone(),
    };
    let mut found = stack::infer(&stack.template, &env, target.execution.as_ref());
    found.stack = stack.name.clone();
    found
}

/// The bootstrap environment the assembly's stacks deploy through, with the highest version they
/// need; the first qualifier when they use several (the spec holds one environment).
fn bootstrap_of(stacks: &[Loaded], account: Option<&str>, region: Option<&str>) -> Option<preflight::spec::Bootstrap> {
    let q = stacks.iter().find_map(|s| s.qualifier.clone())?;
    let required =
        stacks.iter().filter(|s| s.qualifier.as_deref() == Some(q.as_str())).filter_map(|s| s.required_version).max();
    // The CLI fills in the target environment's placeholders (aws-cdk-cli, `placeholders.ts`);
    // a stack of another environment publishes elsewhere and is not this environment's.
    let assets = match (account, region) {
        (Some(account), Some(region)) => stacks
            .iter()
            .filter(|s| s.qualifier.as_deref() == Some(q.as_str()))
            .filter(|s| {
                s.account.as_deref().is_none_or(|a| a == account) && s.region.as_deref().is_none_or(|r| r == region)
            })
            .flat_map(|s| s.assets.iter())
            .map(|a| {
                let fill = |t: &str| assembly::substitute(t, partition_of_region(region), account, region);
                preflight::spec::Asset {
                    name: a.name.clone(),
                    bucket: fill(&a.bucket),
                    object_key: fill(&a.object_key),
                    role: a.role.as_deref().and_then(|r| PrincipalArn::parse(&fill(r)).ok()),
                }
            })
            .collect(),
        _ => vec![],
    };
    Some(preflight::spec::Bootstrap {
        qualifier: q,
        toolkit_stack_name: "CDKToolkit".into(),
        trusted_accounts: vec![],
        readers: vec![],
        required_version: required,
        assets,
    })
}

/// The roles the stacks create that read the assets bucket at run time, as the bootstrap check's
/// readers.
fn add_readers(b: &mut preflight::spec::Bootstrap, inferred: &[stack::Inferred]) {
    for r in inferred.iter().flat_map(|i| i.bootstrap_readers.iter()) {
        if !b.readers.contains(r) {
            b.readers.push(r.clone());
        }
    }
}

fn infer(args: &StackArgs, account: Option<String>, region: Option<String>, format: InferFormat) -> ExitCode {
    let stacks = match load_stacks(args) {
        Ok(s) if s.is_empty() => return fail("infer needs --template FILE or --cdk-out DIR".into()),
        Ok(s) => s,
        Err(code) => return code,
    };
    let Ok(role) = role_arn(args) else { return ExitCode::from(2) };
    let found: Vec<stack::Inferred> =
        stacks.iter().map(|s| infer_one(s, &target(s, account.as_deref(), region.as_deref(), role.as_ref()))).collect();
    let value = if args.cdk_out.is_some() {
        let bootstrap = bootstrap_of(&stacks, account.as_deref(), region.as_deref()).and_then(|mut b| {
            add_readers(&mut b, &found);
            let spec = preflight::Spec { bootstrap: Some(b), ..preflight::Spec::default() };
            spec.to_value().get("Bootstrap").cloned()
        });
        serde_json::json!({
            "stacks": found.iter().map(stack::Inferred::to_value).collect::<Vec<_>>(),
            "bootstrap": bootstrap,
        })
    } else {
        found.first().map(stack::Inferred::to_value).unwrap_or_default()
    };
    let text = match format {
        InferFormat::Json => format!("{value:#}\n"),
        InferFormat::Yaml => stack::to_yaml(&value),
    };
    let mut out = std::io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(_) => ExitCode::from(2),
    }
}

/// The run options given as flags (they win over a spec's `Options`).
struct RunFlags {
    on_unknown: Option<OnUnknownArg>,
    dns_root_servers: Option<String>,
}

async fn check(
    path: Option<&std::path::Path>,
    args: &StackArgs,
    flags: &RunFlags,
    format: Format,
    connection: Connection,
) -> ExitCode {
    let mut spec = match path {
        Some(path) => match read_spec(path, false) {
            Ok(spec) => spec,
            Err(code) => return code,
        },
        None => Spec::default(),
    };
    let stacks = match load_stacks(args) {
        Ok(s) => s,
        Err(code) => return code,
    };
    let Ok(role) = role_arn(args) else { return ExitCode::from(2) };
    match flags.on_unknown {
        Some(OnUnknownArg::Warn) => spec.options.on_unknown = OnUnknown::Warn,
        Some(OnUnknownArg::Fail) => spec.options.on_unknown = OnUnknown::Fail,
        None => {}
    }
    if let Some(list) = &flags.dns_root_servers {
        let mut roots = Vec::new();
        for item in list.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            match preflight::spec::parse_dns_server(item) {
                Ok(s) => roots.push(s),
                Err(e) => return fail(format!("--dns-root-servers: {e}")),
            }
        }
        spec.options.dns_root_servers = roots;
    }
    if spec.is_empty() && stacks.is_empty() {
        return fail(format!(
            "the spec `{}` has nothing to check: give Bootstrap, Parameters, Secrets, Keys, KeyPolicies or HostedZone, or check a stack with --template or --cdk-out",
            path.map(|p| p.display().to_string()).unwrap_or_default()
        ));
    }
    let config = match load_config(&connection).await {
        Ok(c) => c,
        Err(why) => return fail(why),
    };
    let Some(region) = config.region().map(ToString::to_string) else {
        return fail("no AWS region: pass --region or set AWS_REGION".into());
    };
    let source = AwsFacts::new(&config);
    let pending = Pending::default();
    let mut inferred = Vec::new();
    let mut known_identity = None;
    if !stacks.is_empty() {
        // The account and partition come from the identity; the execution identity from
        // --role-arn, the cloud assembly, the deployed stack's service role, else the caller.
        let identity = match source.caller_identity().await {
            Ok(i) => i,
            Err(e) => return fail(format!("could not identify the account to infer the stacks' checks for: {e}")),
        };
        let caller = PrincipalArn::parse(&identity.arn).ok();
        for s in &stacks {
            let mut t = target(s, Some(&identity.account), Some(&region), role.as_ref());
            if t.account.as_deref() != Some(identity.account.as_str()) || t.region.as_deref() != Some(region.as_str()) {
                eprintln!(
                    "warning: stack {} deploys to aws://{}/{}, but Preflight runs in aws://{}/{region}: its checks read this account",
                    s.name.as_deref().unwrap_or("?"),
                    t.account.as_deref().unwrap_or("?"),
                    t.region.as_deref().unwrap_or("?"),
                    identity.account
                );
            }
            if t.execution.is_none() {
                let deployed = match &s.name {
                    Some(name) => match source.stack(name).await {
                        Ok(Some(info)) => info.role_arn.and_then(|r| PrincipalArn::parse(&r).ok()),
                        Ok(None) => None,
                        Err(e) => {
                            eprintln!(
                                "warning: the stack `{name}` was not read ({e}); its execution identity is taken to be the caller"
                            );
                            None
                        }
                    },
                    None => None,
                };
                t.execution = match (deployed, &caller) {
                    (Some(p), _) => Some(Execution { principal: p, basis: "the deployed stack's RoleARN".into() }),
                    (None, Some(p)) => Some(Execution {
                        principal: p.clone(),
                        basis: "the caller: the stack has no service role".into(),
                    }),
                    (None, None) => None,
                };
            }
            let mut found = infer_one(s, &t);
            spec = found.merge_into(spec);
            inferred.push(found);
        }
        if spec.bootstrap.is_none() {
            spec.bootstrap = bootstrap_of(&stacks, Some(&identity.account), Some(&region));
        }
        if let Some(b) = spec.bootstrap.as_mut() {
            add_readers(b, &inferred);
        }
        known_identity = Some(identity);
    }
    let planned = stack::planned::Planned {
        roles: inferred.iter().flat_map(|i| i.planned.iter().cloned()).collect(),
        keys: inferred.iter().flat_map(|i| i.planned_keys.iter().cloned()).collect(),
    };
    let report =
        with_progress(preflight::run_planned_as(&spec, &planned, &source, &pending, known_identity), &pending).await;
    let report = if inferred.is_empty() {
        report
    } else {
        let mut findings = report.findings;
        for found in &inferred {
            found.annotate(&mut findings);
            findings.extend(found.gap_findings());
        }
        let mut r = preflight::Report::new(findings, report.on_unknown);
        r.account = report.account;
        r.region = report.region;
        r
    };
    print_report(&report, format)
}

fn print_report(report: &preflight::Report, format: Format) -> ExitCode {
    if let Some(why) = &report.blocked {
        // Nothing was looked at: no report that could be read as a pass.
        return fail(format!(
            "Preflight could not run: {why}; give it credentials (AWS_PROFILE, or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or a role) and a region (--region or AWS_REGION)"
        ));
    }
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

/// The largest scenario file `simulate` reads: tens of thousands of scenarios, within a few hundred
/// MiB of memory once parsed (scripts/bounds.py).
const MAX_SCENARIO_BYTES: usize = 16 * 1024 * 1024;

fn simulate(path: &std::path::Path, format: Format) -> ExitCode {
    use preflight::simulate::{Scenario, outcome_json, split_input};
    use std::io::Read as _;
    // At most one byte past the limit, from a file or standard input: `/dev/zero` never fills
    // memory (it did: 23 GiB before the kernel stopped it).
    let mut bytes = Vec::new();
    let read = if path.as_os_str() == "-" {
        std::io::stdin().lock().take(MAX_SCENARIO_BYTES as u64 + 1).read_to_end(&mut bytes)
    } else {
        std::fs::File::open(path).and_then(|f| f.take(MAX_SCENARIO_BYTES as u64 + 1).read_to_end(&mut bytes))
    };
    if let Err(e) = read {
        return fail(format!("cannot read scenario file `{}`: {e}", path.display()));
    }
    if bytes.len() > MAX_SCENARIO_BYTES {
        return fail(format!(
            "scenario file `{}` is larger than {MAX_SCENARIO_BYTES} bytes; split it into smaller files",
            path.display()
        ));
    }
    let Ok(text) = String::from_utf8(bytes) else {
        return fail(format!("scenario file `{}` is not UTF-8 text", path.display()));
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

//! `portcullis serve`: the authorization server for nginx, Caddy, Traefik, Envoy and Istio.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Args, ValueEnum};
use portcullis::gate::Gate;
use portcullis::serve::{ClientAddress, EnvoyPrefix, Forwarders, Server};
use tokio::sync::watch;

/// The arguments of `portcullis serve`.
#[derive(Args)]
pub struct ServeArgs {
    /// The policy file (.toml, .json, .yaml); reloaded on SIGHUP and when it changes.
    policy: PathBuf,
    /// The HTTP address: forward-auth at /check, Envoy's HTTP service, /healthz, /readyz,
    /// /metrics.
    #[arg(long, value_name = "ADDR")]
    listen: SocketAddr,
    /// The gRPC address for Envoy's ext_authz (envoy.service.auth.v3.Authorization).
    #[arg(long, value_name = "ADDR")]
    grpc: Option<SocketAddr>,
    /// The peers allowed to state original requests: addresses and networks, comma-separated.
    #[arg(long, value_name = "CIDR,...", default_value = "127.0.0.0/8,::1")]
    forwarders: Forwarders,
    /// Where the forwarders put the client address they saw.
    #[arg(long, value_name = "HEADER", default_value = "x-forwarded-for")]
    client_address: ClientAddress,
    /// The path prefix of Envoy's HTTP ext_authz checks (Envoy's `path_prefix`).
    #[arg(long, value_name = "PATH", default_value = "/envoy")]
    envoy_prefix: EnvoyPrefix,
    /// Answer refusals with application/problem+json bodies.
    #[arg(long)]
    problem_json: bool,
    /// Tell refused clients the name of the rule (off: it goes to the logs only).
    #[arg(long)]
    expose_rule: bool,
    /// Do not reload when the policy file changes (SIGHUP still reloads).
    #[arg(long)]
    no_watch: bool,
    /// The log format on standard error.
    #[arg(long, value_enum, default_value = "text")]
    log_format: LogFormat,
    /// The most verbose level logged (error, warn, info, debug, trace).
    #[arg(long, default_value = "info")]
    log_level: tracing::Level,
    /// Worker threads answering checks [default: half the cores this process may use, at
    /// least one, leaving the rest to the proxy beside it].
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u16).range(1..))]
    threads: Option<u16>,
}

/// Half the cores this process may use (its CPU quota included), at least one: the proxy
/// that asks is most often on the same machine, and on two cores one thread answers checks
/// both faster and more of them than two that contend with it.
fn default_threads() -> usize {
    std::thread::available_parallelism().map_or(1, |n| (n.get() / 2).max(1))
}

#[derive(Clone, Copy, ValueEnum)]
enum LogFormat {
    Text,
    Json,
}

/// Runs the server until SIGTERM or SIGINT; 2 when the policy or an address is unusable.
pub fn run(args: ServeArgs) -> ExitCode {
    init_logs(args.log_format, args.log_level);
    let gate = match Gate::builder_from_path(&args.policy) {
        Ok(b) => b
            .problem_json(args.problem_json)
            .expose_rule(args.expose_rule)
            .build(),
        Err(e) => {
            tracing::error!(target: "portcullis::serve", "cannot load the policy: {e}");
            return ExitCode::from(2);
        }
    };
    let metrics = match metrics_exporter_prometheus::PrometheusBuilder::new().install_recorder() {
        Ok(handle) => Some(handle),
        Err(e) => {
            tracing::warn!(target: "portcullis::serve", "metrics are off: {e}");
            None
        }
    };
    let mut builder = Server::builder(gate)
        .forwarders(args.forwarders)
        .client_address(args.client_address)
        .envoy_prefix(args.envoy_prefix);
    if let Some(handle) = metrics.clone() {
        builder = builder.metrics(handle);
    }
    let server = builder.build();
    let threads = args.threads.map_or_else(default_threads, usize::from);
    // One thread answers on the thread that accepts: no hand-over between threads per check.
    let mut runtime = if threads == 1 {
        tokio::runtime::Builder::new_current_thread()
    } else {
        let mut b = tokio::runtime::Builder::new_multi_thread();
        b.worker_threads(threads);
        b
    };
    let runtime = match runtime.enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            tracing::error!(target: "portcullis::serve", "cannot start the runtime: {e}");
            return ExitCode::from(1);
        }
    };
    let _watcher = if args.no_watch {
        None
    } else {
        match server.gate().watch(Duration::from_millis(250)) {
            Ok(w) => Some(w),
            Err(e) => {
                tracing::warn!(target: "portcullis::serve", "not watching the policy file: {e}");
                None
            }
        }
    };
    runtime.block_on(serve(server, args.listen, args.grpc, metrics))
}

async fn serve(
    server: Server,
    listen: SocketAddr,
    grpc: Option<SocketAddr>,
    metrics: Option<metrics_exporter_prometheus::PrometheusHandle>,
) -> ExitCode {
    let http_listener = match tokio::net::TcpListener::bind(listen).await {
        Ok(l) => l,
        Err(e) => {
            tracing::error!(target: "portcullis::serve", "cannot listen on {listen}: {e}");
            return ExitCode::from(2);
        }
    };
    let grpc_listener = match grpc {
        Some(addr) => match tokio::net::TcpListener::bind(addr).await {
            Ok(l) => Some(l),
            Err(e) => {
                tracing::error!(target: "portcullis::serve", "cannot listen on {addr}: {e}");
                return ExitCode::from(2);
            }
        },
        None => None,
    };
    // The bound addresses, on standard output: with port 0 this is how callers learn them.
    if let Ok(addr) = http_listener.local_addr() {
        println!("listening http {addr}");
    }
    if let Some(addr) = grpc_listener.as_ref().and_then(|l| l.local_addr().ok()) {
        println!("listening grpc {addr}");
    }
    tracing::info!(target: "portcullis::serve", policy = ?server.gate().path(), "serving");

    let (stop_tx, stop_rx) = watch::channel(false);
    tokio::spawn(signals(server.clone(), stop_tx));
    if let Some(handle) = metrics {
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(Duration::from_secs(5)).await;
                handle.run_upkeep();
            }
        });
    }
    let stopped = |mut rx: watch::Receiver<bool>| async move {
        let _ = rx.wait_for(|stop| *stop).await;
    };
    let http = server.serve_http(http_listener, stopped(stop_rx.clone()));
    let result = match grpc_listener {
        Some(l) => {
            let grpc = server.serve_grpc(l, stopped(stop_rx));
            match tokio::join!(http, grpc) {
                (Err(e), _) => Err(e.to_string()),
                (_, Err(e)) => Err(e.to_string()),
                _ => Ok(()),
            }
        }
        None => http.await.map_err(|e| e.to_string()),
    };
    match result {
        Ok(()) => {
            tracing::info!(target: "portcullis::serve", "stopped");
            ExitCode::SUCCESS
        }
        Err(e) => {
            tracing::error!(target: "portcullis::serve", "server failed: {e}");
            ExitCode::from(1)
        }
    }
}

/// SIGHUP reloads the policy (a failed reload keeps the old one); SIGTERM and SIGINT drain
/// and stop.
async fn signals(server: Server, stop: watch::Sender<bool>) {
    use tokio::signal::unix::{signal, SignalKind};
    let (Ok(mut hup), Ok(mut term), Ok(mut int)) = (
        signal(SignalKind::hangup()),
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
    ) else {
        tracing::error!(target: "portcullis::serve", "cannot install signal handlers");
        return;
    };
    loop {
        tokio::select! {
            _ = hup.recv() => {
                let path = server.gate().path().map(|p| p.display().to_string()).unwrap_or_default();
                // Compiling a policy can take a while (long lists): not on a thread that
                // answers checks, which go on with the old policy meanwhile.
                let gate = server.gate().clone();
                match tokio::task::spawn_blocking(move || gate.reload()).await {
                    Ok(Ok(())) => tracing::info!(target: "portcullis::serve", path, "policy reloaded (SIGHUP)"),
                    Ok(Err(e)) => tracing::error!(target: "portcullis::serve", path, "policy reload failed, keeping the old policy: {e}"),
                    Err(e) => tracing::error!(target: "portcullis::serve", path, "policy reload stopped, keeping the old policy: {e}"),
                }
            }
            _ = term.recv() => break,
            _ = int.recv() => break,
        }
    }
    tracing::info!(target: "portcullis::serve", "shutting down: finishing the checks in flight");
    server.drain();
    let _ = stop.send(true);
}

fn init_logs(format: LogFormat, level: tracing::Level) {
    let builder = tracing_subscriber::fmt()
        .with_max_level(level)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()));
    let _ = match format {
        LogFormat::Text => builder.try_init(),
        LogFormat::Json => builder.json().try_init(),
    };
}

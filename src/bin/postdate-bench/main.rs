//! Benchmark: drives a running Postdate over HTTP with its own lean receiver and reports throughput,
//! timeliness and the server's peak memory. Speed is measured here, never asserted in tests.
//!
//!   postdate-bench --url http://127.0.0.1:8080 --token T throughput --seconds 60 --batch-size 100
//!   postdate-bench --url http://127.0.0.1:8080 --token T publish --messages 300000 --batch-size 100
//!   postdate-bench --url http://127.0.0.1:8080 --token T failing --seconds 60 --response-bytes 1024
//!   postdate-bench --url http://127.0.0.1:8080 --token T lateness --rate 1000 --seconds 60 --delay 2s
//!   postdate-bench --url http://127.0.0.1:8080 --token T cron --schedules 10000 --minutes 3
//!   postdate-bench --url http://127.0.0.1:8080 --token T --server-pid PID memory
//!   postdate-bench --url http://127.0.0.1:8080 --token T hanging-neighbour --hanging 1000 --rate 1000 --seconds 60
//!   postdate-bench --url http://127.0.0.1:8080 --token T --server-pid PID slow-receiver --pause 200ms
//!   postdate-bench --url http://127.0.0.1:8080 --token T many-destinations --hosts 1000 --rate 5000
//!   postdate-bench --url http://127.0.0.1:8080 --token T console --seed 1000000 --seconds 60

mod client;
mod console;
mod isolation;
mod memory;
mod receiver;
mod throughput;
mod timeliness;

use std::sync::Arc;

use clap::{Parser, Subcommand};
use serde_json::Value;

#[derive(Parser)]
#[command(about = "Measures a running Postdate: publish and delivery throughput, lateness, cron, memory")]
struct Args {
    /// Base URL of the Postdate under test.
    #[arg(long, env = "QSTASH_URL", default_value = "http://127.0.0.1:8080")]
    url: String,
    /// Its token.
    #[arg(long, env = "QSTASH_TOKEN", hide_env_values = true)]
    token: String,
    /// Write the results as JSON to this file too.
    #[arg(long)]
    json: Option<std::path::PathBuf>,
    /// Process id of the server: its peak and current resident memory are reported after the run.
    #[arg(long)]
    server_pid: Option<u32>,
    /// Scrape the server's /metrics once a second during the run, as Prometheus would (measures the cost
    /// of being monitored).
    #[arg(long)]
    scrape_metrics: bool,
    #[command(subcommand)]
    run: Run,
}

#[derive(Subcommand)]
enum Run {
    /// Publishes `messages` messages as fast as `clients` clients can; with `--delay 300d` nothing is
    /// delivered, so it measures accepting alone (and preloads a backlog).
    Publish {
        #[arg(long, default_value_t = 100_000)]
        messages: u64,
        #[arg(long, default_value_t = 32)]
        clients: u64,
        /// Messages per request: 1 publishes each on its own, more goes through `/v2/batch`.
        #[arg(long, default_value_t = 1)]
        batch_size: u64,
        /// Delay of every message, e.g. 300d.
        #[arg(long)]
        delay: Option<String>,
    },
    /// Sustained end-to-end delivery throughput: publish → 2xx at the receiver, for `seconds` after a 5 s
    /// warm-up, with at most `window` messages published but not yet delivered.
    Throughput {
        #[arg(long, default_value_t = 60)]
        seconds: u64,
        #[arg(long, default_value_t = 32)]
        clients: u64,
        #[arg(long, default_value_t = 1)]
        batch_size: u64,
        #[arg(long, default_value_t = 20_000)]
        window: u64,
    },
    /// The failing path: the throughput run against a receiver answering `status` with a body of
    /// `response_bytes`, every message with `Upstash-Retries: 0`, so each attempt fails and dead-letters
    /// (ERROR and FAILED log entries with the response, a DLQ entry); reports failed attempts per second.
    Failing {
        #[arg(long, default_value_t = 60)]
        seconds: u64,
        #[arg(long, default_value_t = 32)]
        clients: u64,
        #[arg(long, default_value_t = 1)]
        batch_size: u64,
        #[arg(long, default_value_t = 20_000)]
        window: u64,
        #[arg(long, default_value_t = 500)]
        status: u16,
        #[arg(long, default_value_t = 1_024)]
        response_bytes: usize,
    },
    /// Publishes delayed messages at a steady rate and measures arrival minus due time.
    Lateness {
        #[arg(long, default_value_t = 1_000)]
        rate: u64,
        #[arg(long, default_value_t = 30)]
        seconds: u64,
        /// Delay of each message, e.g. 2s.
        #[arg(long, default_value = "2s")]
        delay: String,
    },
    /// Creates schedules firing every minute and measures arrival minus slot time over a few minutes.
    Cron {
        #[arg(long, default_value_t = 1_000)]
        schedules: u64,
        #[arg(long, default_value_t = 2)]
        minutes: u64,
    },
    /// Peak server memory after the largest batch and the largest URL-group fan-out the limits admit
    /// (give `--server-pid`); the defaults are the server's default limits.
    Memory {
        #[arg(long, default_value_t = 1_000)]
        batch_items: usize,
        #[arg(long, default_value_t = 16 * 1024 * 1024)]
        batch_bytes: usize,
        #[arg(long, default_value_t = 1_000)]
        group_endpoints: usize,
        #[arg(long, default_value_t = 1024 * 1024)]
        body_bytes: usize,
    },
    /// `hanging` messages to a destination (127.0.0.2) that never answers, then the lateness run to the fast
    /// receiver (1 s delay): fast traffic must not wait for the hanging one.
    HangingNeighbour {
        #[arg(long, default_value_t = 1_000)]
        hanging: u64,
        /// Upstash-Timeout of each hanging message.
        #[arg(long, default_value = "10s")]
        hang_timeout: String,
        #[arg(long, default_value_t = 1_000)]
        rate: u64,
        #[arg(long, default_value_t = 60)]
        seconds: u64,
    },
    /// Sustained deliveries/s to a receiver answering each request after `pause`, with peak open file
    /// descriptors (give `--server-pid`).
    SlowReceiver {
        #[arg(long, default_value = "200ms", value_parser = pause)]
        pause: std::time::Duration,
        #[arg(long, default_value_t = 0)]
        body_bytes: usize,
        #[arg(long, default_value_t = 64)]
        clients: u64,
        /// Messages per publish request (more than 1 goes through `/v2/batch`).
        #[arg(long, default_value_t = 1)]
        batch_size: u64,
        #[arg(long, default_value_t = 60)]
        seconds: u64,
        /// Most messages published but not yet delivered.
        #[arg(long, default_value_t = 20_000)]
        window: u64,
    },
    /// Delayed messages spread over `hosts` receivers on loopback addresses of their own; reports the
    /// slowest host's p99 lateness against the fastest's.
    ManyDestinations {
        #[arg(long, default_value_t = 1_000)]
        hosts: u64,
        #[arg(long, default_value_t = 5_000)]
        rate: u64,
        #[arg(long, default_value_t = 60)]
        seconds: u64,
        #[arg(long, default_value = "2s")]
        delay: String,
        /// Messages per `/v2/batch` request (1: one publish per message). Batches of consecutive messages
        /// go to consecutive hosts, so every request spans many hosts.
        #[arg(long, default_value_t = 1)]
        batch_size: u64,
    },
    /// The web console: each page's time (after seeding `seed` waiting messages), then delivery throughput
    /// without and with an overview refreshing every `poll_ms`.
    Console {
        #[arg(long, default_value_t = 0)]
        seed: u64,
        #[arg(long, default_value_t = 20)]
        repeats: usize,
        /// Seconds of each throughput run; 0 skips them.
        #[arg(long, default_value_t = 60)]
        seconds: u64,
        #[arg(long, default_value_t = 1_000)]
        poll_ms: u64,
    },
}

fn pause(s: &str) -> Result<std::time::Duration, String> {
    postdate::domain::duration::parse_duration(s).map_err(|e| e.to_string())
}

/// Peak (VmHWM) and current (VmRSS) resident memory of a process, in MiB, from /proc.
fn memory_mib(pid: u32) -> Option<Value> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let field = |name: &str| -> Option<f64> {
        let line = status.lines().find(|l| l.starts_with(name))?;
        let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
        Some((kib / 1024.0 * 10.0).round() / 10.0)
    };
    Some(serde_json::json!({ "peak_rss_mib": field("VmHWM:")?, "rss_mib": field("VmRSS:")? }))
}

/// GETs /metrics once a second until aborted.
async fn scrape_every_second(client: Arc<client::Client>) {
    let mut tick = tokio::time::interval(std::time::Duration::from_secs(1));
    loop {
        tick.tick().await;
        let scrape = client
            .http
            .get(format!("{}/metrics", client.base))
            .bearer_auth(&client.token)
            .send()
            .await;
        if let Ok(response) = scrape {
            let _ = response.bytes().await;
        }
    }
}

/// One line per leaf of the result, for reading at a terminal.
fn print_table(prefix: &str, value: &Value) {
    match value {
        Value::Object(map) => {
            for (key, value) in map {
                let name = if prefix.is_empty() {
                    key.clone()
                } else {
                    format!("{prefix}.{key}")
                };
                print_table(&name, value);
            }
        }
        other => println!("{prefix:<36} {other}"),
    }
}

#[tokio::main]
async fn main() {
    let args = Args::parse();
    let (hook, seen) = receiver::start().await;
    let client = Arc::new(client::Client::new(&args.url, &args.token, &hook));
    let scrapes = args
        .scrape_metrics
        .then(|| tokio::spawn(scrape_every_second(client.clone())));
    let mut result = match args.run {
        Run::Publish {
            messages,
            clients,
            batch_size,
            delay,
        } => throughput::publish(client, messages, clients, batch_size.max(1), delay).await,
        Run::Throughput {
            seconds,
            clients,
            batch_size,
            window,
        } => throughput::sustained(client, seen, seconds, clients, batch_size.max(1), window).await,
        Run::Failing {
            seconds,
            clients,
            batch_size,
            window,
            status,
            response_bytes,
        } => {
            let (hook, seen) = receiver::start_failing(status, response_bytes).await;
            let mut failing = client.to(&hook, 0);
            failing.extra_headers.push(("Upstash-Retries".into(), "0".into()));
            let mut result =
                throughput::sustained(Arc::new(failing), seen, seconds, clients, batch_size.max(1), window).await;
            result["run"] = "failing".into();
            result["status"] = status.into();
            result["response_bytes"] = response_bytes.into();
            result
        }
        Run::Lateness { rate, seconds, delay } => timeliness::lateness(client, seen, rate, seconds, delay).await,
        Run::Cron { schedules, minutes } => timeliness::cron(client, seen, schedules, minutes).await,
        Run::Memory {
            batch_items,
            batch_bytes,
            group_endpoints,
            body_bytes,
        } => {
            memory::largest_requests(
                &client,
                args.server_pid,
                batch_items,
                batch_bytes,
                group_endpoints,
                body_bytes,
            )
            .await
        }
        Run::HangingNeighbour {
            hanging,
            hang_timeout,
            rate,
            seconds,
        } => isolation::hanging_neighbour(client, seen, hanging, hang_timeout, rate, seconds).await,
        Run::SlowReceiver {
            pause,
            body_bytes,
            clients,
            batch_size,
            seconds,
            window,
        } => {
            let publishing = isolation::Publishing {
                clients,
                batch_size: batch_size.max(1),
                window,
            };
            isolation::slow_receiver(client, args.server_pid, pause, body_bytes, seconds, publishing).await
        }
        Run::ManyDestinations {
            hosts,
            rate,
            seconds,
            delay,
            batch_size,
        } => isolation::many_destinations(client, hosts, rate, seconds, delay, batch_size.max(1)).await,
        Run::Console {
            seed,
            repeats,
            seconds,
            poll_ms,
        } => {
            let run = console::ConsoleRun {
                seed,
                repeats: repeats.max(1),
                seconds,
                poll_every: std::time::Duration::from_millis(poll_ms.max(1)),
            };
            console::run(client, seen, run).await
        }
    };
    if let Some(scraper) = scrapes {
        scraper.abort();
        result["metrics_scraped_every_second"] = Value::Bool(true);
    }
    if let Some(memory) = args.server_pid.and_then(memory_mib) {
        result["server_memory"] = memory;
    }
    print_table("", &result);
    println!("{}", serde_json::to_string(&result).unwrap());
    if let Some(path) = args.json {
        std::fs::write(path, serde_json::to_vec_pretty(&result).unwrap()).unwrap();
    }
}

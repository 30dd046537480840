//! `postdate schedules ls | add | show | pause | resume | rm`: cron schedules (spec §5).

use clap::Subcommand;
use reqwest::Method;

use super::http::Client;
use super::publish::MessageOptions;
use super::render::{absolute, clip, header_lines, now_ms, print_json, relative_opt, show, wire_name, Details, Table};
use super::{segment, CliError, Server};
use crate::wire::{Empty, Schedule, ScheduleCreated};

pub const EXAMPLES: &str = "\
Examples:
  postdate schedules ls
  postdate schedules add https://example.com/nightly --cron '0 4 * * *' --id nightly -d '{\"job\":\"rebuild\"}'
  postdate schedules add https://example.com/report --cron 'CRON_TZ=Europe/Paris 0 9 * * 1-5' --retries 2
  postdate schedules show nightly
  postdate schedules pause nightly
  postdate schedules resume nightly
  postdate schedules rm nightly";

#[derive(Subcommand)]
pub enum SchedulesCommand {
    /// Lists every schedule.
    #[command(after_help = "Example:\n  postdate schedules ls --json")]
    Ls,
    /// Creates a schedule, or replaces the one with the same --id; prints its id.
    #[command(
        after_help = "Example:\n  postdate schedules add https://example.com/hook --cron '*/5 * * * *' --id every-5-min"
    )]
    Add(Box<AddArgs>),
    /// Shows one schedule.
    #[command(after_help = "Example:\n  postdate schedules show nightly")]
    Show {
        /// The schedule id.
        id: String,
    },
    /// Pauses a schedule: its slots are skipped until it is resumed.
    #[command(after_help = "Example:\n  postdate schedules pause nightly")]
    Pause {
        /// The schedule id.
        id: String,
    },
    /// Resumes a paused schedule from its next slot.
    #[command(after_help = "Example:\n  postdate schedules resume nightly")]
    Resume {
        /// The schedule id.
        id: String,
    },
    /// Removes a schedule (messages it already created are not affected).
    #[command(after_help = "Example:\n  postdate schedules rm nightly")]
    Rm {
        /// The schedule id.
        id: String,
    },
}

#[derive(clap::Args)]
pub struct AddArgs {
    /// Destination: a URL or the name of a URL group.
    pub destination: String,
    /// When: five cron fields in UTC (minute hour day-of-month month day-of-week), optionally after
    /// `CRON_TZ=<zone> `.
    #[arg(long)]
    pub cron: String,
    /// The schedule's id (letters, digits, '-', '_', '.'); an existing schedule with it is replaced.
    #[arg(long)]
    pub id: Option<String>,
    /// Enqueue each message into this queue.
    #[arg(long, value_name = "NAME")]
    pub queue: Option<String>,
    #[command(flatten)]
    pub options: MessageOptions,
}

pub async fn run(command: SchedulesCommand, server: &Server) -> Result<(), CliError> {
    let client = Client::new(server)?;
    match command {
        SchedulesCommand::Ls => client.list(server.json, "/v2/schedules", table, "no schedules").await?,
        SchedulesCommand::Add(args) => {
            let AddArgs {
                destination,
                cron,
                id,
                queue,
                options,
            } = *args;
            let mut call = client
                .post(&format!("/v2/schedules/{destination}"))
                .header("Upstash-Cron", &cron);
            if let Some(id) = &id {
                call = call.header("Upstash-Schedule-Id", id);
            }
            if let Some(queue) = &queue {
                call = call.header("Upstash-Queue-Name", queue);
            }
            let created: ScheduleCreated = options.apply(call)?.send().await?;
            show(server.json, &created, |created| format!("{}\n", created.schedule_id));
        }
        SchedulesCommand::Show { id } => {
            let schedule = get(&client, &id).await?;
            show(server.json, &schedule, |schedule| details(schedule, now_ms()));
        }
        SchedulesCommand::Pause { id } => set_paused(&client, &id, "pause", server.json).await?,
        SchedulesCommand::Resume { id } => set_paused(&client, &id, "resume", server.json).await?,
        SchedulesCommand::Rm { id } => {
            let answer: Empty = client.delete(&format!("/v2/schedules/{}", segment(&id))).send().await?;
            show(server.json, &answer, |_| format!("removed schedule {id}\n"));
        }
    }
    Ok(())
}

async fn get(client: &Client, id: &str) -> Result<Schedule, CliError> {
    client.get(&format!("/v2/schedules/{}", segment(id))).send().await
}

/// Pauses or resumes (PATCH, as the SDKs do); `--json` prints the schedule as it is afterwards.
async fn set_paused(client: &Client, id: &str, action: &str, json: bool) -> Result<(), CliError> {
    client
        .call(Method::PATCH, &format!("/v2/schedules/{}/{action}", segment(id)))
        .send_raw()
        .await?;
    if json {
        print_json(&get(client, id).await?);
    } else {
        println!("{action}d schedule {id}");
    }
    Ok(())
}

fn table(schedules: &[Schedule], now: i64) -> Table {
    let mut table = Table::new(&["ID", "CRON", "DESTINATION", "NEXT", "LAST", "STATE"]);
    for s in schedules {
        table.row(vec![
            s.schedule_id.clone(),
            s.cron.clone(),
            s.destination.clone(),
            relative_opt(s.next_schedule_time, now),
            relative_opt(s.last_schedule_time, now),
            if s.is_paused { "paused" } else { "active" }.to_string(),
        ]);
    }
    table
}

fn details(s: &Schedule, now: i64) -> String {
    let last_states = s
        .last_schedule_states
        .iter()
        .map(|(id, state)| format!("{id} {}", wire_name(state)))
        .collect::<Vec<_>>();
    let mut d = Details::new();
    d.line("id", s.schedule_id.clone())
        .line("cron", s.cron.clone())
        .line("destination", s.destination.clone())
        .line("state", if s.is_paused { "paused" } else { "active" })
        .line("method", s.method.clone())
        .opt("queue", s.queue_name.clone())
        .opt("flow control", s.flow_control_key.clone())
        .opt("labels", (!s.labels.all.is_empty()).then(|| s.labels.all.join(", ")))
        .line("created", absolute(s.created_at, now))
        .opt("next", s.next_schedule_time.map(|at| absolute(at, now)))
        .opt("last", s.last_schedule_time.map(|at| absolute(at, now)))
        .opt(
            "last messages",
            (!last_states.is_empty()).then(|| last_states.join(", ")),
        )
        .line("retries", s.retries.to_string())
        .opt("retry delay", s.retry_delay_expression.clone())
        .opt("delay", s.delay.map(|secs| format!("{secs} s")))
        .opt("timeout", s.timeout.map(|secs| format!("{secs} s")))
        .opt("callback", s.callbacks.callback.clone())
        .opt("failure callback", s.callbacks.failure_callback.clone())
        .opt("header", (!s.header.is_empty()).then(|| header_lines(&s.header)))
        .opt("body", s.body.body.as_deref().map(|b| clip(b, 200)))
        .opt("body (base64)", s.body.body_base64.as_deref().map(|b| clip(b, 200)));
    d.render()
}

//! `postdate queues ls | pause | resume` (spec §7).

use clap::Subcommand;

use super::http::Client;
use super::render::{print_json, relative, Table};
use super::{segment, CliError, Server};
use crate::wire::Queue;

pub const EXAMPLES: &str = "\
Examples:
  postdate queues ls
  postdate queues pause orders
  postdate queues resume orders";

#[derive(Subcommand)]
pub enum QueuesCommand {
    /// Lists every queue with its parallelism and lag (messages not yet delivered).
    #[command(after_help = "Example:\n  postdate queues ls")]
    Ls,
    /// Pauses a queue: it keeps accepting messages and delivers none until resumed.
    #[command(after_help = "Example:\n  postdate queues pause orders")]
    Pause {
        /// The queue's name.
        name: String,
    },
    /// Resumes a paused queue from its oldest undelivered message.
    #[command(after_help = "Example:\n  postdate queues resume orders")]
    Resume {
        /// The queue's name.
        name: String,
    },
}

pub async fn run(command: QueuesCommand, server: &Server) -> Result<(), CliError> {
    let client = Client::new(server)?;
    let (name, action) = match command {
        QueuesCommand::Ls => return client.list(server.json, "/v2/queues", table, "no queues").await,
        QueuesCommand::Pause { name } => (name, "pause"),
        QueuesCommand::Resume { name } => (name, "resume"),
    };
    let path = format!("/v2/queues/{}", segment(&name));
    client.post(&format!("{path}/{action}")).send_raw().await?;
    if server.json {
        // The queue as it is afterwards.
        let queue: Queue = client.get(&path).send().await?;
        print_json(&queue);
    } else {
        println!("{action}d queue {name}");
    }
    Ok(())
}

fn table(queues: &[Queue], now: i64) -> Table {
    let mut table = Table::new(&["NAME", "PARALLELISM", "LAG", "STATE", "CREATED"]);
    for queue in queues {
        table.row(vec![
            queue.name.clone(),
            queue.parallelism.to_string(),
            queue.lag.to_string(),
            if queue.paused { "paused" } else { "active" }.to_string(),
            relative(queue.created_at, now),
        ]);
    }
    table
}

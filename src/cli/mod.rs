//! The command-line client: `postdate publish`, `messages`, `bulk-actions`, `dlq`, `schedules`, `logs`,
//! `groups`, `queues` and `keys` speak the REST API of a running Postdate (or QStash) with the SDKs' `QSTASH_URL` and
//! `QSTASH_TOKEN`, and decode its answers into the same wire structs the server serialises.

mod bulk_actions;
mod dlq;
mod filters;
mod groups;
mod http;
mod keys;
mod logs;
mod messages;
mod publish;
mod queues;
mod render;
mod schedules;
mod workflows;

use std::process::ExitCode;

use clap::{Args, Subcommand};

use crate::config::DEV_TOKEN;

/// Where `postdate dev` listens by default.
pub const DEFAULT_URL: &str = "http://127.0.0.1:8080";

/// The server to talk to and how to print its answers; accepted after any client subcommand.
#[derive(Args, Clone)]
#[command(next_help_heading = "Server")]
pub struct Server {
    /// Base URL of the Postdate (or QStash) API; by default the dev server's.
    // Its own id: `url` is a filter of several subcommands.
    #[arg(id = "server_url", long = "server", value_name = "URL", env = "QSTASH_URL", default_value = DEFAULT_URL, global = true)]
    pub url: String,
    /// Bearer token; by default the public token `postdate dev` accepts.
    #[arg(
        long,
        env = "QSTASH_TOKEN",
        default_value = DEV_TOKEN,
        hide_default_value = true,
        hide_env_values = true,
        global = true
    )]
    pub token: String,
    /// Print the API's answer as one JSON document (the wire shape of the API) instead of a table.
    #[arg(long, global = true)]
    pub json: bool,
}

/// The client subcommands, flattened into `postdate`'s own (see `config::Command`).
#[derive(Subcommand)]
pub enum ClientCommand {
    /// Publishes a message to a URL, a URL group or a queue; prints its id.
    #[command(after_help = publish::EXAMPLES)]
    Publish(publish::PublishArgs),
    /// Lists, shows and cancels messages.
    #[command(after_help = messages::EXAMPLES)]
    Messages {
        #[command(subcommand)]
        command: messages::MessagesCommand,
        #[command(flatten)]
        server: Server,
    },
    /// Lists and shows async bulk actions (`messages cancel --async`) with their progress.
    #[command(after_help = bulk_actions::EXAMPLES)]
    BulkActions {
        #[command(subcommand)]
        command: bulk_actions::BulkActionsCommand,
        #[command(flatten)]
        server: Server,
    },
    /// Lists, shows, retries and removes dead-letter-queue entries (messages whose retries ran out).
    #[command(after_help = dlq::EXAMPLES)]
    Dlq {
        #[command(subcommand)]
        command: dlq::DlqCommand,
        #[command(flatten)]
        server: Server,
    },
    /// Lists, creates, shows, pauses, resumes and removes cron schedules.
    #[command(after_help = schedules::EXAMPLES)]
    Schedules {
        #[command(subcommand)]
        command: schedules::SchedulesCommand,
        #[command(flatten)]
        server: Server,
    },
    /// Shows the log of message state changes (newest first); `--follow` keeps printing new entries.
    #[command(after_help = logs::EXAMPLES)]
    Logs(logs::LogsArgs),
    /// Lists, fills and removes URL groups (a publish to a group reaches each of its endpoints).
    #[command(after_help = groups::EXAMPLES)]
    Groups {
        #[command(subcommand)]
        command: groups::GroupsCommand,
        #[command(flatten)]
        server: Server,
    },
    /// Lists, pauses and resumes queues.
    #[command(after_help = queues::EXAMPLES)]
    Queues {
        #[command(subcommand)]
        command: queues::QueuesCommand,
        #[command(flatten)]
        server: Server,
    },
    /// Lists, shows and cancels Upstash Workflow runs.
    #[command(after_help = workflows::EXAMPLES)]
    Workflows {
        #[command(subcommand)]
        command: workflows::WorkflowsCommand,
        #[command(flatten)]
        server: Server,
    },
    /// Shows the signing keys receivers verify `Upstash-Signature` with; `--rotate` rotates them.
    #[command(after_help = keys::EXAMPLES)]
    Keys(keys::KeysArgs),
}

/// Why a client command failed; each kind has its exit code.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    /// The server answered with an error status: its `error` message.
    #[error("{message} (HTTP {status})")]
    Api { status: u16, message: String },
    /// The server could not be reached, or answered something that is not the API.
    #[error("{0}")]
    Transport(String),
    /// The command line asks for something impossible (found after clap's own checks).
    #[error("{0}")]
    Usage(String),
}

impl CliError {
    /// 1 for errors of the server or the network, 2 for usage errors (as clap's own).
    pub fn exit_code(&self) -> ExitCode {
        match self {
            CliError::Api { .. } | CliError::Transport(_) => ExitCode::from(1),
            CliError::Usage(_) => ExitCode::from(2),
        }
    }
}

/// Runs one client command; the error message goes to stderr, the answer to stdout.
pub async fn run(command: ClientCommand) -> ExitCode {
    let result = match command {
        ClientCommand::Publish(args) => publish::run(args).await,
        ClientCommand::Messages { command, server } => messages::run(command, &server).await,
        ClientCommand::BulkActions { command, server } => bulk_actions::run(command, &server).await,
        ClientCommand::Dlq { command, server } => dlq::run(command, &server).await,
        ClientCommand::Schedules { command, server } => schedules::run(command, &server).await,
        ClientCommand::Logs(args) => logs::run(args).await,
        ClientCommand::Groups { command, server } => groups::run(command, &server).await,
        ClientCommand::Queues { command, server } => queues::run(command, &server).await,
        ClientCommand::Keys(args) => keys::run(args).await,
        ClientCommand::Workflows { command, server } => workflows::run(command, &server).await,
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("postdate: {error}");
            error.exit_code()
        }
    }
}

/// Everything but the unreserved characters of RFC 3986, which ids and names are made of.
const SEGMENT: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

/// Percent-encodes one path segment (an id or a name typed by the user).
fn segment(value: &str) -> String {
    percent_encoding::utf8_percent_encode(value, SEGMENT).to_string()
}

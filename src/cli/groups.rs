//! `postdate groups ls | add | rm`: URL groups, "topics" on the wire (spec §6).

use clap::Subcommand;

use super::http::Client;
use super::render::{now_ms, relative, show, Table};
use super::{segment, CliError, Server};
use crate::wire::{Empty, EndpointRequest, EndpointsBody, UrlGroup};

pub const EXAMPLES: &str = "\
Examples:
  postdate groups ls
  postdate groups add orders https://svc-a.example/hook https://svc-b.example/hook
  postdate publish orders -d 'reaches both endpoints'
  postdate groups rm orders https://svc-b.example/hook
  postdate groups rm orders";

#[derive(Subcommand)]
pub enum GroupsCommand {
    /// Lists every URL group and its endpoints.
    #[command(after_help = "Example:\n  postdate groups ls")]
    Ls,
    /// Adds endpoints to a group, creating the group if it is missing.
    #[command(
        after_help = "Example:\n  postdate groups add orders https://svc-a.example/hook https://svc-b.example/hook"
    )]
    Add {
        /// The group's name (letters, digits, '-', '_', '.').
        name: String,
        /// Endpoint URLs.
        #[arg(required = true)]
        urls: Vec<String>,
    },
    /// Removes a whole group, or only the endpoints given (by URL or endpoint name); a group left without
    /// endpoints is removed.
    #[command(
        after_help = "Examples:\n  postdate groups rm orders https://svc-b.example/hook\n  postdate groups rm orders"
    )]
    Rm {
        /// The group's name.
        name: String,
        /// Endpoints to remove, by URL or by endpoint name; none removes the group.
        endpoints: Vec<String>,
    },
}

pub async fn run(command: GroupsCommand, server: &Server) -> Result<(), CliError> {
    let client = Client::new(server)?;
    match command {
        GroupsCommand::Ls => client.list(server.json, "/v2/topics", table, "no URL groups").await?,
        GroupsCommand::Add { name, urls } => {
            let endpoints = urls.iter().map(EndpointRequest::url).collect();
            let path = format!("/v2/topics/{}", segment(&name));
            client
                .post(&format!("{path}/endpoints"))
                .json(&EndpointsBody { endpoints })
                .send_raw()
                .await?;
            // The group as it is now, with the endpoints it had before.
            let group: UrlGroup = client.get(&path).send().await?;
            show(server.json, &group, |group| {
                table(std::slice::from_ref(group), now_ms()).render()
            });
        }
        GroupsCommand::Rm { name, endpoints } => {
            let path = format!("/v2/topics/{}", segment(&name));
            let answer: Empty = if endpoints.is_empty() {
                client.delete(&path).send().await?
            } else {
                let named = endpoints.iter().map(|e| endpoint_ref(e)).collect();
                client
                    .delete(&format!("{path}/endpoints"))
                    .json(&EndpointsBody { endpoints: named })
                    .send()
                    .await?
            };
            show(server.json, &answer, |_| match endpoints.len() {
                0 => format!("removed URL group {name}\n"),
                n => format!("removed {n} endpoint(s) from URL group {name}\n"),
            });
        }
    }
    Ok(())
}

/// An endpoint by URL when it looks like one (it has a scheme), by name otherwise.
fn endpoint_ref(endpoint: &str) -> EndpointRequest {
    if endpoint.contains("://") {
        EndpointRequest::url(endpoint)
    } else {
        EndpointRequest::name(endpoint)
    }
}

fn table(groups: &[UrlGroup], now: i64) -> Table {
    let mut table = Table::new(&["NAME", "ENDPOINTS", "UPDATED"]);
    for group in groups {
        let endpoints: Vec<String> = group
            .endpoints
            .iter()
            .map(|e| match &e.name {
                Some(name) => format!("{name}={}", e.url),
                None => e.url.clone(),
            })
            .collect();
        table.row(vec![
            group.name.clone(),
            endpoints.join(" "),
            relative(group.updated_at, now),
        ]);
    }
    table
}

//! The overview: messages by state, the DLQ's size and the age of the oldest due message (the store's
//! bounded counts, cached for two seconds), deliveries and failures per minute over the last hour (this
//! instance's counters, drawn as SVG bars), and the next schedules to fire. The live part refreshes itself.

use std::sync::Arc;

use axum::extract::{Query, State};
use axum::Extension;
use maud::{html, Markup};
use serde::Deserialize;

use super::client::{self, encode};
use super::layout::{self, page, Refusal};
use super::{Console, Session};
use crate::state::AppState;
use crate::throughput::MinuteCounts;

/// Seconds between refreshes of the live part.
const REFRESH_SECS: u32 = 5;

#[derive(Deserialize)]
pub(super) struct OverviewQuery {
    /// Only the live part (the script's refresh, `?live=1`).
    #[serde(default)]
    live: Option<String>,
}

pub(super) async fn overview(
    State(app): State<AppState>,
    State(console): State<Arc<Console>>,
    Extension(session): Extension<Session>,
    Query(q): Query<OverviewQuery>,
) -> Result<Markup, Refusal> {
    let live = live(&app, &console).await?;
    if q.live.is_some() {
        return Ok(live);
    }
    let body = html! {
        h1 { "Overview" }
        div #live data-refresh="/console/?live=1" data-every=(REFRESH_SECS) { (live) }
    };
    Ok(page(&session, "Overview", "/console/", body))
}

async fn live(app: &AppState, console: &Console) -> Result<Markup, Refusal> {
    let stats = console.stats(app).await.map_err(client::store_failure)?;
    let now = app.clock.now_ms();
    let schedules: Vec<crate::wire::Schedule> = client::get_as(app, "/v2/schedules").await?;
    // Paused schedules have no next time.
    let mut next: Vec<(i64, crate::wire::Schedule)> = schedules
        .into_iter()
        .filter_map(|s| Some((s.next_schedule_time?, s)))
        .collect();
    next.sort_by_key(|(at, _)| *at);
    next.truncate(5);
    let counts = [
        ("Waiting", stats.waiting, "/console/messages?state=CREATED"),
        ("Due now", stats.due, "/console/messages?state=CREATED"),
        ("In flight", stats.in_flight, "/console/messages?state=ACTIVE"),
        ("Retrying", stats.retrying, "/console/messages?state=RETRY"),
        ("DLQ", stats.dlq_entries, "/console/dlq"),
    ];
    // Sampled here too, so the chart is current even between the stats refresher's rounds.
    app.metrics.sample_throughput(now);
    let hour = app.metrics.throughput.last_hour(now);
    Ok(html! {
        div.stats {
            @for (label, n, href) in counts {
                a.stat href=(href) { span.n { (shown_count(n)) } span.l { (label) } }
            }
            div.stat { span.n { @if let Some(due) = stats.oldest_due_at { (age(now - due)) } @else { "—" } } span.l { "Oldest due message waited" } }
        }
        section.card {
            h2 { "Deliveries and failed attempts per minute, last hour" }
            (chart(&hour))
            p.hint { "This instance's deliveries; " span.legend.good { "delivered" } " " span.legend.bad { "failed attempts" } ". Counts refresh every " (REFRESH_SECS) " s." }
        }
        section.card {
            h2 { "Next schedules to fire" }
            @if next.is_empty() {
                (layout::empty("No active schedules.", html! { a href="/console/schedules/new" { "Create a schedule" } }))
            } @else {
                ul.compact { @for (at, s) in &next {
                    li {
                        (layout::time(*at)) " "
                        a.mono href={"/console/schedules#" (encode(&s.schedule_id))} { (s.schedule_id) }
                        " " code { (s.cron) }
                    }
                } }
            }
        }
    })
}

/// Counts stop at 100,000 (the store counts no further): shown as "100,000+".
fn shown_count(n: i64) -> String {
    let mut shown = layout::grouped(n);
    if n >= 100_000 {
        shown.push('+');
    }
    shown
}

fn age(ms: i64) -> String {
    let secs = ms.max(0) / 1000;
    match secs {
        0..=59 => format!("{secs} s"),
        60..=3599 => format!("{} min", secs / 60),
        _ => format!("{} h {} min", secs / 3600, secs % 3600 / 60),
    }
}

/// Two bars a minute (delivered, failed attempts), scaled to the busiest minute.
fn chart(hour: &[MinuteCounts]) -> Markup {
    const H: f64 = 120.0;
    const SLOT: f64 = 10.0;
    let peak = hour.iter().map(|m| m.delivered.max(m.failed)).max().unwrap_or(0).max(1);
    let height = |n: u64| (n as f64 / peak as f64 * (H - 4.0)).max(if n > 0 { 1.0 } else { 0.0 });
    let total_delivered: u64 = hour.iter().map(|m| m.delivered).sum();
    let total_failed: u64 = hour.iter().map(|m| m.failed).sum();
    let label =
        format!("Last hour: {total_delivered} delivered, {total_failed} failed attempts; busiest minute {peak}.");
    html! {
        figure.chart {
            svg viewBox="0 0 600 122" role="img" aria-label=(label) preserveAspectRatio="none" {
                line x1="0" y1="120.5" x2="600" y2="120.5" stroke="currentColor" stroke-opacity="0.3" {}
                @for (i, m) in hour.iter().enumerate() {
                    @let x = i as f64 * SLOT;
                    rect x=(format!("{:.1}", x + 1.0)) y=(format!("{:.1}", H - height(m.delivered))) width="4" height=(format!("{:.1}", height(m.delivered))) fill="#1f9d55" {
                        title { (m.delivered) " delivered" }
                    }
                    rect x=(format!("{:.1}", x + 5.0)) y=(format!("{:.1}", H - height(m.failed))) width="4" height=(format!("{:.1}", height(m.failed))) fill="#d64545" {
                        title { (m.failed) " failed attempts" }
                    }
                }
            }
            figcaption { span { "60 min ago" } span { (label) } span { "now" } }
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn counts_are_grouped_and_capped_counts_say_so() {
        assert_eq!(super::shown_count(0), "0");
        assert_eq!(super::shown_count(1234), "1,234");
        assert_eq!(super::shown_count(100_000), "100,000+");
        assert_eq!(super::age(125_000), "2 min");
    }
}

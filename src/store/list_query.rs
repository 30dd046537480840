//! The list queries (`message_list`, `dlq_list`, `event_list`) and their search windows, built for either
//! database. One impl carries the bounds both databases meet (they bind text, and 32- and 64-bit integers),
//! so that each builder need not repeat them.

use std::marker::PhantomData;

use sqlx::{Database, Encode, QueryBuilder, Type};

use super::filter::{push_filter, Dialect};
use super::model::{DlqPage, EventPage, ListWindow, MessagePage, Order};

/// The select of `event_list`, shared by both databases (it has no placeholders).
const EVENT_SELECT: &str = "
-- event_list: log entries joined with their message
select m.*, e.id as event_id, e.time as event_time, e.state as event_state, e.response_status as event_status,
       e.error as event_error, e.next_delivery_time as event_next,
       e.response_header as event_response_header, e.response_body as event_response_body
from message_events e join messages m on m.id = e.message_id
where true";

/// The builders; `DB` is inferred from where the query runs.
pub(crate) struct ListQuery<'a, DB>(PhantomData<&'a DB>);

impl<'a, DB> ListQuery<'a, DB>
where
    DB: Database,
    String: Encode<'a, DB> + Type<DB>,
    &'a str: Encode<'a, DB> + Type<DB>,
    i64: Encode<'a, DB> + Type<DB>,
    i32: Encode<'a, DB> + Type<DB>,
{
    /// The whole `event_list` query for either database.
    pub(crate) fn events(page: &EventPage, dialect: &Dialect) -> QueryBuilder<'a, DB> {
        let mut qb = QueryBuilder::new(EVENT_SELECT);
        push_filter(&mut qb, &page.filter, "e.time", dialect);
        if !page.states.is_empty() {
            qb.push(" and e.state in (");
            let mut states = qb.separated(", ");
            for state in &page.states {
                states.push_bind(state.as_str().to_string());
            }
            states.push_unseparated(")");
        }
        Self::push_page(&mut qb, "e.id", page.cursor, page.until, page.order, page.count);
        qb
    }

    /// The whole `message_list` query for either database. States are fixed SQL fragments, never input.
    pub(crate) fn messages(page: &MessagePage, dialect: &Dialect) -> QueryBuilder<'a, DB> {
        use crate::domain::state::ShownState;
        let mut qb = QueryBuilder::new(
            "
-- message_list: messages by the filters of bulk cancel, in id (creation) order
select m.* from messages m where true",
        );
        push_filter(&mut qb, &page.filter, "m.created_at", dialect);
        if !page.states.is_empty() {
            let conditions: Vec<&str> = page
                .states
                .iter()
                .map(|state| match state {
                    ShownState::Created => "(m.state = 'pending' and m.attempt = 0)",
                    ShownState::Retry => "(m.state = 'pending' and m.attempt > 0)",
                    ShownState::Active => "(m.state = 'in_progress' and not m.cancel_requested)",
                    ShownState::CancelRequested => "(m.state = 'in_progress' and m.cancel_requested)",
                    ShownState::Delivered => "m.state = 'delivered'",
                    ShownState::Failed => "m.state = 'failed'",
                    ShownState::Canceled => "m.state = 'canceled'",
                })
                .collect();
            qb.push(format!(" and ({})", conditions.join(" or ")));
        }
        let (cursor, until) = (page.cursor.clone(), page.until.clone());
        Self::push_page(&mut qb, "m.id", cursor, until, page.order, page.count);
        qb
    }

    /// The whole `dlq_list` query for either database (`dlq_get` is a page of the one entry): entries joined
    /// with their message; the cursor is the last id of the previous page.
    pub(crate) fn dlq(page: &DlqPage, dialect: &Dialect) -> QueryBuilder<'a, DB> {
        let mut qb = QueryBuilder::new(
            "
-- dlq_list / dlq_get: DLQ entries joined with their message
select m.*, d.dlq_id, d.response_status, d.response_header, d.response_body, d.error as dlq_error,
       d.created_at as dlq_created_at
from dlq d join messages m on m.id = d.message_id
where true",
        );
        push_filter(&mut qb, &page.filter, "d.created_at", dialect);
        let (cursor, until) = (page.cursor.clone(), page.until.clone());
        Self::push_page(&mut qb, "d.dlq_id", cursor, until, page.order, page.count);
        qb
    }

    /// Rows after `cursor` (the last `id_column` of the previous page) up to `until` (the end of the search
    /// window) in `order`, at most `count`.
    fn push_page<Id>(
        qb: &mut QueryBuilder<'a, DB>,
        id_column: &str,
        cursor: Option<Id>,
        until: Option<Id>,
        order: Order,
        count: i64,
    ) where
        Id: 'a + Encode<'a, DB> + Type<DB>,
    {
        let (after, up_to, direction) = match order {
            Order::EarliestFirst => (">", "<=", "asc"),
            Order::LatestFirst => ("<", ">=", "desc"),
        };
        if let Some(cursor) = cursor {
            qb.push(format!(" and {id_column} {after} ")).push_bind(cursor);
        }
        if let Some(until) = until {
            qb.push(format!(" and {id_column} {up_to} ")).push_bind(until);
        }
        qb.push(format!(" order by {id_column} {direction} limit "))
            .push_bind(count);
    }

    /// The `list_window_end` query for either database: the id (as text) of the `rows`th row past the cursor.
    pub(crate) fn window_end(window: &ListWindow<'a>, rows: i64) -> QueryBuilder<'a, DB> {
        let (table, column, order) = match *window {
            ListWindow::Messages { order, .. } => ("messages", "id", order),
            ListWindow::Dlq { order, .. } => ("dlq", "dlq_id", order),
            ListWindow::Events { order, .. } => ("message_events", "id", order),
        };
        let (after, direction) = match order {
            Order::EarliestFirst => (">", "asc"),
            Order::LatestFirst => ("<", "desc"),
        };
        let mut qb = QueryBuilder::new(format!(
            "
-- list_window_end: the last row a filtered list page may look at
select cast({column} as text) from {table} where true"
        ));
        match *window {
            ListWindow::Messages {
                after: Some(cursor), ..
            }
            | ListWindow::Dlq {
                after: Some(cursor), ..
            } => {
                qb.push(format!(" and {column} {after} ")).push_bind(cursor);
            }
            ListWindow::Events {
                after: Some(cursor), ..
            } => {
                qb.push(format!(" and {column} {after} ")).push_bind(cursor);
            }
            _ => {}
        }
        qb.push(format!(" order by {column} {direction} limit 1 offset "))
            .push_bind(rows - 1);
        qb
    }
}

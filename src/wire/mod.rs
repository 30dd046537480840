//! The JSON shapes of the REST API (`/v2`, spec §3–§11), one type per answer and per request body, shared by the handlers, the
//! OpenAPI document and the command-line client. Field names are the wire names of the spec; optional
//! fields are omitted, never `null`. Nothing here reads the database: handlers build these from the store's
//! read models.

mod body;
mod bulk;
mod groups;
mod log;
mod message;
mod requests;
mod resources;
mod results;
mod schedule;
mod shown;
mod workflow;

pub use body::Body;
pub use bulk::{BulkAction, BulkActionAccepted, BulkActionPage, BulkFilter, BulkKind, BulkState};
pub use groups::{Callbacks, Labels, Routing};
pub use log::{LogEntry, LogPage};
pub use message::{DlqMessage, DlqPage, FlowLimits, Message, MessagePage};
pub use requests::{BatchItem, BulkBody, EndpointRequest, EndpointsBody, GroupHeadersBody, HeaderValues, QueueUpsert};
pub use resources::{Endpoint, FlowControlInfo, GlobalParallelism, Health, Queue, SigningKeys, UrlGroup};
pub use results::{Cancelled, Deleted, Empty, ErrorBody, PublishAnswer, Published, Retried, RetriedMessage, RunNow};
pub use schedule::{Schedule, ScheduleCreated, ScheduleState};
pub use workflow::{
    HistoryStep, NotifiedWaiter, RerunRuns, RunEnded, RunInvoker, RunsCanceled, StepLogGroup, TriggerItem, Triggered,
    WaitRequest, WaiterShown, WorkflowRunLog, WorkflowRunLogs,
};

/// A header map as QStash shows it: canonical name → values (spec §0.2).
pub type HeaderMap = std::collections::BTreeMap<String, Vec<String>>;

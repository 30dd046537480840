//! Destinations and callbacks the policy refuses are answered with 400 before anything is stored. Names are
//! judged again, with their addresses, each time the delivery client resolves them.

use super::error::ApiError;
use crate::domain::callback::Callback;
use crate::domain::destination::{Destination, DestinationUrl};
use crate::domain::options::MessageOptions;
use crate::state::AppState;

/// The destination (when it is a URL) and the callbacks of one message.
pub fn check(app: &AppState, destination: &Destination, options: &MessageOptions) -> Result<(), ApiError> {
    if let Destination::Url(url) = destination {
        check_url(app, url)?;
    }
    check_callbacks(app, options)
}

pub fn check_url(app: &AppState, url: &DestinationUrl) -> Result<(), ApiError> {
    app.destination_policy
        .check_host(url.parsed_host())
        .map_err(|refusal| ApiError::BadRequest(refusal.to_string()))
}

pub fn check_callbacks(app: &AppState, options: &MessageOptions) -> Result<(), ApiError> {
    let callbacks = [
        ("Upstash-Callback", &options.callback),
        ("Upstash-Failure-Callback", &options.failure_callback),
    ];
    for (header, callback) in callbacks {
        if let Some(Callback { url, .. }) = callback {
            let url = DestinationUrl::parse(url)
                .map_err(|e| ApiError::BadRequest(format!("invalid {header} header: {e}")))?;
            check_url(app, &url).map_err(|e| ApiError::BadRequest(format!("invalid {header} header: {e}")))?;
        }
    }
    Ok(())
}

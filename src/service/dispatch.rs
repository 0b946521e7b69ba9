//! The service's entry point: a parsed [`Operation`] served through a request's [`Ctx`]. It lives
//! apart from `service.rs` because it calls the reads and writes, which use `service.rs`.

use crate::error::Error;
use crate::operation::Operation;
use crate::platform::calls::Transport;
use crate::service::{Ctx, Outcome, read, write};

/// Serves one resource operation: the one place an `Operation` meets the reads and writes.
pub async fn run<T: Transport>(ctx: &Ctx<'_, T>, op: Operation) -> Result<Outcome, Error> {
    match op {
        Operation::List { kind, query } => read::list(ctx, kind, &query).await,
        Operation::Search {
            paging,
            projection,
            filter,
        } => read::search(ctx, &paging, &projection, filter.as_ref()).await,
        Operation::Get {
            kind,
            id,
            projection,
        } => read::get(ctx, kind, &id, &projection).await,
        Operation::Create { kind, body } => write::create(ctx, kind, &body).await,
        Operation::Replace { kind, id, body } => write::replace(ctx, kind, &id, &body).await,
        Operation::Patch {
            kind,
            id,
            body,
            projection,
        } => write::patch(ctx, kind, &id, &body, &projection).await,
        Operation::Delete { kind, id } => write::delete(ctx, kind, &id).await,
    }
}

//! The service's entry point: a parsed [`Operation`] served through a request's [`Ctx`]. It lives
//! apart from `service.rs` because it calls the reads and writes, which use `service.rs`.

use crate::error::Error;
use crate::operation::Operation;
use crate::platform::calls::Transport;
use crate::service::{Ctx, Outcome, read, write};

/// Serves one resource operation: the one place an `Operation` meets the reads and writes.
///
/// Each operation's future is boxed: unboxed, this future would be as large as the largest of
/// them (a PATCH's, over 8 KiB) whatever the operation, and the request's future, which holds it
/// and is moved by value several times on every request (into hyper's dispatcher, the budget's
/// scope, the timeout), with it; boxed, a GET allocates and copies only its own.
pub async fn run<T: Transport>(ctx: &Ctx<'_, T>, op: Operation) -> Result<Outcome, Error> {
    match op {
        Operation::List { kind, query } => Box::pin(read::list(ctx, kind, &query)).await,
        Operation::Search {
            paging,
            projection,
            filter,
        } => Box::pin(read::search(ctx, &paging, &projection, filter.as_ref())).await,
        Operation::Get {
            kind,
            id,
            projection,
        } => Box::pin(read::get(ctx, kind, &id, &projection)).await,
        Operation::Create { kind, body } => Box::pin(write::create(ctx, kind, &body)).await,
        Operation::Replace { kind, id, body } => {
            Box::pin(write::replace(ctx, kind, &id, &body)).await
        }
        Operation::Patch {
            kind,
            id,
            body,
            projection,
        } => Box::pin(write::patch(ctx, kind, &id, &body, &projection)).await,
        Operation::Delete { kind, id } => Box::pin(write::delete(ctx, kind, &id)).await,
    }
}

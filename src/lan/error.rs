//! How a LAN session fails.

use thiserror::Error;

use super::frame::FrameError;
use crate::ids::FeedId;
use crate::node::NodeError;

#[derive(Debug, Error)]
pub enum SessionError {
    #[error(transparent)]
    Frame(#[from] FrameError),
    #[error(transparent)]
    Node(#[from] NodeError),
    #[error("protocol violation: {0}")]
    Protocol(String),
    #[error("{0} is blocked; session refused")]
    Blocked(FeedId),
    #[error("already in a session with {0}")]
    Duplicate(FeedId),
    #[error("{0} refused: {1}")]
    Full(FeedId, super::limits::Refusal),
    #[error(
        "{0} ended the session before it began: it may have blocked you, or have no room for \
         another session now. Try again later, or carry a stick"
    )]
    EndedEarly(FeedId),
}

impl From<crate::store::StoreError> for SessionError {
    fn from(e: crate::store::StoreError) -> Self {
        Self::Node(e.into())
    }
}
